"""The measured tables of benchmarks/README.md, rendered as Markdown from the reports that
benchmarks/run_eval.py and benchmarks/index_speed.py wrote (missing rows print as "to be measured").

    python benchmarks/eval_tables.py [--results benchmarks/results]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run_eval import DEPTHS, MODES  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TODO = "to be measured"


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def _f(value, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _threshold(report: dict) -> str:
    """The run's abstention setting: a span score, or a probability (shown in %) when the reader is calibrated."""
    value = report.get("threshold")
    if value is None:
        return "none"
    return f"p ≥ {100 * value:.0f} %" if report.get("threshold_scale") == "probability" else f"{value:.2f}"


def _runtime(report: dict) -> str:
    """The reader backend a run used, and its early-stop score when it had one."""
    settings = report.get("settings", {})
    stop = (settings.get("early_stop") or {}).get("score")
    return str(settings.get("reader_backend", "–")) + ("" if stop is None else f", early stop {_f(stop, 2)}")


def _provenance(reports: list[dict]) -> list[str]:
    if not reports:
        return []
    first = reports[0]
    machine, versions = first.get("machine", {}), first.get("versions", {})
    lines = [
        f"- machine: {machine.get('processor')}, {machine.get('cpus')} CPUs, torch threads {machine.get('torch_threads')} "
        f"({machine.get('platform')})",
        f"- date: {min(r.get('date', '') for r in reports)[:10]} – {max(r.get('date', '') for r in reports)[:10]}",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        f"- reader: `{first.get('settings', {}).get('reader')}`",
    ]
    return lines


def _measured_table(header: list[str], rows: list[tuple[list[str], str]], results: Path, cells) -> list[str]:
    """The header, then one row per (leading cells, report name): `cells(lead, report)` after them, or
    "to be measured" when the report is missing; then where and how the reports were made."""
    columns = header[1].count("---")
    lines, found = list(header), []
    for lead, name in rows:
        r = _load(results / f"{name}.json")
        if r is None:
            lines.append("| " + " | ".join([*lead, TODO]) + " |" + " |" * (columns - len(lead) - 1))
            continue
        found.append(r)
        lines.append("| " + " | ".join([*lead, *cells(lead, r)]) + " |")
    commands = [r["settings"].get("command") for r in found]
    return lines + [""] + _provenance(found) + [f"- `{c}`" for c in commands if c]


def reader_table(results: Path) -> list[str]:
    header = ["| set | reader runtime | questions | threshold | EM | F1 | HasAns EM / F1 | NoAns EM / F1 | best threshold (F1 there) | p50 ms | p95 ms | questions/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [(["SQuAD v1.1 dev"], "reader-only-v1.1-dev"), (["SQuAD v1.1 dev"], "reader-only-v1.1-dev-int8"),
            (["SQuAD v2.0 dev"], "reader-only-v2.0-dev"),
            (["TyDi QA GoldP English dev (out of domain)"], "reader-only-tydi-en-dev")]

    def cells(_lead: list[str], r: dict) -> list[str]:
        split = lambda p: f"{_f(r.get(f'{p}_exact_match'))} / {_f(r.get(f'{p}_f1'))}" if f"{p}_total" in r else "–"  # noqa: E731
        return [_runtime(r), f"{r['questions']:,}", _threshold(r), _f(r["exact_match"]), _f(r["f1"]), split("HasAns"), split("NoAns"),
                f"{_f(r['best_threshold'], 2)} ({_f(r['best_threshold_f1'])})", _f(r["latency_ms"]["p50"], 0),
                _f(r["latency_ms"]["p95"], 0), _f(r["questions_per_s"], 2)]

    return _measured_table(header, rows, results, cells)


def open_table(results: Path) -> list[str]:
    header = ["| retrieval | k | reader runtime | questions | threshold | EM | F1 | recall@k | recall@5 | MRR | passages read | retrieval / early-stop / reader misses | p50 ms | p95 ms | questions/s |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows = [([mode, str(k)], f"open-v1.1-dev-{mode}-k{k}") for mode in MODES for k in DEPTHS]
    rows.append((["hybrid, reading all k (no early stop)", "5"], "open-v1.1-dev-hybrid-k5-read-all"))

    def cells(lead: list[str], r: dict) -> list[str]:
        k, misses = lead[1], r["misses"]
        return [_runtime(r), f"{r['questions']:,}", _threshold(r), _f(r["exact_match"]), _f(r["f1"]), _f(r.get(f"recall@{k}")), _f(r.get("recall@5")),
                _f(r.get("mrr"), 3), _f(r.get("passages_read_mean"), 2),
                f"{misses['retrieval_miss']:,} / {misses.get('early_stop_miss', 0):,} / {misses['reader_miss']:,}",
                _f(r["latency_ms"]["p50"], 0), _f(r["latency_ms"]["p95"], 0), _f(r["questions_per_s"], 2)]

    return _measured_table(header, rows, results, cells)


def index_table(results: Path) -> list[str]:
    """One row per file and embedder, from every `index-speed*.json` report (`benchmarks/index_speed.py --out`)."""
    lines = ["| paragraphs of | embedder | paragraphs | chunks | seconds | chunks/s | peak RSS MB | index MB |",
             "|---|---|---|---|---|---|---|---|"]
    reports = [_load(path) for path in sorted(results.glob("index-speed*.json"))]
    reports = [r for r in reports if r]
    for label, name in (("SQuAD v1.1 dev", "dev-v1.1.json"), ("SQuAD v1.1 train", "train-v1.1.json")):
        runs = [run for report in reports for run in report.get("runs", []) if Path(run["file"]).name == name]
        if not runs:
            lines.append(f"| {label} | {TODO} | | | | | | |")
        for run in sorted(runs, key=lambda r: r["chunks_per_s"]):
            lines.append(f"| {label} | {run.get('embedding_backend', 'torch')} | {run['documents']:,} | {run['chunks']:,} | "
                         f"{_f(run['seconds'])} | {_f(run['chunks_per_s'], 0)} | {_f(run['peak_rss_mb'], 0)} | "
                         f"{_f(run['index_mb'], 1)} |")
    for report in reports:
        machine = report.get("machine", {})
        lines += ["", f"- machine: {machine.get('processor')}, {machine.get('cpus')} CPUs ({machine.get('platform')}); "
                      f"date {report.get('date', '')[:10]}; `{report.get('command')}`"]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    sections = [("Reader only (each question against its own paragraph)", reader_table(args.results)),
                ("Open SQuAD v1.1 dev (index of its 2,067 paragraphs)", open_table(args.results)),
                ("Indexing speed and peak memory", index_table(args.results))]
    for title, lines in sections:
        print(f"### {title}\n")
        print("\n".join(lines).rstrip() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
