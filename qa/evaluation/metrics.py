"""SQuAD answer metrics, identical to the official v1.1/v2.0 evaluation scripts, and calibration metrics
(expected calibration error, reliability bins, coverage at a target accuracy)."""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Sequence

from qa.answering.normalize import normalize_answer


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-overlap F1; two empty answers (both abstain) score 1, one empty scores 0."""
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not prediction_tokens or not gold_tokens:
        return float(prediction_tokens == gold_tokens)
    common = Counter(prediction_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(metric, prediction: str, golds: Sequence[str]) -> float:
    """The official rule: score against every gold answer and keep the best; no gold means unanswerable
    (the only right prediction is the empty string)."""
    if not golds:
        return float(normalize_answer(prediction) == "")
    return max(metric(prediction, gold) for gold in golds)


# --- Whole-set scoring, as the official scripts do it ---------------------------------------------

SCORING_V1 = "squad-v1.1"
SCORING_V2 = "squad-v2.0"


def f1_score_v1(prediction: str, gold: str) -> float:
    """Token-overlap F1 exactly as the official v1.1 script computes it: no shared token scores 0,
    even when both answers normalise to nothing (v2.0 scores that case 1, see `f1_score`)."""
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    same = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if same == 0:
        return 0.0
    precision = same / len(prediction_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def answerable_golds(golds: Sequence[str]) -> tuple[str, ...]:
    """The golds the official v2.0 script keeps: those that do not normalise to nothing (a gold of "."
    is dropped); none left means the question is unanswerable."""
    return tuple(g for g in golds if normalize_answer(g))


def question_scores(prediction: str, golds: Sequence[str], scoring: str = SCORING_V2) -> tuple[float, float]:
    """(exact match, F1) of one prediction, each 0 or 1 / in [0, 1], by the official v1.1 or v2.0 rules.

    v1.1: the best over every gold as given (a gold that normalises to nothing matches only an empty
    prediction for EM and never for F1). v2.0: golds that normalise to nothing are dropped; no gold
    left means unanswerable, where only an empty prediction (an abstention) scores 1.
    """
    if scoring == SCORING_V1:
        if not golds:
            return best_over_golds(exact_match, prediction, ()), best_over_golds(f1_score, prediction, ())
        return max(exact_match(prediction, g) for g in golds), max(f1_score_v1(prediction, g) for g in golds)
    if scoring != SCORING_V2:
        raise ValueError(f"unknown scoring {scoring!r}: use {SCORING_V1!r} or {SCORING_V2!r}")
    kept = answerable_golds(golds)
    return best_over_golds(exact_match, prediction, kept), best_over_golds(f1_score, prediction, kept)


def percentage(values: Sequence[float]) -> float:
    """100 × the mean, summed in order as the official scripts do (0.0 for no values)."""
    return 100.0 * sum(values) / len(values) if values else 0.0


# --- Calibration: does the confidence say how often the answer is right? --------------------------
# Confidences and accuracies here are fractions (0–1), as the confidences themselves; "correct" is 1 or 0
# per question (a float in [0, 1] is taken as a share of right).


def _checked_pairs(confidences: Sequence[float], correct: Sequence[float], *, unit: bool) -> list[tuple[float, float]]:
    """(confidence, correct) pairs, checked: as many of each, no NaN, correctness in [0, 1] and, when `unit`,
    every confidence in [0, 1]."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} correctness values")
    pairs = []
    for c, right in zip(confidences, correct):
        c, right = float(c), float(right)
        if math.isnan(c) or (unit and not 0.0 <= c <= 1.0):
            raise ValueError(f"a confidence must be {'in [0, 1]' if unit else 'a number'}, got {c!r}")
        if not 0.0 <= right <= 1.0:
            raise ValueError(f"correctness must be in [0, 1] (1 right, 0 wrong), got {right!r}")
        pairs.append((c, right))
    return pairs


def reliability_bins(confidences: Sequence[float], correct: Sequence[float], bins: int = 10) -> list[dict]:
    """The reliability diagram's data: `bins` equal-width bins over [0, 1] (each holds lower <= confidence <
    upper; the last also holds 1.0), each with its `lower`, `upper`, `count`, mean `confidence` and
    `accuracy` (the share right; both None for an empty bin). Every bin is listed, empty ones too."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    pairs = _checked_pairs(confidences, correct, unit=True)
    edges = [i / bins for i in range(bins + 1)]
    counts, confidence_sums, right_sums = [0] * bins, [0.0] * bins, [0.0] * bins
    for c, right in pairs:
        b = min(bisect.bisect_right(edges, c) - 1, bins - 1)
        counts[b] += 1
        confidence_sums[b] += c
        right_sums[b] += right
    return [{"lower": edges[b], "upper": edges[b + 1], "count": counts[b],
             "confidence": confidence_sums[b] / counts[b] if counts[b] else None,
             "accuracy": right_sums[b] / counts[b] if counts[b] else None} for b in range(bins)]


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[float], bins: int = 10) -> float:
    """ECE: over `bins` equal-width confidence bins (as `reliability_bins`), the mean of |accuracy − mean
    confidence| weighted by each bin's share of the questions; 0 is perfectly calibrated, 0.0 for no questions."""
    table = reliability_bins(confidences, correct, bins)
    n = sum(b["count"] for b in table)
    if n == 0:
        return 0.0
    return sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in table if b["count"]) / n


def coverage_at_accuracy(confidences: Sequence[float], correct: Sequence[float], target: float) -> float:
    """The largest share of all the questions that can be answered, most confident first, while the answered
    ones stay at least `target` (a fraction) right. Equal confidences are answered together or not at all (no
    threshold splits them); only the order of the confidences matters, so any scores (-inf too) will do. 0.0
    when no such share exists or there are no questions."""
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not 0.0 <= target <= 1.0:
        raise ValueError(f"target accuracy must be in [0, 1], got {target!r}")
    pairs = sorted(_checked_pairs(confidences, correct, unit=False), key=lambda pair: -pair[0])
    n, best, right, i = len(pairs), 0, 0.0, 0
    while i < n:
        level = pairs[i][0]
        while i < n and pairs[i][0] == level:
            right += pairs[i][1]
            i += 1
        if right >= target * i - 1e-9 * i:  # the answered i questions are right often enough (float-safe)
            best = i
    return best / n if n else 0.0
