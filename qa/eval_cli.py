"""`citeqa eval`: flags in, an evaluation run out (see qa/evaluation.py and qa/eval_report.py)."""

from __future__ import annotations

import argparse

from embeddings.embedder import EMBEDDING_BACKENDS
from qa.cli_types import positive_int
from qa.reader import READER_BACKENDS

DESCRIPTION = """\
Score the assistant against a question set: exact match and F1 (official SQuAD rules), HasAns/NoAns
when some questions are unanswerable, retrieval recall@1/5/k and MRR, latency, the best abstention
threshold, a risk-coverage curve, and whether each miss was retrieval's or the reader's.

Question sets: SQuAD JSON (v1.1/v2.0), JSONL or CSV with the columns id, question, answers (a list;
empty = unanswerable) and optional context, title.

Open mode (default) runs every question through retrieval and the reader: against --index DIR, else
for a SQuAD JSON file an index of the file's own paragraphs (built once into the cache), else the
bundled articles. --reader-only reads each question against its own paragraph instead.

examples:
  citeqa eval ../shared/qa-data/squad-v1.1/dev-v1.1.json --reader-only
  citeqa eval ../shared/qa-data/squad-v1.1/dev-v1.1.json --mode bm25 --k 10 --report bm25.json --html bm25.html
  citeqa eval my-questions.jsonl --index my-index --predictions predictions.json
"""


def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score the assistant against a question set (SQuAD JSON, JSONL, CSV)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("questions", help="question set file: .json (SQuAD v1.1/v2.0), .jsonl or .csv")
    p.add_argument("--reader-only", action="store_true", help="read each question against its own paragraph (no retrieval)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid", help="retrieval (default hybrid)")
    p.add_argument("--k", type=positive_int, default=5, help="passages the reader reads per question (default 5)")
    subset = p.add_mutually_exclusive_group()
    subset.add_argument("--limit", type=positive_int, default=None, metavar="N", help="only the first N questions, in file order")
    subset.add_argument("--sample", type=positive_int, default=None, metavar="N",
                        help="N questions at even steps through the file, so every article is represented (quicker runs)")
    p.add_argument("--reader", default=None, metavar="DIR", help="transformers question-answering model folder (default: the shipped reader)")
    p.add_argument("--threshold", type=float, default=None, help="abstain below this score (default: the reader's calibrated threshold; --threshold=-inf never abstains)")
    p.add_argument("--reader-backend", choices=READER_BACKENDS, default="auto",
                   help="how the reader runs: torch (fp32), onnx (fp32), onnx-int8; auto = the one recorded for the model")
    p.add_argument("--early-stop-score", type=float, default=None, metavar="SCORE",
                   help="open mode: stop after the first 2 passages when an answer there scores this (default: the "
                        "reader's calibrated score; inf reads all k)")
    p.add_argument("--index", default=None, metavar="DIR", help="index folder to search (open mode)")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="sentence-transformers model folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--embedding-backend", choices=EMBEDDING_BACKENDS, default="auto",
                   help="how the embedder runs: torch (sentence-transformers) or onnx (same vectors, faster); auto = onnx where the model allows")
    p.add_argument("--predictions", default=None, metavar="FILE", help='write {id: answer} ("" = abstained) for the official scripts')
    p.add_argument("--report", default=None, metavar="FILE.json", help="write every figure, settings and versions as JSON")
    p.add_argument("--html", default=None, metavar="FILE", help="write a self-contained HTML report")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for the models (default: torch's choice); latency depends on it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def command_line(args) -> str:
    """The run as one reproducible `citeqa eval` command (recorded in the report)."""
    import shlex

    words = ["citeqa", "eval", args.questions]
    if args.reader_only:
        words.append("--reader-only")
    else:
        words += ["--mode", args.mode, "--k", str(args.k)]
    if args.reader_backend != "auto":
        words += ["--reader-backend", args.reader_backend]
    if args.embedding_backend != "auto":
        words += ["--embedding-backend", args.embedding_backend]
    if args.early_stop_score is not None:
        words.append(f"--early-stop-score={args.early_stop_score}")
    if args.threshold is not None:
        words.append(f"--threshold={args.threshold}")  # "=": a value such as -inf would read as a flag
    for flag, value in (("--limit", args.limit), ("--sample", args.sample), ("--reader", args.reader), ("--index", args.index),
                        ("--embedding-model", args.embedding_model), ("--threads", args.threads)):
        if value is not None:
            words += [flag, str(value)]
    return " ".join(shlex.quote(w) for w in words)


def run_eval(args) -> int:
    from pathlib import Path

    from qa.cli import UsageError
    from qa.eval_report import format_table, write_html
    from qa.evaluation import EvalOptions, evaluate, write_json

    if not Path(args.questions).is_file():
        raise UsageError(f"question set not found: {args.questions}")
    if args.reader_only and args.index is not None:
        raise UsageError("--reader-only reads each question's own paragraph: it takes no --index")
    if args.reader is not None and not Path(args.reader).is_dir():
        raise UsageError(f"reader folder not found: {args.reader}")
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    options = EvalOptions(
        questions=args.questions, reader_only=args.reader_only, retrieval_mode=args.mode, k=args.k,
        limit=args.limit, sample=args.sample, reader=args.reader, threshold=args.threshold, index=args.index,
        embedding_model=args.embedding_model, reader_backend=args.reader_backend,
        embedding_backend=args.embedding_backend, early_stop_score=args.early_stop_score,
    )
    run = evaluate(options, progress=not args.no_progress, command=command_line(args))
    print(format_table(run.report))
    if args.predictions:
        write_json(args.predictions, run.predictions)
        print(f"predictions: {args.predictions}")
    if args.report:
        write_json(args.report, run.report)
        print(f"report: {args.report}")
    if args.html:
        write_html(args.html, run.report, run.results)
        print(f"html: {args.html}")
    return 0
