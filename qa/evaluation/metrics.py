"""SQuAD answer metrics, identical to the official v1.1/v2.0 evaluation scripts."""

from __future__ import annotations

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
