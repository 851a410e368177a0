"""`citeqa export`: the indexed documents as JSON Lines, to see exactly what was indexed (either store)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from corpus.files import write_atomically
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
