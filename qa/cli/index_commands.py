"""`citeqa index` and `citeqa info`: write an index, and say what one holds."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from qa.cli.arg_types import positive_int
from qa.cli.options import UsageError, add_index_flags, add_index_type_flag, config_from, terminal_text


def add_index(sub) -> None:
    p = sub.add_parser("index", help="add files or folders to an index (txt, md, html, pdf, json, jsonl); "
                                     "a folder is mirrored: its new files added, changed ones replaced, gone ones removed")
    p.add_argument("paths", nargs="*", help="files to add, or folders to mirror")
    add_index_flags(p)
    p.add_argument("--remove", action="append", default=[], metavar="DOC_ID|PATH",
                   help="remove a document, or the documents that came from a file or folder (repeatable); "
                        "one not in the index is an error that changes nothing")
    p.add_argument("--rebuild", action="store_true", help="start from an empty index instead of adding to it")
    history = p.add_mutually_exclusive_group()
    history.add_argument("--repair", action="store_true",
                         help="point the index's CURRENT back at its newest generation whose checksums verify "
                              "(when CURRENT is lost or damaged); no PATHs")
    history.add_argument("--undo", action="store_true",
                         help="go back to the generation before the last write (kept until the next write; "
                              "its checksums are verified first); no PATHs")
    p.add_argument("--chunk-words", type=positive_int, default=None, help="words per chunk for a new index (default 120)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for another writer to finish")
    add_index_type_flag(p)
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="read, chunk and embed with Ray Data (pip install \"citeqa[ray]\"): on the cluster at ADDRESS, "
                        "or on a local Ray instance without one")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="--ray: embedding actors, each loading the model once (default: one per CPU of the cluster)")


DOC_ID = re.compile(r"[0-9a-f]{16}")


def _print_skipped(sources) -> None:
    """Each file skipped, with its reason, and each remark on a file that loaded (e.g. an HTML fallback)."""
    for skipped in sources.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for note in sources.notes:
        print(f"note {note.path}: {note.note}", file=sys.stderr)


def _removals(values: list[str]) -> tuple[list[str], list[str]]:
    """`--remove` values as (document ids, absolute paths): a value is an id when it looks like one (16 hex digits)
    and names no file or folder here. A folder is named resolved (as the folders indexed are), a file or a path
    that is gone by its resolved folder and its own name (as the files indexed are)."""
    ids, paths = [], []
    for value in values:
        path = Path(value).expanduser()
        if DOC_ID.fullmatch(value) and not path.exists():
            ids.append(value)
        else:
            path = path.absolute()
            paths.append(str(path.resolve() if path.is_dir() else path.parent.resolve() / path.name))
    return ids, paths


def run_index(args, models) -> int:
    """`citeqa index PATH... --index X`: one atomic write. A folder is mirrored (only what came from it changes);
    a file is added; `--remove` takes document ids and paths, and an unknown one changes nothing."""
    from qa.indexing.stores import SourceFiles, index_exists, sync_index

    if args.repair or args.undo:
        return run_index_history(args, models)
    if not args.paths and not args.remove:
        raise UsageError("nothing to do: give files or folders to index, or --remove DOC_ID|PATH")
    config = config_from(args)
    for path in args.paths:
        if not Path(path).exists():
            raise UsageError(f"no such file or folder: {path}")
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers is for --ray indexing")
    if args.ray is not None:
        return run_index_ray(args, config, models)
    embedder = models.embedder(config)
    sources = SourceFiles(args.paths)  # documents stream, file by file: huge inputs stay out of memory
    found, files = sources.peeked()
    nothing = f"nothing could be indexed from {', '.join(args.paths)}: the index is unchanged"
    if args.paths and not found and not args.remove and not (sources.folders and index_exists(config.index_target, embedder)):
        _print_skipped(sources)
        raise UsageError(nothing)
    remove_ids, remove_paths = _removals(args.remove)
    sync, where = sync_index(config.index_target, embedder, files=files, mirror=sources.folders, remove=remove_ids,
                             remove_paths=remove_paths, strict=True, rebuild=args.rebuild, wait_seconds=args.wait,
                             progress=True)
    update = sync.update
    _print_skipped(sources)
    for label, doc_id, path in sources.duplicates:
        if sync.files.get(path) in ("added", "replaced"):
            print(f"duplicate {label}: same text as document {doc_id}, indexed once")
    for source, doc_id in update.duplicates:
        print(f"duplicate {source}: same text as document {doc_id}, indexed once")
    if args.paths and not found and not args.remove and not update.changed:
        raise UsageError(nothing)
    _print_index_summary(args, sources, sync, where)
    return 0


def _print_index_summary(args, sources, sync, where: str) -> None:
    """One line per folder mirrored ("FOLDER → X: 3 added, 1 replaced, 0 renamed, 2 removed, 40 unchanged",
    counting files), then the write's totals; a single folder and nothing else shares one line with them."""
    update = sync.update
    folders = [(given, folder) for given, folder in zip((p for p in args.paths if Path(p).is_dir()), sources.folders)]
    lines = [f"{given} → {where}: " + ", ".join(f"{n} {outcome}" for outcome, n in sync.counts(folder).items())
             for given, folder in folders]
    totals = (f"added {len(update.added)} documents ({update.chunks_embedded} chunks embedded), "
              f"removed {len(update.removed)}, skipped {len(sources.skipped)} files in {update.seconds:.1f} s")
    if len(lines) == 1 and len(args.paths) == 1 and not args.remove:
        print(f"{lines[0]}; {totals}")
        return
    for line in lines:
        print(line)
    print(f"{where}: {totals}")


