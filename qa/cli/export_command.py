"""`citeqa export`: the indexed documents as JSON Lines, to see exactly what was indexed (either store)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from qa.cli.options import add_index_flags, config_from

def add_export(sub) -> None:
    p = sub.add_parser("export", help="write the indexed documents as JSON Lines (doc_id, title, date, source, url, text)")
    add_index_flags(p)
    p.add_argument("--out", metavar="FILE", default=None,
                   help="write to FILE (atomically: a temporary file beside it, renamed over it) instead of stdout")


def export_lines(index):
    """One JSON line per indexed document, in the order they were added (`PassageIndex.documents` and
    `document_text` only, so FAISS and Milvus indexes alike)."""
    for document in index.documents().values():
        record = {"doc_id": document.doc_id, "title": document.title, "date": document.date,
                  "source": document.source, "url": document.url, "text": index.document_text(document.doc_id)}
        yield json.dumps(record, ensure_ascii=False) + "\n"


def run_export(args, models) -> int:
    from qa.indexing.stores import open_index

    config = config_from(args)
    target = config.index_target
    # An index named by --index opens without the embedding model; the bundled one's location depends on it.
    embedder = models.embedder(config) if target.bundled else None
    index = open_index(target, embedder, check_model=False)
    if args.out is None:
        sys.stdout.writelines(export_lines(index))
        sys.stdout.flush()
        return 0
    count = write_atomically(Path(args.out), export_lines(index))
    print(f"exported {count} document{'' if count == 1 else 's'} from {index.location} to {args.out}", file=sys.stderr)
    return 0


def write_atomically(path: Path, lines) -> int:
    """Write `lines` to a temporary file beside `path`, fsync it, then rename it over `path`: readers see the old
    file or the whole new one, never a part. Returns the number of lines; on any failure the temporary file goes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False)
    count = 0
    try:
        with handle:
            for line in lines:
                handle.write(line)
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _file_mode(path))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return count


def _file_mode(path: Path) -> int:
    """The permissions the written file gets: those of the file it replaces, else the usual ones under the umask
    (a temporary file starts private)."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
