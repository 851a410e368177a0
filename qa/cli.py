"""The `citeqa` command line: translates flags into configuration and calls the library."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from embeddings.cache import cache_root
from embeddings.embedder import EMBEDDING_BACKENDS
from qa.cli_types import dropout_or_base, positive_float, positive_int, share
from qa.reader import READER_BACKENDS

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa.eval_cli import add_eval, run_eval  # noqa: E402  (argparse only; heavy imports stay lazy)

DEFAULT_RUNS = cache_root() / "train"


def _default_base_model() -> str:
    from embeddings.models import default_embedding_model_path

    return str(default_embedding_model_path())


def add_train_reader(sub) -> None:
    p = sub.add_parser(
        "train-reader",
        help="fine-tune an encoder into the extractive reader (checkpoints; --resume)",
        description=(
            "Fine-tune a transformers encoder folder into a question-answering reader. "
            "The shipped reader was produced by:\n\n"
            "  citeqa train-reader ../shared/qa-data/squad-v1.1/train-v1.1.json "
            "../shared/qa-data/tydiqa-goldp-en/english_tydiqa_train.json "
            "--run reader-v1 --epochs 1 --learning-rate 1e-4 --negative-ratio 0.5 "
            "--max-length 256 --stride 128 --batch-size 32 --export qa/models/reader\n\n"
            "then continued in segments, each from the previous one's exported weights: the second "
            "epoch in two (step 4,725 to 7,100, then to 9,450), then one with perturbed-question "
            "negatives (to 11,000):\n\n"
            "  citeqa train-reader ../shared/qa-data/squad-v1.1/train-v1.1.json "
            "../shared/qa-data/tydiqa-goldp-en/english_tydiqa_train.json "
            "--run reader-v2b --learning-rate 1e-4 --negative-ratio 0.5 "
            "--max-length 256 --stride 128 --batch-size 32 --schedule-steps 7100 "
            "--resume --warm-start qa/models/reader --export qa/models/reader\n"
            "  (the same with --run reader-v2c --schedule-steps 9450,\n"
            "   then with --run reader-v3 --perturbed-ratio 0.5 --schedule-steps 11000)\n"
            "and, from reader-v3's weights, one more segment, reader-v5 (to 12,000):\n\n"
            "  citeqa train-reader ../shared/qa-data/squad-v1.1/train-v1.1.json "
            "../shared/qa-data/tydiqa-goldp-en/english_tydiqa_train.json "
            "--run reader-v5 --learning-rate 2e-4 --negative-ratio 0.5 --perturbed-ratio 1.0 "
            "--max-length 256 --stride 128 --batch-size 32 --schedule-steps 12000 "
            "--resume --warm-start qa/models/reader --export runs/reader-v5\n\n"
            "(keep each export as its own folder: runs/reader-v2c, runs/reader-v3). Their mean, then "
            "reader-d1 (to 11,500), which distils the ensemble of reader-v2c, -v3 and -v5 into it:\n\n"
            "  citeqa average-readers runs/reader-v3 runs/reader-v5 --out runs/soup-35\n"
            "  citeqa train-reader ../shared/qa-data/squad-v1.1/train-v1.1.json "
            "../shared/qa-data/tydiqa-goldp-en/english_tydiqa_train.json "
            "--run reader-d1 --learning-rate 4e-4 --negative-ratio 0.5 --perturbed-ratio 0.5 "
            "--max-length 256 --stride 128 --batch-size 32 --seed 15 --schedule-steps 11500 "
            "--resume --warm-start runs/soup-35 --teacher runs/reader-v2c --teacher runs/reader-v3 "
            "--teacher runs/reader-v5 --export runs/reader-d1\n\n"
            "The shipped weights are the mean of reader-d1 and that soup:\n\n"
            "  citeqa average-readers runs/reader-d1 runs/soup-35 --out qa/models/reader\n\n"
            "rerun with --resume after an interruption; if the run folder is gone, add "
            "--warm-start qa/models/reader to continue from the exported weights."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("train_files", nargs="+", help="training sets in SQuAD JSON format")
    p.add_argument("--base", default=None, help="encoder folder to fine-tune (default: the packaged all-MiniLM-L6-v2)")
    p.add_argument("--run", default="reader", help="run name; its folder is ~/.cache/citeqa/train/RUN")
    p.add_argument("--run-dir", default=None, help="explicit run folder (overrides --run)")
    p.add_argument("--resume", action="store_true", help="continue the run from its last checkpoint")
    p.add_argument("--warm-start", default=None, help="exported reader folder to continue from when the checkpoint is gone")
    p.add_argument("--export", default=None, help="write the trained reader folder here when done")
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=128)
    p.add_argument("--negative-ratio", type=share, default=0.5, help="share of questions also paired with a same-article paragraph lacking the answer")
    p.add_argument("--answer-removed-ratio", type=share, default=0.0,
                   help="share of questions also paired with their own paragraph minus the sentences holding the "
                        "answer, labelled unanswerable (SQuAD 2.0-like hard negatives; default 0)")
    p.add_argument("--perturbed-ratio", type=share, default=0.0,
                   help="share of questions also rewritten so that their own paragraph cannot answer them (a word "
                        "swapped for its antonym, or the question negated), labelled unanswerable (default 0)")
    p.add_argument("--attention-dropout", type=dropout_or_base, default=0.0,
                   help="dropout on attention probabilities (default 0: torch's fused CPU attention, ~1.6x faster "
                        "steps); 'base' keeps the base model's")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--schedule-steps", type=positive_int, default=None,
                   help="end the learning-rate schedule (linear decay to 0) at this global step instead of after "
                        "--epochs: train in segments that each end annealed (with --warm-start or --resume)")
    p.add_argument("--limit-questions", type=int, default=None, help="use only the first N questions (smoke runs)")
    p.add_argument("--teacher", action="append", default=[], metavar="DIR",
                   help="reader folder to distil from (repeat for an ensemble: their mean probabilities); "
                        "it must share the student's vocabulary. Each teacher adds about a third to a step's time")
    p.add_argument("--distill-weight", type=share, default=0.5,
                   help="weight of the teachers' soft targets against the gold span (default 0.5)")
    p.add_argument("--distill-temperature", type=positive_float, default=2.0,
                   help="softmax temperature of the soft targets (default 2)")


def run_train_reader(args) -> int:
    from qa.training import TrainingConfig, train_reader

    for name in args.train_files:
        if not Path(name).is_file():
            raise UsageError(f"training file not found: {name}")
    for name in args.teacher:
        if not (Path(name) / "config.json").is_file():
            raise UsageError(f"teacher reader folder not found (no config.json): {name}")
    run_dir = Path(args.run_dir) if args.run_dir else DEFAULT_RUNS / args.run
    config = TrainingConfig(
        base_model=args.base if args.base is not None else _default_base_model(),
        train_files=tuple(str(Path(f).resolve()) for f in args.train_files),
        run_dir=str(run_dir),
        max_length=args.max_length,
        stride=args.stride,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        epochs=args.epochs,
        negative_ratio=args.negative_ratio,
        answer_removed_ratio=args.answer_removed_ratio,
        perturbed_ratio=args.perturbed_ratio,
        attention_dropout=args.attention_dropout,
        seed=args.seed,
        checkpoint_minutes=args.checkpoint_minutes,
        max_steps=args.max_steps,
        schedule_steps=args.schedule_steps,
        limit_questions=args.limit_questions,
        teachers=tuple(str(Path(t).resolve()) for t in args.teacher),
        distill_weight=args.distill_weight,
        distill_temperature=args.distill_temperature,
    )
    state = train_reader(config, resume=args.resume, warm_start=args.warm_start, export_to=args.export)
    print(f"done: {state.global_step} steps in {state.seconds / 3600:.2f} h; checkpoint in {run_dir}")
    return 0


def add_export_reader(sub) -> None:
    p = sub.add_parser("export-reader", help="write a training run's latest checkpoint as a reader folder (fp16)")
    p.add_argument("--run", default="reader", help="run name under ~/.cache/citeqa/train")
    p.add_argument("--run-dir", default=None, help="explicit run folder (overrides --run)")
    p.add_argument("--out", default="qa/models/reader", help="reader folder to write (replaced atomically)")
    p.add_argument("--threshold", type=float, default=None, help="no-answer threshold to store (default: keep the one in --out, else 0)")


def run_export_reader(args) -> int:
    from qa.reader import reader_settings
    from qa.training import export_checkpoint

    run_dir = Path(args.run_dir) if args.run_dir else DEFAULT_RUNS / args.run
    if not (run_dir / "checkpoint.pt").is_file():
        raise UsageError(f"no checkpoint in {run_dir}")
    threshold = args.threshold
    if threshold is None:
        threshold = float(reader_settings(Path(args.out)).get("no_answer_threshold", 0.0))
    out = export_checkpoint(run_dir, args.out, no_answer_threshold=threshold)
    print(f"exported {run_dir} to {out} (no-answer threshold {threshold})")
    return 0


def add_average_readers(sub) -> None:
    p = sub.add_parser("average-readers", help="average the weights of readers of one training lineage into one (a model soup)",
                       description="Write the weighted mean of reader folders fine-tuned from one run (fp16). The soup "
                                   "keeps the first folder's tokenizer and window settings; calibrate it afterwards "
                                   "(calibrate-reader, calibrate-early-stop, quantize-reader).")
    p.add_argument("readers", nargs="+", metavar="DIR", help="reader folders (at least two)")
    p.add_argument("--weights", type=float, nargs="+", default=None, metavar="W",
                   help="one positive weight per folder, normalised to sum 1 (default: equal)")
    p.add_argument("--out", required=True, metavar="DIR", help="reader folder to write (replaced atomically)")


def run_average_readers(args) -> int:
    from qa.soup import average_readers, soup_weights

    try:
        soup_weights(len(args.readers), args.weights)
    except ValueError as err:
        raise UsageError(str(err)) from err
    for folder in args.readers:
        if not (Path(folder) / "config.json").is_file():
            raise UsageError(f"not a reader folder (no config.json): {folder}")
    out = average_readers(args.readers, args.out, args.weights)
    print(f"averaged {len(args.readers)} readers into {out}; calibrate it before use (citeqa calibrate-reader ...)")
    return 0


def add_calibrate_reader(sub) -> None:
    p = sub.add_parser("calibrate-reader", help="fit the reader's no-answer threshold on SQuAD v2.0 dev, or in the open setting (half the articles)")
    p.add_argument("questions", help="SQuAD v2.0 JSON (e.g. ../shared/qa-data/squad-v2.0/dev-v2.0.json); with --open any "
                                     "SQuAD JSON (e.g. ../shared/qa-data/squad-v1.1/dev-v1.1.json)")
    p.add_argument("--reader", default="qa/models/reader", metavar="DIR", help="reader folder whose config.json gets the threshold")
    p.add_argument("--open", action="store_true",
                   help="fit on open retrieval instead: every other article indexed, questions about the rest must abstain")
    p.add_argument("--k", type=positive_int, default=5, help="with --open: passages read per question (default 5)")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="with --open: sentence-transformers model folder")
    p.add_argument("--limit", type=positive_int, default=None, help="at most N questions from each half, spread evenly over its articles (quick runs)")
    p.add_argument("--dry-run", action="store_true", help="report without writing the threshold")
    p.add_argument("--report", default=None, metavar="FILE.json", help="write the figures here")


def _print_summary(summary: dict, report: str | None) -> int:
    """A calibration's figures as JSON on stdout, and into `report` when given."""
    import json

    text = json.dumps(summary, indent=2)
    if report:
        Path(report).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def run_calibrate_reader(args) -> int:
    from qa.calibration import calibrate_reader

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    if not (Path(args.reader) / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {args.reader}")
    if args.open:
        from qa.calibration import calibrate_open_threshold

        summary = calibrate_open_threshold(args.reader, args.questions, k=args.k, write=not args.dry_run,
                                           limit_per_half=args.limit, embedding_model=args.embedding_model, progress=True)
    else:
        summary = calibrate_reader(args.reader, args.questions, write=not args.dry_run, limit_per_half=args.limit, progress=True)
    return _print_summary(summary, args.report)


def add_calibrate_early_stop(sub) -> None:
    p = sub.add_parser("calibrate-early-stop",
                       help="fit the score at which the reader stops after the first passages (open SQuAD, half the articles)")
    p.add_argument("questions", help="SQuAD JSON (e.g. ../shared/qa-data/squad-v1.1/dev-v1.1.json); retrieval runs over its own paragraphs")
    p.add_argument("--reader", default="qa/models/reader", metavar="DIR", help="reader folder whose config.json gets the score")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="sentence-transformers model folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--k", type=positive_int, default=5, help="passages retrieved per question (default 5)")
    p.add_argument("--first", type=positive_int, default=2, help="passages read before the reader may stop (default 2)")
    p.add_argument("--max-f1-loss", type=float, default=0.2, help="F1 points the early stop may cost on the fitting half (default 0.2)")
    p.add_argument("--limit", type=positive_int, default=None, help="at most N questions from each half, spread evenly over its articles (quick runs)")
    p.add_argument("--dry-run", action="store_true", help="report without writing the score")
    p.add_argument("--report", default=None, metavar="FILE.json", help="write the figures here")


