"""Calibrated confidence, measured on the held-out halves (issue 27): before (confidence = the logistic of the
best span's margin, the best span answers) and after (the shipped calibrator's probability ranks the
candidates and decides).

It reads the candidates `citeqa train-calibrator` saved (the same runs as the product, early stop
included) for the second halves of each set's articles, which the calibrator never saw:

    citeqa train-calibrator ... (collects the first halves and writes qa/models/reader/calibrator.json)
    python benchmarks/calibration.py --collect      # collects the second halves too (resumable), then measures
    python benchmarks/calibration.py --check 200    # also runs 200 held-out questions through the product's
                                                   # answer path and checks they agree with the records

Figures: per set (reader-only) ECE over 10 equal-width bins, accuracy answering all; on the even mixture of
the three sets (each set weighs the same) coverage at 80 % and 90 % accuracy; open SQuAD v1.1 dev (all
paragraphs indexed; 2,000 of the held-out half's questions spread over its articles) exact match at the
shipped abstention setting and answering all; the open abstention
check (every other article indexed: questions about the others must abstain).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answering.calibrator import load_calibrator, read_calibrator  # noqa: E402
from qa.answering.reader import recorded_settings  # noqa: E402
from qa.evaluation.metrics import expected_calibration_error  # noqa: E402
from qa.training.answer_calibration import QuestionRecord, read_records  # noqa: E402

DATA = ROOT.parent / "shared" / "qa-data"
SETS = {"dev-v1.1": DATA / "squad-v1.1" / "dev-v1.1.json", "dev-v2.0": DATA / "squad-v2.0" / "dev-v2.0.json",
        "english_tydiqa_dev": DATA / "tydiqa-goldp-en" / "english_tydiqa_dev.json"}


def logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(min(x, 50.0), -50.0)))


def choices(records: list[QuestionRecord], calibrator) -> dict[str, np.ndarray]:
    """Per question, before and after: the chosen candidate's confidence, whether it is right, and its span score."""
    out = {name: np.zeros(len(records)) for name in ("before_conf", "before_right", "before_score", "after_conf",
                                                     "after_right")}
    for i, record in enumerate(records):
        if not record.candidates:
            out["before_score"][i] = -math.inf
            continue
        first = record.candidates[0]  # the reader's order: best score first
        score = first.features[0]
        out["before_conf"][i], out["before_right"][i], out["before_score"][i] = logistic(score), first.right, score
        probability = calibrator.probabilities([c.features for c in record.candidates])
        best = int(np.argmax(probability))
        out["after_conf"][i], out["after_right"][i] = probability[best], record.candidates[best].right
    return out


def weighted_coverage(confidence: np.ndarray, right: np.ndarray, weight: np.ndarray, target: float) -> float:
    """The largest weighted share of questions answerable, most confident first (ties together), while the
    answered ones stay at least `target` right (weighted)."""
    order = np.argsort(-confidence, kind="stable")
    conf, r, w = confidence[order], right[order], weight[order]
    best, answered_w, right_w = 0.0, 0.0, 0.0
    for i in range(len(conf)):
        answered_w += w[i]
        right_w += w[i] * r[i]
        if i + 1 < len(conf) and conf[i + 1] == conf[i]:
            continue
        if right_w >= target * answered_w - 1e-12:
            best = answered_w / w.sum()
    return float(best)


def fitted_articles() -> frozenset[str]:
    """Every article in any set's first half. SQuAD v2.0 dev's articles are v1.1 dev's, in another order, and
    its answerable questions are v1.1's: an article held out of one set may be in the other's first half, where
    the calibrator saw its questions. Such articles are left out of every measurement."""
    from qa.evaluation.datasets import load_squad
    from qa.training.calibration import split_by_article

    return frozenset(ex.title or "" for path in SETS.values() for ex in split_by_article(load_squad(path))[0])


def unseen(records: list[QuestionRecord], seen: frozenset[str], left_out: dict, key: str) -> list[QuestionRecord]:
    kept = [r for r in records if r.article not in seen]
    if len(kept) < len(records):
        left_out[key] = len(records) - len(kept)
    return kept


