"""The commands that make the shipped reader: train, export, average, calibrate and quantize it."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from embeddings.cache import cache_root
from qa.cli.arg_types import dropout_or_base, positive_float, positive_int, share
from qa.cli.options import UsageError, config_from


def default_runs_dir() -> Path:
    """Where training runs live unless --run-dir says otherwise (read when a command runs: $CITEQA_CACHE may change)."""
    return cache_root() / "train"


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


def run_train_reader(args, models) -> int:
    from qa.training.train import TrainingConfig, train_reader

    for name in args.train_files:
        if not Path(name).is_file():
            raise UsageError(f"training file not found: {name}")
    for name in args.teacher:
        if not (Path(name) / "config.json").is_file():
            raise UsageError(f"teacher reader folder not found (no config.json): {name}")
    run_dir = Path(args.run_dir) if args.run_dir else default_runs_dir() / args.run
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


def run_export_reader(args, models) -> int:
    from qa.answering.reader import recorded_settings
    from qa.training.train import export_checkpoint

    run_dir = Path(args.run_dir) if args.run_dir else default_runs_dir() / args.run
    if not (run_dir / "checkpoint.pt").is_file():
        raise UsageError(f"no checkpoint in {run_dir}")
    threshold = args.threshold
    if threshold is None:
        threshold = float(recorded_settings(Path(args.out)).get("no_answer_threshold", 0.0))
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


def run_average_readers(args, models) -> int:
    from qa.training.soup import average_readers, soup_weights

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
    text = json.dumps(summary, indent=2)
    if report:
        Path(report).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def run_calibrate_reader(args, models) -> int:
    from qa.training.calibration import calibrate_reader

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    if not (Path(args.reader) / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {args.reader}")
    if args.open:
        from qa.training.calibration import calibrate_open_threshold

        summary = calibrate_open_threshold(args.reader, args.questions, k=args.k, write=not args.dry_run,
                                           limit_per_half=args.limit, embedding_model=args.embedding_model,
                                           embedder=models.embedder(config_from(args)), progress=True)
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


def run_calibrate_early_stop(args, models) -> int:
    import math

    from qa.training.early_stop import calibrate_early_stop

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    if not (Path(args.reader) / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {args.reader}")
    if not math.isfinite(args.max_f1_loss) or args.max_f1_loss < 0:
        raise UsageError(f"--max-f1-loss must be a number >= 0, got {args.max_f1_loss}")
    summary = calibrate_early_stop(args.reader, args.questions, k=args.k, first=args.first,
                                   max_f1_loss=args.max_f1_loss, limit_per_half=args.limit, write=not args.dry_run,
                                   embedding_model=args.embedding_model,
                                   embedder=models.embedder(config_from(args)), progress=True)
    return _print_summary(summary, args.report)


def add_quantize_reader(sub) -> None:
    p = sub.add_parser("quantize-reader", help="export the reader to ONNX (int8 by default) for faster CPU answers")
    p.add_argument("--reader", default=None, metavar="DIR", help="reader folder (default: the shipped reader)")
    p.add_argument("--backend", choices=("onnx-int8", "onnx"), default="onnx-int8", help="int8 weights (default) or fp32")
    p.add_argument("--out", default=None, metavar="FILE", help="ONNX file to write (default: the cache the reader loads from)")
    p.add_argument("--set-default", action="store_true",
                   help="record this backend in the reader's config.json, so `auto` uses it (after measuring it)")


def run_quantize_reader(args, models) -> int:
    import time

    from qa.answering.onnx_export import cached_onnx_path, export_onnx
    from qa.answering.reader import shipped_reader_path, record_settings

    model_dir = Path(args.reader) if args.reader is not None else shipped_reader_path()
    if not (model_dir / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {model_dir}")
    out = Path(args.out) if args.out is not None else cached_onnx_path(model_dir, args.backend)
    started = time.monotonic()
    export_onnx(model_dir, out, quantize=args.backend == "onnx-int8")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.1f} s")
    if args.set_default:
        record_settings(model_dir, backend=args.backend)
        print(f"{model_dir}/config.json: citeqa.backend = {args.backend}")
    return 0


def add_train_calibrator(sub) -> None:
    p = sub.add_parser(
        "train-calibrator",
        help="fit the answer calibrator (probability that an answer is right) and ship it in the reader folder",
        description=(
            "Run question sets the reader never trained on through the product, reader-only and open (every "
            "other article indexed: questions about the rest must abstain), save every candidate answer with its "
            "features and whether it is right, choose a model by cross-validation grouped by article on the first "
            "half of each set's articles, and write calibrator.json into the reader folder. The shipped one:\n\n"
            "  citeqa train-calibrator ../shared/qa-data/squad-v1.1/dev-v1.1.json "
            "../shared/qa-data/squad-v2.0/dev-v2.0.json ../shared/qa-data/tydiqa-goldp-en/english_tydiqa_dev.json\n\n"
            "The candidates are saved as they are made (--data), so a stopped run resumes."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("questions", nargs="+", help="SQuAD-format question sets (dev sets: never the reader's training data)")
    p.add_argument("--reader", default="qa/models/reader", metavar="DIR", help="reader folder that gets calibrator.json")
    p.add_argument("--data", default=None, metavar="DIR",
                   help="where the candidates are saved (default: ~/.cache/citeqa/calibrator-data/<reader weights' hash>)")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="sentence-transformers model folder (open runs)")
    p.add_argument("--k", type=positive_int, default=5, help="passages retrieved per question in the open runs (default 5)")
    p.add_argument("--limit", type=positive_int, default=None, help="at most N questions from each half, spread evenly over its articles (quick runs)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the trees (default 0)")
    p.add_argument("--models", default=None, metavar="NAMES",
                   help="the models cross-validated, comma-separated: logistic, trees-NxD (N trees of depth D); "
                        "default: logistic,trees-100x3,trees-200x3,trees-300x4,trees-200x6")
    p.add_argument("--dry-run", action="store_true", help="report without writing calibrator.json")
    p.add_argument("--report", default=None, metavar="FILE.json", help="write the figures here")


def default_calibrator_data_dir(reader_dir: Path) -> Path:
    """Candidates depend on the reader's weights: one folder per weights file."""
    from corpus.files import sha256_file

    weights = sorted(reader_dir.glob("*.safetensors")) or sorted(reader_dir.glob("*.bin"))
    key = sha256_file(weights[0])[:16] if weights else "unknown-weights"
    return cache_root() / "calibrator-data" / key