def run_calibrate_early_stop(args) -> int:
    import math

    from qa.early_stop import calibrate_early_stop

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    if not (Path(args.reader) / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {args.reader}")
    if not math.isfinite(args.max_f1_loss) or args.max_f1_loss < 0:
        raise UsageError(f"--max-f1-loss must be a number >= 0, got {args.max_f1_loss}")
    summary = calibrate_early_stop(args.reader, args.questions, k=args.k, first=args.first,
                                   max_f1_loss=args.max_f1_loss, limit_per_half=args.limit, write=not args.dry_run,
                                   embedding_model=args.embedding_model, progress=True)
    return _print_summary(summary, args.report)


def add_quantize_reader(sub) -> None:
    p = sub.add_parser("quantize-reader", help="export the reader to ONNX (int8 by default) for faster CPU answers")
    p.add_argument("--reader", default=None, metavar="DIR", help="reader folder (default: the shipped reader)")
    p.add_argument("--backend", choices=("onnx-int8", "onnx"), default="onnx-int8", help="int8 weights (default) or fp32")
    p.add_argument("--out", default=None, metavar="FILE", help="ONNX file to write (default: the cache the reader loads from)")
    p.add_argument("--set-default", action="store_true",
                   help="record this backend in the reader's config.json, so `auto` uses it (after measuring it)")


def run_quantize_reader(args) -> int:
    import time

    from qa.onnx_export import cached_onnx_path, export_onnx
    from qa.reader import shipped_reader_path, store_reader_settings

    model_dir = Path(args.reader) if args.reader is not None else shipped_reader_path()
    if not (model_dir / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {model_dir}")
    out = Path(args.out) if args.out is not None else cached_onnx_path(model_dir, args.backend)
    started = time.monotonic()
    export_onnx(model_dir, out, quantize=args.backend == "onnx-int8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
    if args.set_default:
        store_reader_settings(model_dir, backend=args.backend)
        print(f"{model_dir}/config.json: citeqa.backend = {args.backend}")
    return 0


class UsageError(ValueError):
    """A bad command-line value; printed as one line, exit status 2."""


def _add_model_flags(p) -> None:
    p.add_argument("--index", default=None, metavar="DIR", help="index folder (default: the bundled articles' index in ~/.cache/citeqa)")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="sentence-transformers model folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--embedding-backend", choices=EMBEDDING_BACKENDS, default=None,
                   help="how the embedder runs: torch (sentence-transformers) or onnx (same vectors, faster); default auto = onnx where the model allows")
    p.add_argument("--store", choices=("faiss", "milvus"), default=None,
                   help="where the index lives: faiss (a folder, the default) or milvus (then --index names its collections)")
    p.add_argument("--store-uri", default=None, metavar="URI",
                   help="milvus: a Milvus Lite file (FILE.db) or http://host:19530 (default: ~/.cache/citeqa/milvus.db)")


def _config_from(args, **extra):
    from qa.config import Config

    fields = {"index_dir": args.index, "embedding_model": args.embedding_model}
    if getattr(args, "store", None) is not None:
        fields["store"] = args.store
    if getattr(args, "store_uri", None) is not None:
        fields["store_uri"] = args.store_uri
    for name, flag in (("k", "k"), ("retrieval_mode", "mode"), ("reader_model", "reader"), ("no_answer_threshold", "threshold"),
                       ("reader_backend", "reader_backend"), ("embedding_backend", "embedding_backend"),
                       ("early_stop_score", "early_stop_score")):
        value = getattr(args, flag, None)
        if value is not None:
            fields[name] = value
    fields.update(extra)
    try:
        return Config(**fields)
    except ValueError as err:
        raise UsageError(str(err)) from err


def add_index(sub) -> None:
    p = sub.add_parser("index", help="add files or folders to an index (txt, md, html, pdf, json, jsonl)")
    p.add_argument("paths", nargs="*", help="files or folders to add")
    _add_model_flags(p)
    p.add_argument("--remove", action="append", default=[], metavar="DOC_ID", help="remove a document (repeatable)")
    p.add_argument("--rebuild", action="store_true", help="start from an empty index instead of adding to it")
    p.add_argument("--chunk-words", type=positive_int, default=None, help="words per chunk for a new index (default 120)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS", help="wait this long for another writer to finish")
    p.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivfpq"), default=None,
                   help="vector index of a new or rebuilt index: exact (flat), HNSW or IVF-PQ; auto (default) picks "
                        "by chunk count (flat up to 100k, hnsw up to 5M); an existing index keeps its type")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="read, chunk and embed with Ray Data (pip install \"citeqa[ray]\"): on the cluster at ADDRESS, "
                        "or on a local Ray instance without one")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="--ray: embedding actors, each loading the model once (default: one per CPU of the cluster)")