def measure(data_dir: Path, reader_dir: Path, calibrator_file: Path | None = None) -> dict:
    calibrator = load_calibrator(reader_dir) if calibrator_file is None else read_calibrator(calibrator_file)
    if calibrator is None:
        raise SystemExit(f"no calibrator.json in {reader_dir}: run citeqa train-calibrator first")
    threshold = float(recorded_settings(reader_dir).get("no_answer_threshold", 0.0))
    seen, left_out = fitted_articles(), {}
    result: dict = {"reader": str(reader_dir), "calibrator": str(calibrator_file or reader_dir / "calibrator.json"),
                    "min_confidence": calibrator.default_min_confidence, "guess_floor": calibrator.guess_floor,
                    "score_threshold": threshold, "left_out_seen_articles": left_out, "reader_only": {}, "open": {}}
    mixture = {key: [] for key in ("before_conf", "before_right", "after_conf", "after_right", "weight")}
    for name in SETS:
        records = unseen(read_records(data_dir / f"{name}-reader-only-held.jsonl")[0], seen, left_out,
                         f"{name}-reader-only")
        if not records:
            continue
        c = choices(records, calibrator)
        result["reader_only"][name] = {
            "questions": len(records),
            "ece_before": expected_calibration_error(c["before_conf"], c["before_right"]),
            "ece_after": expected_calibration_error(c["after_conf"], c["after_right"]),
            "accuracy_before": float(c["before_right"].mean()), "accuracy_after": float(c["after_right"].mean()),
        }
        for key in ("before_conf", "before_right", "after_conf", "after_right"):
            mixture[key].append(c[key])
        mixture["weight"].append(np.full(len(records), 1.0 / len(records)))
    if mixture["weight"]:
        m = {key: np.concatenate(value) for key, value in mixture.items()}
        result["mixture"] = {
            "sets": list(result["reader_only"]),
            **{f"coverage_at_{int(100 * t)}_{when}": weighted_coverage(m[f"{when}_conf"], m[f"{when}_right"], m["weight"], t)
               for t in (0.8, 0.9) for when in ("before", "after")},
            "accuracy_answering_all_before": float(np.average(m["before_right"], weights=m["weight"])),
            "accuracy_answering_all_after": float(np.average(m["after_right"], weights=m["weight"])),
        }
    records = unseen(read_records(data_dir / "dev-v1.1-open-all-held.jsonl")[0], seen, left_out, "dev-v1.1-open-all")
    if records:
        c = choices(records, calibrator)
        answered_before = c["before_score"] >= threshold
        answered_after = c["after_conf"] >= calibrator.default_min_confidence
        result["open"]["dev-v1.1-all-indexed"] = {
            "questions": len(records),
            "em_before": 100 * float(np.mean(c["before_right"] * answered_before)),
            "em_after": 100 * float(np.mean(c["after_right"] * answered_after)),
            "em_answering_all_before": 100 * float(c["before_right"].mean()),
            "em_answering_all_after": 100 * float(c["after_right"].mean()),
            "answered_before": float(answered_before.mean()), "answered_after": float(answered_after.mean()),
            "ece_before": expected_calibration_error(c["before_conf"], c["before_right"]),
            "ece_after": expected_calibration_error(c["after_conf"], c["after_right"]),
        }
    for name in SETS:
        records = unseen(read_records(data_dir / f"{name}-open-held.jsonl")[0], seen, left_out, f"{name}-open")
        if not records:
            continue
        c = choices(records, calibrator)
        has = np.array([r.has_answer for r in records])
        figures = {"questions": len(records), "unanswerable": int((~has).sum())}
        for when, answered in (("before", c["before_score"] >= threshold),
                               ("after", c["after_conf"] >= calibrator.default_min_confidence)):
            right = c[f"{when}_right"] * answered
            figures[f"abstained_on_unanswerable_{when}"] = float((~answered[~has]).mean()) if (~has).any() else None
            figures[f"em_on_answerable_{when}"] = 100 * float(right[has].mean()) if has.any() else None
            figures[f"v2_exact_match_{when}"] = 100 * float(np.mean(np.where(answered, right, ~has)))
        result["open"][name] = figures
    return result


def collect_held(data_dir: Path, reader_dir: Path) -> None:
    from qa.training.answer_calibration import collect_set

    for name, path in SETS.items():
        collect_set(path, reader_dir, data_dir, modes=("reader-only", "open"), halves=("held",), progress=True)
    # open over all 2,067 paragraphs: 2,000 of the held-out half's questions, spread evenly over its articles
    collect_set(SETS["dev-v1.1"], reader_dir, data_dir, modes=("open-all",), halves=("held",), limit_per_half=2000,
                progress=True)


def check_against_product(data_dir: Path, reader_dir: Path, count: int) -> dict:
    """Run held-out reader-only questions through the product's answer path and compare with the records."""
    from qa.answering.config import Config
    from qa.answering.pipeline import PassageAnswerer
    from qa.evaluation.datasets import load_squad
    from qa.evaluation.run import context_passage
    from qa.training.calibration import fitting_halves

    answerer = PassageAnswerer.from_config(Config(reader_model=str(reader_dir)))
    checked = agreed = 0
    for name, path in SETS.items():
        records, _ = read_records(data_dir / f"{name}-reader-only-held.jsonl")
        held = {ex.id: ex for ex in fitting_halves(load_squad(path), None)[1]}
        for record in records[: max(1, count // len(SETS))]:
            answer = answerer.answer_from_passages(held[record.id].question, [context_passage(held[record.id])],
                                                   min_confidence=0.0)
            probability = answerer.calibrator.probabilities([c.features for c in record.candidates]) if record.candidates else []
            expected = record.candidates[int(np.argmax(probability))].text if record.candidates else None
            checked += 1
            agreed += answer.text == expected and (not record.candidates or abs(answer.confidence - max(probability)) < 1e-4)
    return {"questions": checked, "agreed": int(agreed)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the candidates' folder (default: train-calibrator's)")
    parser.add_argument("--reader", type=Path, default=ROOT / "qa" / "models" / "reader")
    parser.add_argument("--collect", action="store_true", help="collect the second halves first (resumable)")
    parser.add_argument("--calibrator", type=Path, default=None,
                        help="measure this calibrator file instead of the reader folder's (e.g. a --dry-run's)")
    parser.add_argument("--check", type=int, default=0, metavar="N", help="check N held-out questions against the product")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "calibration.json")
    args = parser.parse_args()
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from qa.cli.training_commands import default_calibrator_data_dir

    data_dir = args.data if args.data is not None else default_calibrator_data_dir(args.reader)
    if args.collect:
        collect_held(data_dir, args.reader)
    result = measure(data_dir, args.reader, args.calibrator)
    if args.check:
        result["product_check"] = check_against_product(data_dir, args.reader, args.check)
    from qa.evaluation.run import versions

    result["versions"] = versions()
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