def run_train_calibrator(args, models) -> int:
    from qa.training.answer_calibration import (MODEL_CHOICES, collect_set, model_choice, set_balance, train_calibrator,
                                                write_calibrator)

    try:
        choices = MODEL_CHOICES if args.models is None else tuple(model_choice(n) for n in args.models.split(","))
    except ValueError as err:
        raise UsageError(str(err)) from err
    reader_dir = Path(args.reader)
    if not (reader_dir / "config.json").is_file():
        raise UsageError(f"not a reader folder (no config.json): {reader_dir}")
    for path in args.questions:
        if not Path(path).is_file():
            raise UsageError(f"question set not found: {path}")
    names = [Path(path).stem for path in args.questions]
    if len(set(names)) != len(names):
        raise UsageError(f"question sets need different file names (their records are saved by name): {', '.join(names)}")
    data_dir = Path(args.data) if args.data is not None else default_calibrator_data_dir(reader_dir)
    config = config_from(args)
    records = []
    for path in args.questions:
        records += collect_set(Path(path), reader_dir, data_dir, k=args.k, embedder=models.embedder(config),
                               limit_per_half=args.limit, progress=True)
    sources = {Path(path).name: sum(r.set_name == Path(path).stem for r in records) for path in args.questions}
    data, report = train_calibrator(records, choices=choices, set_weights=set_balance(records), seed=args.seed,
                                    progress=True, sources=sources)
    report["data"] = str(data_dir)
    if not args.dry_run:
        report["written"] = str(write_calibrator(reader_dir, data))
    return _print_summary(report, args.report)