def _print_skipped(report) -> None:
    for skipped in report.skipped if report is not None else ():
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)


def run_index(args) -> int:
    import itertools

    from corpus.loaders import stream_path
    from qa.config import embedder_from_config
    from qa.stores import update_store

    if not args.paths and not args.remove:
        raise UsageError("nothing to do: give files or folders to index, or --remove DOC_ID")
    config = _config_from(args, **({"chunk_words": args.chunk_words} if args.chunk_words is not None else {}),
                          **({"index_type": args.index_type} if args.index_type is not None else {}))
    for path in args.paths:
        if not Path(path).exists():
            raise UsageError(f"no such file or folder: {path}")
    if args.workers is not None and args.ray is None:
        raise UsageError("--workers is for --ray indexing")
    if args.ray is not None:
        return run_index_ray(args, config)
    report = stream_path(*args.paths) if args.paths else None  # documents stream: huge inputs stay out of memory
    documents = iter(report) if report is not None else iter(())
    first = next(documents, None)
    if args.paths and first is None and not args.remove:
        _print_skipped(report)
        raise UsageError(f"nothing could be indexed from {', '.join(args.paths)}: the index is unchanged")
    embedder = embedder_from_config(config)
    documents = itertools.chain([first], documents) if first is not None else documents
    update, where = update_store(config, embedder, add=documents, remove=args.remove, rebuild=args.rebuild,
                                 wait_seconds=args.wait, progress=True)
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


