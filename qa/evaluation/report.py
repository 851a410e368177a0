"""How an evaluation report is shown: a compact terminal table, and one self-contained HTML page
(figures, risk–coverage plot, reliability diagram and latency histogram as inlined PNGs, the worst misses
with their passages)."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from pathlib import Path

from corpus.files import write_atomically
from qa.evaluation.scoring import PROBABILITY, SCORE, QuestionResult, ranking_values


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _num(value, digits: int = 1, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, int):
        return f"{value:,}{suffix}"
    return f"{value:.{digits}f}{suffix}"


def _percent(share) -> str:
    """A share (0–1) as a percentage: "42.0 %"."""
    return "n/a" if share is None else f"{100.0 * share:.1f} %"


def recall_keys(report: dict) -> list[str]:
    """The recall@k keys of a report, by depth."""
    return sorted((key for key in report if key.startswith("recall@")), key=lambda key: int(key.split("@")[1]))


def summary_rows(report: dict) -> list[tuple[str, str]]:
    """(label, value) rows shared by the terminal table and the HTML page."""
    rows = [("questions", _num(report["questions"])),
            ("exact match", _num(report["exact_match"], 2)),
            ("F1", _num(report["f1"], 2))]
    if "HasAns_total" in report:
        rows.append(("HasAns EM / F1", f"{_num(report['HasAns_exact_match'], 2)} / {_num(report['HasAns_f1'], 2)}"
                     f"  ({_count(report['HasAns_total'], 'question')})"))
        rows.append(("NoAns EM / F1", f"{_num(report['NoAns_exact_match'], 2)} / {_num(report['NoAns_f1'], 2)}"
                     f"  ({_count(report['NoAns_total'], 'question')})"))
    if report.get("mrr") is not None:
        rows.append(("retrieval", "  ".join(f"{key} {_num(report[key])}" for key in recall_keys(report))
                     + f"  MRR {_num(report['mrr'], 3)}"))
    misses = report.get("misses", {})
    early = f"{_num(misses['early_stop_miss'])} early stop, " if misses.get("early_stop_miss") else ""
    rows.append(("misses", f"{_num(misses.get('wrong', 0))} wrong: {_num(misses.get('retrieval_miss', 0))} retrieval, "
                           f"{early}{_num(misses.get('reader_miss', 0))} reader"))
    if report.get("passages_read_mean") is not None:
        rows.append(("reading", f"{report['passages_read_mean']:.2f} passages read per question on average"))
    threshold = report.get("threshold")
    probability = report.get("threshold_scale") == PROBABILITY
    if threshold is None or threshold == -math.inf:
        at = "with no threshold"
    else:
        at = f"at min confidence {_num(threshold, 2)}" if probability else f"at threshold {_num(threshold, 2)}"
    rows.append(("answered", f"{_num(report['answered'])} (abstained {_num(report['abstained'])}) {at}"))
    rows.append(("best min confidence" if probability else "best threshold",
                 f"{_num(report['best_threshold'], 2)} → F1 {_num(report['best_threshold_f1'], 2)}, "
                 f"EM {_num(report['best_threshold_exact_match'], 2)}"))
    if report.get("ece") is not None:
        kind = "calibrated probability" if probability else "logistic of the score, not calibrated"
        rows.append(("calibration", f"ECE {_num(report['ece'], 3)} ({kind}); answering all: "
                                    f"{_num(report.get('accuracy_answering_all'), 1)} % right, "
                                    f"mean confidence {_num(report.get('mean_confidence'), 2)}"))
        rows.append(("coverage", f"{_percent(report.get('coverage_at_80'))} of questions at 80 % right, "
                                 f"{_percent(report.get('coverage_at_90'))} at 90 %"))
    latency = report["latency_ms"]
    rows.append(("latency", f"p50 {_num(latency['p50'], 0)} ms  p95 {_num(latency['p95'], 0)} ms"))
    rows.append(("speed", f"{_num(report['questions_per_s'], 2)} questions/s"))
    return rows


def describe_settings(report: dict) -> str:
    s = report.get("settings", {})
    parts = [Path(s.get("questions_file") or "?").name, s.get("mode") or "?"]
    if s.get("mode") == "open":
        parts.append(f"{s.get('retrieval_mode')}, k={s.get('k')}")
    parts.append(report.get("scoring", ""))
    return " · ".join(p for p in parts if p)


def format_table(report: dict) -> str:
    """The compact terminal summary."""
    rows = summary_rows(report)
    width = max(len(label) for label, _ in rows)
    lines = [f"citeqa eval: {describe_settings(report)}"]
    lines += [f"  {label:<{width}}  {value}" for label, value in rows]
    return _encodable("\n".join(lines))  # printable even when the file name is not UTF-8


# --- Plots ----------------------------------------------------------------------------------------


def _png(figure) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _style(ax) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(True, color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def risk_coverage_png(results: Sequence[QuestionResult], threshold: float | None, scale: str = SCORE) -> str:
    """Precision (EM) and F1 of the most confident answers against coverage, with the run's threshold marked;
    answers ranked and the threshold read on `scale` (the score, or a calibrated run's probability)."""
    from matplotlib.figure import Figure

    values = ranking_values(results, scale)
    ordered = [results[i] for i in sorted(range(len(results)), key=lambda i: -values[i])]
    n = len(ordered)
    coverage, precision, f1 = [], [], []
    em_sum = f1_sum = 0.0
    for m, r in enumerate(ordered, start=1):
        em_sum += r.best_exact
        f1_sum += r.best_f1
        coverage.append(100.0 * m / n)
        precision.append(100.0 * em_sum / m)
        f1.append(100.0 * f1_sum / m)
    figure = Figure(figsize=(5.4, 3.5))
    ax = figure.add_subplot()
    ax.plot(coverage, f1, color="#2563eb", linewidth=2, label="F1")
    ax.plot(coverage, precision, color="#f59e0b", linewidth=2, label="precision (EM)")
    if threshold is not None and n:
        answered = sum(1 for value in values if value >= threshold)
        if answered:
            ax.axvline(100.0 * answered / n, color="#6b7280", linestyle="--", linewidth=1)
            ax.annotate("threshold", (100.0 * answered / n, 4), xytext=(4, 0), textcoords="offset points",
                        color="#6b7280", fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 102)
    ax.set_xlabel("coverage: questions answered, most confident first (%)")
    ax.set_ylabel("%")
    ax.set_title("Risk–coverage", fontsize=11, loc="left")
    ax.legend(frameon=False, fontsize=9, loc="lower left")
    _style(ax)
    return _png(figure)


def reliability_png(bins: Sequence[dict], ece: float | None, *, calibrated: bool) -> str:
    """The reliability diagram: each confidence bin's accuracy as a bar (its question count above it) against
    the diagonal a perfectly calibrated confidence would follow, the bin's mean confidence as a dot (the gap
    to its bar is the bin's calibration error), the ECE in the title."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.4, 3.5))
    ax = figure.add_subplot()
    ax.plot([0, 1], [0, 1], color="#6b7280", linestyle="--", linewidth=1, label="perfectly calibrated")
    filled = [b for b in bins if b["count"]]
    if filled:
        lefts = [b["lower"] for b in filled]
        widths = [b["upper"] - b["lower"] for b in filled]
        ax.bar(lefts, [b["accuracy"] for b in filled], width=widths, align="edge", color="#93c5fd",
               edgecolor="#2563eb", linewidth=0.6, label="accuracy in the bin")
        ax.plot([(b["lower"] + b["upper"]) / 2 for b in filled], [b["confidence"] for b in filled], "o",
                color="#f59e0b", markersize=4, label="mean confidence in the bin")
        for b in filled:
            ax.annotate(f"{b['count']:,}", ((b["lower"] + b["upper"]) / 2, b["accuracy"]), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7, color="#374151")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.08)
    ax.set_xlabel("confidence of the best guess" + ("" if calibrated else " (logistic of the score)"))
    ax.set_ylabel("share right")
    title = "Reliability" + (f" · ECE {ece:.3f}" if ece is not None else "")
    ax.set_title(title, fontsize=11, loc="left")
    ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    _style(ax)
    return _png(figure)


def latency_png(results: Sequence[QuestionResult], latency: dict) -> str:
    """Histogram of per-question latency with p50 and p95 marked."""
    from matplotlib.figure import Figure

    ms = [1000.0 * r.latency_s for r in results]
    figure = Figure(figsize=(5.4, 3.5))
    ax = figure.add_subplot()
    ax.hist(ms, bins=min(40, max(5, len(ms) // 5)), color="#93c5fd", edgecolor="#2563eb", linewidth=0.6)
    for key, colour in (("p50", "#059669"), ("p95", "#dc2626")):
        if latency.get(key) is not None:
            ax.axvline(latency[key], color=colour, linestyle="--", linewidth=1.2, label=f"{key} {latency[key]:.0f} ms")
    ax.set_xlabel("latency per question (ms)")
    ax.set_ylabel("questions")
    ax.set_title("Latency", fontsize=11, loc="left")
    ax.legend(frameon=False, fontsize=9)
    _style(ax)
    return _png(figure)


# --- HTML -----------------------------------------------------------------------------------------


def highlight(text: str, golds: Sequence[str], pred: tuple[int, int] | None) -> str:
    """`text` escaped for HTML, gold answer occurrences in <mark class="gold">, the predicted span in
    <mark class="pred">, and where they overlap <mark class="gold pred">, so neither hides the other."""
    golds_at = [(m.start(), m.end()) for gold in golds if gold.strip()
                for m in re.finditer(re.escape(gold.strip()), text, re.IGNORECASE)]
    pred_at = pred if pred is not None and None not in pred and pred[1] > pred[0] else None
    cuts = sorted({0, len(text), *(i for span in golds_at for i in span), *(pred_at or ())})
    pieces: list[tuple[str, str]] = []  # (kind, text), neighbours of the same kind merged
    for start, end in zip(cuts, cuts[1:]):
        kinds = [kind for kind, spans in (("gold", golds_at), ("pred", [pred_at] if pred_at else []))
                 if any(s <= start and end <= e for s, e in spans)]
        kind = " ".join(kinds)
        if pieces and pieces[-1][0] == kind:
            pieces[-1] = (kind, pieces[-1][1] + text[start:end])
        else:
            pieces.append((kind, text[start:end]))
    return "".join(f'<mark class="{kind}">{html.escape(part)}</mark>' if kind else html.escape(part)
                   for kind, part in pieces)


CSS = """
*{box-sizing:border-box}
body{font:14px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#111827;
 background:#f9fafb;margin:0;padding:28px 36px;max-width:1180px}
h1{font-size:22px;margin:0 0 2px}
h2{font-size:16px;margin:28px 0 10px;color:#111827}
.sub{color:#6b7280;margin-bottom:18px}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:10px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px}
.card .v{font-size:22px;font-weight:600}
.card .l{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}
table{border-collapse:collapse;background:#fff;border:1px solid #e5e7eb;border-radius:8px;overflow:hidden}
td,th{padding:5px 12px;border-bottom:1px solid #f3f4f6;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600;font-size:12px;color:#374151}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.grid2{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;align-items:start}
.grid2 table{width:100%}
.plots img{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:6px;width:100%;display:block}
td.k{color:#374151;font-weight:500;white-space:nowrap}
.miss{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:12px 16px;margin-bottom:12px}
.miss .q{font-weight:600;font-size:15px}
.miss .meta{color:#6b7280;font-size:12px;margin:2px 0 6px}
.kv{display:grid;grid-template-columns:92px 1fr;gap:2px 10px;margin:4px 0}
.kv .k{color:#6b7280}
.badge{display:inline-block;border-radius:999px;padding:0 8px;font-size:11px;font-weight:600;margin-left:6px}
.retrieval_miss{background:#fee2e2;color:#991b1b}
.reader_miss{background:#fef3c7;color:#92400e}
.early_stop_miss{background:#e0e7ff;color:#3730a3}
details{margin-top:6px}
summary{cursor:pointer;color:#374151}
.passage{border-left:3px solid #e5e7eb;padding:4px 10px;margin:6px 0;color:#374151;font-size:13px}
.passage.hit{border-left-color:#10b981}
.passage .ph{color:#6b7280;font-size:12px}
mark.gold{background:#bbf7d0;padding:0 1px}
mark.pred{background:#fde68a;padding:0 1px}
mark.gold.pred{background:#bbf7d0;box-shadow:inset 0 -3px 0 #f59e0b}
.grid2 td.k{white-space:normal}
.muted{color:#9ca3af}
.legend mark{margin-right:10px}
"""


def _cards(report: dict) -> str:
    items = [("Exact match", _num(report["exact_match"], 1)), ("F1", _num(report["f1"], 1))]
    if report.get("mrr") is not None:
        items += [(key, _num(report[key], 1)) for key in recall_keys(report)]
        items.append(("MRR", _num(report["mrr"], 3)))
    if report.get("ece") is not None:
        items.append(("ECE", _num(report["ece"], 3)))
    items += [("latency p50", _num(report["latency_ms"]["p50"], 0, " ms")),
              ("latency p95", _num(report["latency_ms"]["p95"], 0, " ms")),
              ("questions/s", _num(report["questions_per_s"], 2)),
              ("questions", _num(report["questions"]))]
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="l">{html.escape(label)}</div><div class="v">{html.escape(value)}</div></div>'
        for label, value in items) + "</div>"


def _table(rows: Sequence[Sequence[str]], head: Sequence[str] | None = None, numeric: Sequence[int] = ()) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            kind = "n" if i in numeric else ("k" if i == 0 and not head else "")
            cells.append(f'<td{f" class={kind}" if kind else ""}>{html.escape(str(cell))}</td>')
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _miss_html(number: int, miss: dict) -> str:
    golds = miss["golds"]
    gold_text = " | ".join(html.escape(g) for g in golds) if golds else '<span class="muted">no answer (unanswerable)</span>'
    if miss["prediction"]:
        prediction = html.escape(miss["prediction"])
    else:
        best = f' (best span: “{html.escape(miss["best_span"])}”)' if miss["best_span"] else ""
        prediction = f'<span class="muted">abstained{best}</span>'
    kind = miss["miss"] or ""
    label = {"retrieval_miss": "retrieval miss", "reader_miss": "reader miss",
             "early_stop_miss": "early-stop miss"}.get(kind, kind)
    passages = []
    for p in miss["passages"]:
        flags = []
        if p["holds_answer"]:
            flags.append("holds a gold answer")
        if p["gold_paragraph"]:
            flags.append("gold paragraph")
        if miss.get("passages_read") and p["rank"] > miss["passages_read"]:
            flags.append("not read (early stop)")
        head = (f'#{p["rank"]} {html.escape(p["title"] or "untitled")} · score {p["score"]:.3f}'
                + (f' · {html.escape(", ".join(flags))}' if flags else ""))
        body = highlight(p["text"], golds, (p.get("pred_start"), p.get("pred_end")))
        passages.append(f'<div class="passage{" hit" if p["holds_answer"] else ""}"><div class="ph">{head}</div>{body}</div>')
    score = "n/a" if miss["score"] is None else f'{miss["score"]:.2f}'
    confidence = "" if miss.get("confidence") is None else f' · confidence {miss["confidence"]:.2f}'
    return (
        f'<div class="miss"><div class="q">{number}. {html.escape(miss["question"])}'
        f'<span class="badge {html.escape(kind)}">{html.escape(label)}</span></div>'
        f'<div class="meta">id {html.escape(miss["id"])} · score {score}{confidence} · F1 {miss["f1"]:.0f}</div>'
        f'<div class="kv"><div class="k">gold</div><div>{gold_text}</div>'
        f'<div class="k">prediction</div><div>{prediction}</div></div>'
        + (f'<details{" open" if number <= 3 else ""}><summary>{len(passages)} passage(s) read</summary>{"".join(passages)}</details>'
           if passages else "")
        + "</div>"
    )


def html_page(report: dict, results: Sequence[QuestionResult]) -> str:
    """The whole report as one HTML page with no external resources."""
    settings = report.get("settings", {})
    title = f"citeqa eval: {Path(settings.get('questions_file') or 'questions').name}"
    figures = _table(summary_rows(report))
    misses = report.get("misses", {})
    miss_rows = [(label, _num(misses.get(key, 0))) for key, label in (
        ("wrong", "wrong answers (EM 0)"), ("retrieval_miss", "retrieval misses: no passage read holds a gold answer"),
        ("early_stop_miss", "early-stop misses: only a passage skipped after a confident early answer held it"),
        ("reader_miss", "reader misses: a passage read held it"), ("reader_wrong_span", "  of which wrong span"),
        ("reader_abstained", "  of which wrongly abstained"), ("reader_answered_unanswerable", "  of which answered an unanswerable question"))]
    coverage_rows = [(f"{100 * p['coverage']:.0f}%", _num(p["answered"]), _num(p["threshold"], 2),
                      _num(p["precision"], 1), _num(p["f1"], 1))
                     for p in report.get("risk_coverage", []) if p is not None]
    if len(coverage_rows) > 10:
        coverage_rows = coverage_rows[1::2]
    scale = report.get("threshold_scale", SCORE)
    calibrated = scale == PROBABILITY
    reliability = report.get("reliability") or []
    reliability_rows = [(f"{b['lower']:.1f}–{b['upper']:.1f}", _num(b["count"]), _num(b["confidence"], 3),
                         _num(b["accuracy"], 3)) for b in reliability if b["count"]]
    calibration_note = (
        f'ECE {_num(report.get("ece"), 3)} · answering every question with its best guess: '
        f'{_num(report.get("accuracy_answering_all"), 1)} % right at mean confidence {_num(report.get("mean_confidence"), 2)} · '
        f'{_percent(report.get("coverage_at_80"))} of questions answerable at 80 % right, '
        f'{_percent(report.get("coverage_at_90"))} at 90 %'
        + ("" if calibrated else " · confidence is the logistic of the span score (no calibrator), not a probability"))
    plots = ""
    if results:
        rc = risk_coverage_png(results, report.get("threshold"), scale)
        plots = ('<div class="grid2 plots">'
                 f'<img alt="risk-coverage plot" src="data:image/png;base64,{rc}">'
                 + (f'<img alt="reliability diagram" src="data:image/png;base64,'
                    f'{reliability_png(reliability, report.get("ece"), calibrated=calibrated)}">' if reliability else "")
                 + f'<img alt="latency histogram" src="data:image/png;base64,{latency_png(results, report["latency_ms"])}">'
                 "</div>")
    setting_rows = [(key, json_text(value)) for key, value in settings.items() if value is not None]
    version_rows = [(key, str(value)) for key, value in {**report.get("versions", {}), **report.get("machine", {})}.items()]
    worst = report.get("worst_misses", [])
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<div class="sub">{html.escape(describe_settings(report).split(" · ", 1)[-1])} · {html.escape(report.get("date", ""))}</div>',
        _cards(report),
        '<div class="grid2"><div><h2>Figures</h2>', figures,
        '<h2>Why questions were missed</h2>', _table(miss_rows, numeric=(1,)), "</div>",
        '<div><h2>Risk–coverage</h2>',
        _table(coverage_rows, ["coverage", "answered", "min confidence" if calibrated else "threshold", "precision (EM)", "F1"],
               numeric=(1, 2, 3, 4)),
        "</div></div>",
        '<h2>Calibration</h2>', f'<div class="sub">{html.escape(calibration_note)}</div>',
        _table(reliability_rows, ["confidence", "questions", "mean confidence", "share right"], numeric=(1, 2, 3))
        if reliability_rows else "",
        '<h2>Plots</h2>', plots,
        f'<h2>The {len(worst)} worst misses</h2>',
        '<div class="sub legend">most confident wrong answers first · <mark class="gold">gold answer</mark>'
        '<mark class="pred">predicted span</mark><mark class="gold pred">both</mark></div>',
        "".join(_miss_html(i, m) for i, m in enumerate(worst, start=1)) or '<p class="muted">none</p>',
        '<h2>Settings</h2>', _table(setting_rows),
        '<h2>Versions and machine</h2>', _table(version_rows),
        "</body></html>",
    ]
    return "\n".join(parts)


def json_text(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _encodable(text: str) -> str:
    """`text` with each lone surrogate (which UTF-8 cannot encode) shown as its code, "\\ud800"."""
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def write_html(path: str | Path, report: dict, results: Sequence[QuestionResult]) -> None:
    """The page in UTF-8, written whole or not at all; a lone surrogate in a question, answer or passage shows
    as its code ("\\ud800")."""
    write_atomically(path, [_encodable(html_page(report, results))])
