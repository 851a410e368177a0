"""The `citeqa` command line: translates flags into configuration and calls the library."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_RUNS = Path(os.environ.get("CITEQA_CACHE", Path.home() / ".cache" / "citeqa")) / "train"


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
            "--run reader-v1 --epochs 2 --learning-rate 1e-4 --negative-ratio 0.5 "
            "--max-length 256 --stride 128 --batch-size 32 --export qa/models/reader\n\n"
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
    p.add_argument("--negative-ratio", type=float, default=0.5, help="share of questions also paired with a same-article paragraph lacking the answer")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--checkpoint-minutes", type=float, default=10.0)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps")
    p.add_argument("--limit-questions", type=int, default=None, help="use only the first N questions (smoke runs)")


def run_train_reader(args) -> int:
    from qa.training import TrainingConfig, train_reader

    for name in args.train_files:
        if not Path(name).is_file():
            raise UsageError(f"training file not found: {name}")
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
        seed=args.seed,
        checkpoint_minutes=args.checkpoint_minutes,
        max_steps=args.max_steps,
        limit_questions=args.limit_questions,
    )
    state = train_reader(config, resume=args.resume, warm_start=args.warm_start, export_to=args.export)
    print(f"done: {state.global_step} steps in {state.seconds / 3600:.2f} h; checkpoint in {run_dir}")
    return 0


class UsageError(ValueError):
    """A bad command-line value; printed as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citeqa", description="Extractive question answering over your articles, with citations.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_reader(sub)
    return parser


COMMANDS = {"train-reader": run_train_reader}


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