def run_index_ray(args, config) -> int:
    """`citeqa index PATH --ray [ADDRESS]`: Ray Data reads, chunks and embeds; this process writes the store."""
    from qa.config import embedder_from_config
    from qa.ray_indexing import index_with_ray

    if args.remove:
        raise UsageError("--remove works without --ray (only adding is distributed)")
    result = index_with_ray(config, args.paths, address=None if args.ray == "local" else args.ray,
                            workers=args.workers, rebuild=args.rebuild, wait_seconds=args.wait,
                            embedder=embedder_from_config(config), progress=True)
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


def add_ask(sub) -> None:
    p = sub.add_parser("ask", help="answer a question from the indexed documents, with citations")
    p.add_argument("question")
    _add_model_flags(p)
    p.add_argument("--k", type=positive_int, default=None, help="passages to read (default 5)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default=None, help="retrieval (default hybrid)")
    p.add_argument("--reader", default=None, metavar="DIR", help="transformers question-answering model folder (default: the shipped reader)")
    p.add_argument("--threshold", type=float, default=None, help="abstain below this score (default: the reader's calibrated threshold)")
    p.add_argument("--reader-backend", choices=READER_BACKENDS, default=None,
                   help="how the reader runs: torch (fp32), onnx (fp32), onnx-int8; default: the one recorded for the model")
    p.add_argument("--early-stop-score", type=float, default=None, metavar="SCORE",
                   help="stop after the first 2 passages when an answer there scores this (default: the reader's "
                        "calibrated score; inf reads all k)")
    p.add_argument("--json", action="store_true", help="print the Answer as JSON")


def format_answer(answer, *, mark=("[[", "]]")) -> str:
    """The terminal rendering of an Answer: the answer, its score, numbered citations with the span marked."""
    lines = []
    if answer.text is None:
        lines.append("The documents don't say. Closest passages:")
    else:
        lines.append(f"{answer.text}")
        read = f", {answer.passages_read} passage{'s' if answer.passages_read != 1 else ''} read" if answer.passages_read else ""
        lines.append(f"  confidence {answer.confidence:.0%} (score {answer.score:.2f}{read})")
    for number, citation in enumerate(answer.citations, start=1):
        head = f"[{number}] {citation.title}"
        details = [d for d in (citation.date, citation.source, f"page {citation.page}" if citation.page else None) if d]
        if answer.text is not None:
            details.append(f"chars {citation.start}-{citation.end}")
        lines.append(head + (f" ({', '.join(details)})" if details else ""))
        a, b = citation.answer_start_in_passage, citation.answer_end_in_passage
        passage = citation.passage
        if b > a:
            passage = passage[:a] + mark[0] + passage[a:b] + mark[1] + passage[b:]
        lines.append("    " + " ".join(passage.split()))
    return "\n".join(lines)


def run_ask(args) -> int:
    import json

    from qa.pipeline import Assistant

    assistant = Assistant.from_config(_config_from(args))
    answer = assistant.answer(args.question)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        print(format_answer(answer))
    return 0


def add_info(sub) -> None:
    p = sub.add_parser("info", help="what an index holds: documents, chunks, models, sizes")
    _add_model_flags(p)
    p.add_argument("--json", action="store_true")


def run_info(args) -> int:
    from qa.config import embedder_from_config
    from embeddings.index import DocumentIndex
    from qa.defaults import default_index_dir

    config = _config_from(args)
    if config.store == "milvus":
        return run_info_milvus(args, config)
    if config.index_dir is not None:
        index = DocumentIndex.open(config.index_dir)
    else:
        embedder = embedder_from_config(config)
        index = DocumentIndex.open(default_index_dir(embedder, config), embedder=embedder)
    sizes = {str(p.relative_to(index.generation)): p.stat().st_size for p in sorted(index.generation.rglob("*")) if p.is_file()}
    info = {**_info_of(index, str(index.root)), "generation": index.generation.name,
            "vector_index": index.manifest.get("vector_index", {"type": "flat"}), "bytes": sum(sizes.values()), "files": sizes}
    vector_index = dict(info["vector_index"])
    kind = vector_index.pop("type")
    return _print_info(args, info, f"({info['generation']}, created {info['created']})", [
        f"vectors     {kind}" + (f" ({', '.join(f'{k} {v}' for k, v in vector_index.items())})" if vector_index else ""),
        f"size        {info['bytes'] / 1e6:.2f} MB"])


def run_info_milvus(args, config) -> int:
    """`citeqa info --store milvus`: where the index is, its counts, models and documents."""
    from qa.config import embedder_from_config
    from qa.stores import open_index

    index = open_index(config, embedder_from_config(config))
    info = {**_info_of(index, index.root), "store": "milvus", "vector_index": index.manifest["vector_index"]}
    return _print_info(args, info, f"(Milvus, {info['vector_index']} vectors, created {info['created']})", [])


def _info_of(index, where: str) -> dict:
    """What `citeqa info` reports of any index: counts, models, chunking and the document list."""
    documents = index.documents()
    return {"index": where, "documents": len(documents), "chunks": len(index),
            "embedding_model": index.manifest["embedding_model"], "chunking": index.manifest["chunking"],
            "created": index.manifest["created"],
            "document_list": [{"doc_id": d.doc_id, "title": d.title, "date": d.date, "source": d.source,
                               "chunks": d.chunks, "sources": list(d.sources)} for d in documents.values()]}


def _print_info(args, info: dict, headline: str, store_lines: list[str]) -> int:
    import json

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
        print(f"  {d['doc_id']}  {d['date'] or '----------'}  {d['chunks']:>4} chunks  {d['title']}")
    return 0


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="open the chat in the browser (Gradio)")
    p.add_argument("--host", default=None, help="address to listen on (default $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=positive_int, default=None, help="port (default $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--index", default=None, metavar="DIR", help="index folder (default: the bundled articles)")
    p.add_argument("--store", choices=("faiss", "milvus"), default=None,
                   help="milvus: serve from Milvus (any number of replicas can share one server); --index names the collections")
    p.add_argument("--store-uri", default=None, metavar="URI", help="milvus: a Milvus Lite FILE.db or http://host:19530")


def run_serve(args) -> int:
    import ui  # the chat is the top layer; the CLI only starts it

    argv = ["--index", args.index] if args.index else []
    if args.host is not None:
        argv += ["--host", args.host]
    if args.port is not None:
        argv += ["--port", str(args.port)]
    if args.store is not None:
        argv += ["--store", args.store]
    if args.store_uri is not None:
        argv += ["--store-uri", args.store_uri]
    ui.main(argv)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citeqa", description="Extractive question answering over your articles, with citations.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    add_index(sub)
    add_ask(sub)
    add_info(sub)
    add_eval(sub)
    add_serve(sub)
    add_train_reader(sub)
    add_export_reader(sub)
    add_average_readers(sub)
    add_calibrate_reader(sub)
    add_calibrate_early_stop(sub)
    add_quantize_reader(sub)
    return parser


COMMANDS = {"index": run_index, "ask": run_ask, "info": run_info, "eval": run_eval, "serve": run_serve,
            "train-reader": run_train_reader, "export-reader": run_export_reader,
            "average-readers": run_average_readers,
            "calibrate-reader": run_calibrate_reader,
            "calibrate-early-stop": run_calibrate_early_stop, "quantize-reader": run_quantize_reader}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # the boundary: one clear line unless --debug
        if args.debug:
            raise
        print(f"citeqa: error: {err}", file=sys.stderr)
        return 2 if isinstance(err, UsageError) else 1


if __name__ == "__main__":
    sys.exit(main())
