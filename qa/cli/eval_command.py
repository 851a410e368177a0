"""`citeqa eval`: flags in, an evaluation run out (see qa/evaluation/run.py and qa/evaluation/report.py)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from qa.cli.arg_types import positive_int
from qa.cli.options import UsageError, add_answer_flags, add_index_flags, config_from

DESCRIPTION = """\
Score the assistant against a question set: exact match and F1 (official SQuAD rules), HasAns/NoAns
when some questions are unanswerable, retrieval recall@1/5/k and MRR, latency, the best abstention
threshold, a risk-coverage curve, and whether each miss was retrieval's or the reader's; how well the
confidence predicts being right: expected calibration error (ECE), a reliability diagram, and the share of
questions answerable at 80 % and 90 % right (each question answered with its best guess).

With a reader that has an answer calibrator (calibrator.json), answers carry a probability of being right:
the run abstains below --min-confidence (default: the calibrator's setting), and thresholds and the
risk-coverage curve are in that probability; without one, --threshold (a span score) decides.

Question sets: SQuAD JSON (v1.1/v2.0), JSONL or CSV with the columns id, question, answers (a list;
empty = unanswerable) and optional context, title.

Open mode (default) runs every question through retrieval and the reader: against --index DIR, else
for a SQuAD JSON file an index of the file's own paragraphs (built once into the cache), else the
bundled articles. --reader-only reads each question against its own paragraph instead.

examples:
  citeqa eval ../shared/qa-data/squad-v1.1/dev-v1.1.json --reader-only
  citeqa eval ../shared/qa-data/squad-v1.1/dev-v1.1.json --mode bm25 --k 10 --report bm25.json --html bm25.html
  citeqa eval my-questions.jsonl --index my-index --predictions predictions.json
  citeqa eval ../shared/qa-data/squad-v2.0/dev-v2.0.json --reader-only --min-confidence 70% --details d.jsonl

Question ids must be unique: a set that repeats one is refused (predictions are keyed by id).
"""

DETAILS_HELP = ('write one JSON line per question: {"id", "prediction", "confidence", "abstained", "exact_match", '
                '"f1"}. "prediction" is the best guess and "confidence" its confidence, given even where the run '
                'abstained; "exact_match" (0 or 1) and "f1" (0-1) score what the run predicted, as the report '
                'does: an abstention scores as the empty answer, right only on an unanswerable question')


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score the assistant against a question set (SQuAD JSON, JSONL, CSV)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("questions", help="question set file: .json (SQuAD v1.1/v2.0), .jsonl or .csv")
    p.add_argument("--reader-only", action="store_true", help="read each question against its own paragraph (no retrieval)")
    subset = p.add_mutually_exclusive_group()
    subset.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N questions, in file order")
    subset.add_argument("--sample", type=positive_int, default=None, metavar="N",
                        help="N questions at even steps through the file, so every article is represented (quicker runs)")
    add_index_flags(p)
    add_answer_flags(p)
    p.add_argument("--predictions", default=None, metavar="FILE", help='write {id: answer} ("" = abstained) for the official scripts')
    p.add_argument("--report", default=None, metavar="FILE.json", help="write every figure, settings and versions as JSON")
    p.add_argument("--html", default=None, metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--details", default=None, metavar="FILE.jsonl", help=DETAILS_HELP)
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for the models (default: torch's choice); latency depends on it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def command_line(args, config) -> str:
    """The run as one reproducible `citeqa eval` command (recorded in the report)."""
    import shlex

    words = ["citeqa", "eval", args.questions]
    if args.reader_only:
        words.append("--reader-only")
    else:
        words += ["--mode", config.retrieval_mode, "--k", str(config.k)]
    if config.reader_backend != "auto":
        words += ["--reader-backend", config.reader_backend]
    if config.embedding_backend != "auto":
        words += ["--embedding-backend", config.embedding_backend]
    if config.early_stop_score is not None:
        words.append(f"--early-stop-score={config.early_stop_score}")
    if config.no_answer_threshold is not None:
        words.append(f"--threshold={config.no_answer_threshold}")  # "=": a value such as -inf would read as a flag
    if config.min_confidence is not None:
        words += ["--min-confidence", repr(float(config.min_confidence))]
    for flag, value in (("--limit", args.limit), ("--sample", args.sample), ("--reader", config.reader_model),
                        ("--index", config.index_dir), ("--embedding-model", config.embedding_model),
                        ("--threads", args.threads)):
        if value is not None:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


OUTPUT_FLAGS = (("predictions", "--predictions"), ("details", "--details"), ("report", "--report"), ("html", "--html"))


def output_problem(path: str) -> str | None:
    """Why a file could not be written at `path` after a run, or None: it names a folder, a folder on its
    way is a file, or the nearest existing folder is not writable. Missing folders are fine (they are made)."""
    target = Path(path)
    if path.endswith(("/", os.sep)) or target.name in ("", ".", ".."):
        return "names a folder; give a file name"
    if target.is_dir():
        return "is a folder; give a file name"
    folder = target.parent
    while not folder.exists() and not folder.is_symlink() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None


def check_outputs(args) -> None:
    """Refuse, before the run starts, an output file that could not be written after it, two outputs on one
    file, and an output over the question set."""
    seen: dict[str, str] = {os.path.realpath(args.questions): "the question set"}
    for attribute, flag in OUTPUT_FLAGS:
        path = getattr(args, attribute, None)
        if path is None:
            continue
        problem = output_problem(path)
        if problem is not None:
            raise UsageError(f"{flag} {path}: {problem}")
        real = os.path.realpath(path)
        if real in seen:
            raise UsageError(f"{flag} {path}: the same file as {seen[real]}; give each output its own file")
        seen[real] = flag


def run_eval(args, models) -> int:
    from qa.evaluation.report import format_table, write_html
    from qa.evaluation.run import EvalOptions, evaluate, write_details, write_json

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    check_outputs(args)
    if args.reader_only and args.index is not None:
        raise UsageError("--reader-only reads each question's own paragraph: it takes no --index")
    if args.reader is not None and not Path(args.reader).is_dir():
        raise UsageError(f"reader folder not found: {args.reader}")
    config = config_from(args)
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    options = EvalOptions(questions=args.questions, reader_only=args.reader_only, limit=args.limit, sample=args.sample)
    embedder = None if args.reader_only else models.embedder(config)
    run = evaluate(options, config, embedder=embedder, progress=not args.no_progress, command=command_line(args, config))
    print(format_table(run.report))
    if args.predictions:
        write_json(args.predictions, run.predictions)
        print(f"predictions: {args.predictions}")
    if args.details:
        write_details(args.details, run.results)
        print(f"details: {args.details}")
    if args.report:
        write_json(args.report, run.report)
        print(f"report: {args.report}")
    if args.html:
        write_html(args.html, run.report, run.results)
        print(f"html: {args.html}")
    return 0