def run_index_history(args, models) -> int:
    """`citeqa index --index DIR --repair` / `--undo`: point CURRENT at another kept generation of a FAISS index."""
    from embeddings.index import read_manifest, repair_index, undo_last_write
    from qa.indexing.stores import resolved

    flag = "--repair" if args.repair else "--undo"
    if args.paths or args.remove or args.rebuild or args.ray is not None:
        raise UsageError(f"{flag} takes no PATHs, --remove, --rebuild or --ray: it only changes which generation is live")
    config = config_from(args)
    target = config.index_target
    if target.store != "faiss":
        raise UsageError(f"{flag} is for FAISS index folders (--store faiss)")
    root = Path(target.location if not target.bundled else resolved(target, models.embedder(config)).location)
    name = (repair_index if args.repair else undo_last_write)(root, wait_seconds=args.wait)
    documents = read_manifest(root / name, root)["counts"]["documents"]
    done = "repaired" if args.repair else "undid the last write to"
    print(f"{done} {root}: {name} is live now, holding {documents} document{'' if documents == 1 else 's'}")
    return 0


def run_index_ray(args, config, models) -> int:
    """`citeqa index PATH --ray [ADDRESS]`: Ray Data reads, chunks and embeds; this process writes the store."""
    from qa.indexing.ray_indexing import index_with_ray

    if args.remove:
        raise UsageError("--remove works without --ray (only adding is distributed)")
    result = index_with_ray(config.index_target, args.paths, embedder=models.embedder(config),
                            address=None if args.ray == "local" else args.ray, workers=args.workers,
                            rebuild=args.rebuild, wait_seconds=args.wait, progress=True)
    for path, reason in result.failed:
        print(f"failed {path}: {reason}", file=sys.stderr)
    for source, doc_id in result.duplicates:
        print(f"duplicate {source}: same text as document {doc_id}, indexed once")
    print(
        f"{result.where}: added {result.documents} documents ({result.chunks} chunks embedded by {result.workers} "
        f"Ray worker{'s' if result.workers != 1 else ''}, {result.chunks_per_second:.1f} chunks/s) from {result.files} files, {len(result.failed)} failed, "
        f"in {result.seconds:.1f} s"
    )
    if result.documents == 0 and result.failed:
        return 1
    return 0


def add_info(sub) -> None:
    p = sub.add_parser("info", help="what an index holds: documents, chunks, models, sizes")
    add_index_flags(p)
    p.add_argument("--json", action="store_true")


def run_info(args, models) -> int:
    from qa.indexing.stores import open_index

    config = config_from(args)
    index = open_index(config.index_target, models.embedder(config), check_model=False)
    description = index.description()
    documents = index.documents()
    info = {"index": index.location, "documents": len(documents), "chunks": len(index),
            "embedding_model": description["embedding_model"], "chunking": description["chunking"],
            "created": description["created"],
            "document_list": [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "source": d.source,
                               "chunks": d.chunks, "sources": list(d.sources)} for d in documents.values()]}
    if description["store"] == "milvus":
        info.update(store="milvus", vector_index=description["vector_index"])
        return _print_info(args, info, f"(Milvus, {info['vector_index']} vectors, created {info['created']})", [])
    generation = Path(index.location) / description["generation"]
    sizes = {str(p.relative_to(generation)): p.stat().st_size for p in sorted(generation.rglob("*")) if p.is_file()}
    info.update(generation=description["generation"], vector_index=description["vector_index"],
                bytes=sum(sizes.values()), files=sizes)
    vector_index = dict(info["vector_index"])
    kind = vector_index.pop("type")
    return _print_info(args, info, f"({info['generation']}, created {info['created']})", [
        f"vectors     {kind}" + (f" ({', '.join(f'{k} {v}' for k, v in vector_index.items())})" if vector_index else ""),
        f"size        {info['bytes'] / 1e6:.2f} MB"])


def _print_info(args, info: dict, headline: str, store_lines: list[str]) -> int:
    if args.json:
        print(json.dumps(info, indent=2, ensure_ascii=False))
        return 0
    print(f"index       {info['index']} {headline}")
    print(f"documents   {info['documents']}")
    print(f"chunks      {info['chunks']} (about {info['chunking']['max_words']} words each)")
    print(f"embeddings  {info['embedding_model']['name']} ({info['embedding_model']['dimension']} dimensions)")
    for line in store_lines:
        print(line)
    for d in info["document_list"]:
        print(f"  {d['doc_id']}  {terminal_text(d['date'] or '----------')}  {d['chunks']:>4} chunks  {terminal_text(d['title'])}")
    return 0
