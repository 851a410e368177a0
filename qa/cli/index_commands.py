"""`citeqa index` and `citeqa info`: write an index, and say what one holds."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from qa.cli.arg_types import positive_int
from qa.cli.options import UsageError, add_index_flags, add_index_type_flag, config_from, terminal_text


def add_index(sub) -> None:
    p = sub.add_parser("index", help="add files or folders to an index (txt, md, html, pdf, json, jsonl)")
    p.add_argument("paths", nargs="*", help="files or folders to add")
    add_index_flags(p)
    p.add_argument("--remove", action="append", default=[], metavar="DOC_ID", help="remove a document (repeatable)")
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


def _print_skipped(report) -> None:
    for skipped in report.skipped if report is not None else ():
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)


def run_index(args, models) -> int:
    from corpus.loaders import stream_path
    from qa.indexing.stores import write_index

    if args.repair or args.undo:
        return run_index_history(args, models)
    if not args.paths and not args.remove:
        raise UsageError("nothing to do: give files or folders to index, or --remove DOC_ID")
    config = config_from(args)
    for path in args.paths:
        if not Path(path).exists():
            raise UsageError(f"no such file or folder: {path}")
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers is for --ray indexing")
    if args.ray is not None:
        return run_index_ray(args, config, models)
    report = stream_path(*args.paths) if args.paths else None  # documents stream: huge inputs stay out of memory
    documents = iter(report) if report is not None else iter(())
    first = next(documents, None)
    if args.paths and first is None and not args.remove:
        _print_skipped(report)
        raise UsageError(f"nothing could be indexed from {', '.join(args.paths)}: the index is unchanged")
    documents = itertools.chain([first], documents) if first is not None else documents
    update, where = write_index(config.index_target, models.embedder(config), add=documents, remove=args.remove,
                                 rebuild=args.rebuild, wait_seconds=args.wait, progress=True)
    _print_skipped(report)
    duplicates = list(report.duplicates) if report else []
    duplicates += [d for d in update.duplicates if d not in duplicates]
    for source, doc_id in duplicates:
        print(f"duplicate {source}: same text as document {doc_id}, indexed once")
    missing = sorted(set(args.remove) - set(update.removed))
    for doc_id in missing:
        print(f"not in the index: {doc_id}", file=sys.stderr)
    print(
        f"{where}: added {len(update.added)} documents ({update.chunks_embedded} chunks embedded), "
        f"removed {len(update.removed)}, skipped {len(report.skipped) if report else 0} files in {update.seconds:.1f} s"
    )
    return 1 if missing and not update.changed else 0


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
