"""Article text out of real web pages: how much of what citeqa's HTML loader keeps is the article (precision),
and how much of the article it keeps (recall), on the 181 pages of the article extraction benchmark
(scrapinghub/article-extraction-benchmark; see ../shared/web-articles/README.md).

    python benchmarks/html_extraction.py --data ../shared/web-articles --out benchmarks/results/html-extraction.json
    python benchmarks/html_extraction.py --variants   # also score other trafilatura options

Scored as that benchmark's evaluate.py scores (re-implemented here): a page's text and its true article body
are cut into word shingles (runs of 4 tokens, tokens = the `\\w+` matches, case kept, with multiplicity; a text of
1 to 3 tokens is one shorter shingle, no token none); shared shingles are true positives, the extraction's
others false positives, the article's others false negatives. Per page, precision = tp / (tp + fp) and recall =
tp / (tp + fn), both 1 when there is neither fp nor fn. Precision is averaged over the pages whose extraction
has shingles (an empty extraction drops out of it) and recall over the pages whose article has shingles (an
empty extraction scores recall 0 there); F1 is taken from the two averages.

Rows: "before", `html_to_text` (the whole page's visible text, what the loader used until now); "after",
`read_html` (trafilatura's main text, falling back to `html_to_text`), which is what `corpus/loaders.py`
calls. Both get the page as the loader does: its bytes through `decode_text`. Pages/second is one process,
reading and decoding excluded, after one untimed page (imports).
"""

from __future__ import annotations

import argparse
import gzip
import json
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info  # noqa: E402
from corpus.decoding import decode_text  # noqa: E402
from corpus.html_text import TRAFILATURA_OPTIONS, HtmlPage, html_to_text, read_html  # noqa: E402

SHINGLE = 4
_TOKEN = re.compile(r"\w+")

# Other trafilatura settings tried with --variants (keyword arguments of trafilatura.bare_extraction,
# over TRAFILATURA_OPTIONS). "trafilatura_config": trafilatura's own settings instead of citeqa's
# (_CONFIG_CHANGES), i.e. with its whole-page baseline rescue of short extractions.
VARIANTS: dict[str, dict] = {
    "trafilatura_config": {"config": "trafilatura defaults"},
    "favor_recall": {"favor_recall": True},
    "favor_precision": {"favor_precision": True},
    "deduplicate": {"deduplicate": True},
    "no_tables": {"include_tables": False},
    "with_comments": {"include_comments": True},
    "fast": {"fast": True},
}


def shingles(text: str, n: int = SHINGLE) -> Counter:
    """The text's word shingles with their counts, as the benchmark cuts them."""
    tokens = _TOKEN.findall(text or "")
    return Counter(tuple(tokens[i:i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i:i + n])


def match_counts(true: str, predicted: str) -> tuple[int, int, int]:
    """(tp, fp, fn) of the shingles of `predicted` against those of `true`, counted with multiplicity."""
    truth, guess = shingles(true), shingles(predicted)
    return sum((truth & guess).values()), sum((guess - truth).values()), sum((truth - guess).values())


def page_precision(tp: int, fp: int, fn: int) -> float | None:
    """None when the extraction has no shingle (the page is left out of the precision average)."""
    if tp + fp == 0:
        return None
    return 1.0 if fp == fn == 0 else tp / (tp + fp)


def page_recall(tp: int, fp: int, fn: int) -> float | None:
    """None when the true article has no shingle (the page is left out of the recall average)."""
    if tp + fn == 0:
        return None
    return 1.0 if fp == fn == 0 else tp / (tp + fn)


def aggregate(counts: list[tuple[int, int, int]]) -> dict:
    """Mean per-page precision and recall, and the F1 of those two means."""
    precisions = [p for p in (page_precision(*c) for c in counts) if p is not None]
    recalls = [r for r in (page_recall(*c) for c in counts) if r is not None]
    precision = sum(precisions) / len(precisions) if precisions else 0.0
    recall = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": round(f1, 4), "precision": round(precision, 4), "recall": round(recall, 4),
            "pages_in_precision": len(precisions), "pages_in_recall": len(recalls)}


