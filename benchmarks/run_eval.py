"""Run the `citeqa eval` benchmarks of benchmarks/README.md, one `citeqa eval` process per row.

Rows: reader-only SQuAD v1.1 dev (all 10,570 questions), v2.0 dev (11,873) and TyDi QA GoldP English dev
(440, out of domain); open SQuAD v1.1 dev over
an index of its own 2,067 paragraphs with dense, BM25 and hybrid retrieval at k = 1, 5, 10. Each row
writes NAME.json (the report), NAME.predictions.json (official format) and NAME.html into --out; a row
whose report exists is skipped unless --force. The paragraphs' index is built by the first open row and
reused by the others (it lives in $CITEQA_CACHE/eval-indexes/).

    python benchmarks/run_eval.py                       # everything (hours on a laptop CPU)
    python benchmarks/run_eval.py --only reader-only    # rows whose name contains "reader-only"
    python benchmarks/run_eval.py --limit 200 --out /tmp/smoke --force   # a quick smoke run
    python benchmarks/run_eval.py --dry-run             # print the commands only
    python benchmarks/eval_tables.py                    # the README tables from the reports

Measure on an otherwise idle machine: latency and questions/s are wall-clock figures.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "qa-data"
MODES = ("dense", "bm25", "hybrid")
DEPTHS = (1, 5, 10)


def rows(squad_v1: Path, squad_v2: Path, tydi: Path) -> list[tuple[str, list[str]]]:
    """(name, `citeqa eval` arguments) of every benchmark row, in run order."""
    # v1.1 has no unanswerable questions: there the reader always answers (--threshold=-inf), as the
    # published v1.1 systems do; v2.0 runs with the reader's calibrated threshold. Every report also
    # carries the F1-maximising threshold for its set.
    always = "--threshold=-inf"
    found = [
        # fp32 whatever runtime the reader folder records, as the baseline of the int8 row
        ("reader-only-v1.1-dev", [str(squad_v1), "--reader-only", always, "--reader-backend", "onnx"]),
        # the int8 decision (issue 8): int8 becomes the default only if it loses <= 1 F1 against this row's fp32
        ("reader-only-v1.1-dev-int8", [str(squad_v1), "--reader-only", always, "--reader-backend", "onnx-int8"]),
        ("reader-only-v2.0-dev", [str(squad_v2), "--reader-only"]),
        # every TyDi GoldP question has an answer in its passage
        ("reader-only-tydi-en-dev", [str(tydi), "--reader-only", always]),
    ]
    for mode in MODES:
        for k in DEPTHS:
            found.append((f"open-v1.1-dev-{mode}-k{k}", [str(squad_v1), "--mode", mode, "--k", str(k), always]))
    # the default reads 2 passages first and the rest only when unsure; this row reads all 5 every time
    found.append(("open-v1.1-dev-hybrid-k5-read-all",
                  [str(squad_v1), "--mode", "hybrid", "--k", "5", always, "--early-stop-score=inf"]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--squad-v1", type=Path, default=DATA / "squad-v1.1" / "dev-v1.1.json")
    parser.add_argument("--squad-v2", type=Path, default=DATA / "squad-v2.0" / "dev-v2.0.json")
    parser.add_argument("--tydi", type=Path, default=DATA / "tydiqa-goldp-en" / "english_tydiqa_dev.json")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT", help="run only rows whose name contains TEXT (repeatable)")
    parser.add_argument("--limit", type=int, default=None, help="first N questions per row (smoke runs; the README rows use all)")
    parser.add_argument("--sample", type=int, default=None, help="N questions per row at even steps through the set (every article represented)")
    parser.add_argument("--reader", default=None, metavar="DIR", help="reader folder (default: the shipped reader)")
    parser.add_argument("--threshold", type=float, default=None, help="abstention threshold (default: the reader's)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the models (default: torch's choice)")
    parser.add_argument("--force", action="store_true", help="rerun rows whose report exists")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    args = parser.parse_args()

    selected = [(name, extra) for name, extra in rows(args.squad_v1, args.squad_v2, args.tydi)
                if not args.only or any(text in name for text in args.only)]
    if not selected:
        print("no row matches --only", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for name, extra in selected:
        report = args.out / f"{name}.json"
        command = [sys.executable, "-m", "qa.cli", "eval", *extra]
        for flag, value in (("--limit", args.limit), ("--sample", args.sample), ("--reader", args.reader),
                            ("--threads", args.threads)):
            if value is not None:
                command += [flag, str(value)]
        if args.threshold is not None:
            command.append(f"--threshold={args.threshold}")  # overrides the row's own
        command += ["--report", str(report), "--predictions", str(args.out / f"{name}.predictions.json"),
                    "--html", str(args.out / f"{name}.html")]
        print(f"\n== {name}\n$ {shlex.join(command)}", flush=True)
        if args.dry_run:
            continue
        if report.exists() and not args.force:
            print(f"skipped: {report} exists (--force reruns it)")
            continue
        started = time.monotonic()
        status = subprocess.call(command, cwd=ROOT)
        print(f"{name}: exit {status} after {time.monotonic() - started:.0f} s", flush=True)
        if status != 0:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