def bootstrap_ci(counts: list[tuple[int, int, int]], n_bootstrap: int = 1000, seed: int = 0) -> dict:
    """Half-widths of the 95% intervals of F1, precision and recall (1.96 standard deviations over pages
    resampled with replacement), as the benchmark's evaluate.py gives them; seeded, so reruns agree."""
    rng = random.Random(seed)
    samples = [aggregate([counts[rng.randrange(len(counts))] for _ in counts]) for _ in range(n_bootstrap)]
    return {f"{key}_ci": round(1.96 * statistics.stdev(sample[key] for sample in samples), 4)
            for key in ("f1", "precision", "recall")}


def load_pages(data: Path, limit: int | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(key → page markup, key → true article body), in key order."""
    truth = json.loads((data / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(truth)[:limit]
    pages = {key: decode_text(gzip.decompress((data / "html" / f"{key}.html.gz").read_bytes())) for key in keys}
    return pages, {key: truth[key].get("articleBody") or "" for key in keys}


def score(name: str, extract: Callable[[str], HtmlPage], pages: dict[str, str], truth: dict[str, str]) -> dict:
    """Run `extract` over every page (timed) and score it."""
    extract(next(iter(pages.values())))  # imports and caches, untimed
    results: dict[str, HtmlPage] = {}
    started = time.perf_counter()
    for key, markup in pages.items():
        results[key] = extract(markup)
    seconds = time.perf_counter() - started
    counts = {key: match_counts(truth[key], page.text) for key, page in results.items()}
    per_page = []
    for key, page in results.items():
        precision, recall = page_precision(*counts[key]), page_recall(*counts[key])
        per_page.append({"key": key, "precision": None if precision is None else round(precision, 4),
                         "recall": None if recall is None else round(recall, 4),
                         "chars": len(page.text), "true_chars": len(truth[key]), "has_title": bool(page.title),
                         "date": page.date, "fallback": page.note})
    n = len(results)
    row = {"name": name, **aggregate(list(counts.values())), **bootstrap_ci(list(counts.values())),
           "pages": n, "seconds": round(seconds, 2), "pages_per_second": round(n / seconds, 1),
           "title_share": round(sum(bool(page.title) for page in results.values()) / n, 4),
           "date_share": round(sum(bool(page.date) for page in results.values()) / n, 4),
           "fallbacks": sum(page.note is not None for page in results.values()),
           "per_page": per_page}
    print(f"{name:<24} F1 {row['f1']:.3f} ± {row['f1_ci']:.3f}  precision {row['precision']:.3f}  "
          f"recall {row['recall']:.3f}  {row['pages_per_second']:6.1f} pages/s  title {row['title_share']:.0%}  "
          f"date {row['date_share']:.0%}  fallbacks {row['fallbacks']}", flush=True)
    return row


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "web-articles",
                        help="the web-articles folder (html/, ground-truth.json)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "html-extraction.json")
    parser.add_argument("--variants", action="store_true", help="also score the trafilatura options in VARIANTS")
    parser.add_argument("--limit", type=int, default=None, help="only the first N pages (a quick look)")
    parser.add_argument("--no-per-page", action="store_true", help="leave the per-page figures out of the file")
    args = parser.parse_args(argv)

    pages, truth = load_pages(args.data, args.limit)
    rows = [score("before", html_to_text, pages, truth), score("after", read_html, pages, truth)]
    if args.variants:
        from trafilatura.settings import use_config

        for name, options in VARIANTS.items():
            given = {key: use_config() if key == "config" else value for key, value in options.items()}
            row = score(f"after+{name}", lambda markup, o=given: read_html(markup, **o), pages, truth)
            row.pop("per_page")  # the figures per page are kept for "before" and "after" only
            rows.append({**row, "options": options})
    worst = sorted(rows[1]["per_page"], key=lambda p: min(p["precision"] or 0, p["recall"] or 0))[:10]
    print("worst pages (after): " + ", ".join(
        f"{p['key'][:12]} P={p['precision']} R={p['recall']}" for p in worst))
    if args.no_per_page:
        for row in rows:
            row.pop("per_page")
    report = {
        "benchmark": "article extraction benchmark (scrapinghub/article-extraction-benchmark @ 4a3bc979), "
                     "181 pages, word-4-shingle precision/recall per page, averaged; F1 of the averages",
        "data": str(args.data), "pages": len(pages),
        "command": "python benchmarks/html_extraction.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "trafilatura_options": {k: v for k, v in TRAFILATURA_OPTIONS.items()},
        "machine": machine_info(trafilatura=_version("trafilatura"), htmldate=_version("htmldate"),
                                lxml=_version("lxml"), justext=_version("justext"),
                                python_implementation=platform.python_implementation()),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
