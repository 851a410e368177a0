"""Score the assistant against a question set: answers (official SQuAD EM/F1), retrieval (recall@k, MRR),
abstention (best threshold, risk–coverage), confidence (calibration error, reliability, coverage at a target
accuracy), speed (latency, questions/s), and why each miss happened.

The run (`evaluate`) is a thin loop; everything it reports comes from the pure functions below, which
take plain numbers and strings. Conventions: EM, F1, recall@k, precision and accuracy answering all are
percentages (0–100) as in the official SQuAD scripts; MRR, coverage, confidences, the calibration error and
the reliability bins' accuracy are fractions (0–1); latencies are milliseconds.

A run is *calibrated* when its answers carry a probability of being right (the reader has an answer
calibrator): then the threshold search, the risk–coverage curve and the recorded threshold are in that
probability (`threshold_scale` "probability"); otherwise in the reader's span score ("score").
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from corpus.documents import document_id
from qa.evaluation.datasets import QAExample
from qa.evaluation.metrics import (
    SCORING_V1,
    SCORING_V2,
    answerable_golds,
    coverage_at_accuracy,
    expected_calibration_error,
    normalize_answer,
    percentage,
    question_scores,
    reliability_bins,
)
from qa.answering.types import Answer, Passage

_SEPARATORS = re.compile(r"[^\w\s]+")  # any punctuation or symbol, Unicode dashes and quotes too

WORST_MISSES = 20
RETRIEVAL_MISS = "retrieval_miss"
READER_MISS = "reader_miss"
EARLY_STOP_MISS = "early_stop_miss"
PROBABILITY = "probability"  # threshold scales: the calibrated probability of being right, or the span score
SCORE = "score"
THRESHOLD_SCALES = (PROBABILITY, SCORE)
RELIABILITY_BINS = 10
COVERAGE_TARGETS = (0.8, 0.9)  # report keys coverage_at_80, coverage_at_90


# --- Per-question facts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PassageView:
    """What the report shows of one passage the reader read; `pred_start/pred_end` mark the predicted
    (or best abstained) span inside `text` when it came from this passage."""

    rank: int
    title: str
    doc_id: str
    text: str
    score: float
    holds_answer: bool
    gold_paragraph: bool
    pred_start: int | None = None
    pred_end: int | None = None


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome. `prediction` is "" on abstention; `best_text`/`score`/`confidence` are the best
    span's whether or not it cleared the threshold (what the threshold search and risk–coverage use).
    `confidence` is that span's `Answer.confidence` (0.0 when the reader found no span); `probability` its
    calibrated probability, None when the reader has no calibrator."""

    id: str
    question: str
    golds: tuple[str, ...]
    has_answer: bool
    prediction: str
    best_text: str
    score: float
    exact: float
    f1: float
    best_exact: float
    best_f1: float
    latency_s: float
    first_hit: int | None = None
    findable: bool = False
    answer_read: bool = False
    answer_skipped: bool = False  # a passage the early stop left unread held a gold answer
    passages_read: int = 0
    confidence: float = 0.0
    probability: float | None = None
    passages: tuple[PassageView, ...] = field(default=(), repr=False)

    @property
    def abstained(self) -> bool:
        return self.prediction == ""

    @property
    def wrong(self) -> bool:
        return self.exact < 1.0

    @property
    def correct(self) -> float:
        """1.0 when the best guess (given or not) exactly matches a gold answer, else 0.0: what calibration
        measures. No guess is never right, and any answer to an unanswerable question is wrong."""
        return 1.0 if self.best_text and self.golds and self.best_exact >= 1.0 else 0.0

    @property
    def miss(self) -> str | None:
        """None when right; else a retrieval miss (no passage read holds a gold answer), an early-stop miss
        (only one the reader skipped after a confident early answer did) or a reader miss (one read did,
        or the question has no answer and the reader gave one)."""
        if not self.wrong:
            return None
        if self.has_answer and not self.answer_read:
            return EARLY_STOP_MISS if self.answer_skipped else RETRIEVAL_MISS
        return READER_MISS


def holds_answer(text: str, golds: Iterable[str]) -> bool:
    """Whether `text` contains a gold answer, compared as SQuAD-normalised token sequences (so
    "U.S." matches "U.S" and "2" does not match inside "2015"); golds that normalise to nothing never match.
    A gold also matches where SQuAD normalisation glues it to the next word ("11" in "11-year",
    "Manning" in "Manning's", "1986" in "1986—when"): punctuation is tried as a separator too."""
    forms = [(normalize_answer, f" {normalize_answer(text)} "), (_separated, f" {_separated(text)} ")]
    for gold in golds:
        for normalise, haystack in forms:
            needle = normalise(gold)
            if needle and f" {needle} " in haystack:
                return True
    return False


def _separated(text: str) -> str:
    """`normalize_answer` with punctuation (any Unicode punctuation or symbol) turned into spaces instead of dropped."""
    return normalize_answer(_SEPARATORS.sub(" ", text))


def first_hit_rank(hits: Sequence[bool]) -> int | None:
    """1-based rank of the first hit, None if there is none."""
    for rank, hit in enumerate(hits, start=1):
        if hit:
            return rank
    return None


def scoring_for(examples: Sequence[QAExample]) -> str:
    """The official rules that fit a set: v2.0 when any question is unanswerable, else v1.1."""
    return SCORING_V2 if any(not ex.answers for ex in examples) else SCORING_V1


def best_span_of(answer: Answer | None) -> tuple[str, float]:
    """(text, score) of the best span found: the answer itself, or its strongest candidate when it
    abstained; ("", -inf) when the reader found no span at all."""
    if answer is None:
        return "", float("-inf")
    if answer.text is not None:
        return answer.text, answer.score
    if answer.candidates:
        return answer.candidates[0].text or "", answer.candidates[0].score
    return "", float(answer.score) if answer.score is not None else float("-inf")


def best_confidence_of(answer: Answer | None) -> tuple[float, float | None]:
    """(confidence, probability) of the best span found, as `best_span_of` finds it: the answer's own (an
    abstaining answer carries its best candidate's); (0.0, None) when there is no span."""
    if answer is None:
        return 0.0, None
    if answer.probability is not None:
        return float(answer.probability), float(answer.probability)
    if answer.text is None and not answer.candidates and not math.isfinite(answer.score):
        return 0.0, None
    return float(answer.confidence), None


def _predicted_span(answer: Answer | None):
    if answer is None:
        return None
    source = answer if answer.text is not None else (answer.candidates[0] if answer.candidates else None)
    if source is None or not source.citations:
        return None
    c = source.citations[0]
    return c.doc_id, c.passage_start, c.answer_start_in_passage, c.answer_end_in_passage


def score_question(example: QAExample, answer: Answer | None, passages: Sequence[Passage], *, read: int,
                   latency_s: float, scoring: str, retrieval: bool, keep_passages: bool | None = None,
                   planned: int | None = None) -> QuestionResult:
    """Score one answered question. `passages` are those retrieved (best first), of which the first
    `read` went to the reader, out of `planned` (k; more than `read` when the reader stopped early);
    `retrieval` False means the passage was the question's own paragraph."""
    golds = tuple(example.answers) if scoring == SCORING_V1 else answerable_golds(example.answers)
    has_answer = bool(example.answers)  # as the official script's qid_to_has_ans: the raw answers
    prediction = (answer.text or "") if answer is not None else ""
    best_text, best_score = best_span_of(answer)
    confidence, probability = best_confidence_of(answer)
    exact, f1 = question_scores(prediction, example.answers, scoring)
    best_exact, best_f1 = question_scores(best_text, example.answers, scoring)
    gold_doc = document_id(example.context) if example.context else None
    holds = [holds_answer(p.chunk.text, golds) for p in passages]
    from_gold = [gold_doc is not None and p.chunk.doc_id == gold_doc for p in passages]
    findable = retrieval and (has_answer or gold_doc is not None)
    first_hit = first_hit_rank([h or g for h, g in zip(holds, from_gold)]) if findable else None
    answer_read = any(holds[:read])
    answer_skipped = planned is not None and any(holds[read:planned])
    wrong = exact < 1.0
    views: tuple[PassageView, ...] = ()
    if keep_passages if keep_passages is not None else wrong:
        where = _predicted_span(answer)
        items = []
        shown = read if planned is None else max(read, planned)  # skipped passages too: they explain an early-stop miss
        for p, h, g in zip(passages[:shown], holds, from_gold):
            start = end = None
            if where is not None and where[0] == p.chunk.doc_id and where[1] == p.chunk.start:
                start, end = where[2], where[3]
            items.append(PassageView(p.rank, p.document.title, p.chunk.doc_id, p.chunk.text, float(p.score), h, g, start, end))
        views = tuple(items)
    return QuestionResult(
        id=example.id, question=example.question, golds=golds, has_answer=has_answer, prediction=prediction,
        best_text=best_text, score=float(best_score), exact=exact, f1=f1, best_exact=best_exact, best_f1=best_f1,
        latency_s=latency_s, first_hit=first_hit, findable=findable, answer_read=answer_read, answer_skipped=answer_skipped, passages_read=read,
        confidence=confidence, probability=probability, passages=views,
    )


# --- Aggregates (pure) ----------------------------------------------------------------------------


def recall_at(first_hits: Sequence[int | None], k: int) -> float:
    """Percentage of questions with a hit within the top k."""
    return percentage([1.0 if r is not None and r <= k else 0.0 for r in first_hits])


def mean_reciprocal_rank(first_hits: Sequence[int | None]) -> float:
    """Mean of 1/rank of the first hit (0 when none was retrieved)."""
    return sum(1.0 / r if r is not None else 0.0 for r in first_hits) / len(first_hits) if first_hits else 0.0


def latency_summary(seconds: Sequence[float]) -> dict:
    """p50, p95, mean and max in milliseconds (numpy's linear-interpolation percentiles)."""
    if not seconds:
        return {"p50": None, "p95": None, "mean": None, "max": None}
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95)),
            "mean": float(ms.mean()), "max": float(ms.max())}


def find_best_threshold(scores: Sequence[float], values: Sequence[float], has_answer: Sequence[bool],
                        answered_text: Sequence[bool]) -> tuple[float, float | None]:
    """The abstention threshold that maximises a metric over a set, as the official v2.0 script's
    `find_best_thresh`: start from abstaining on everything (each unanswerable question scores 1), then
    answer questions from the most confident down, adding the answer's metric `values[i]` for an
    answerable question, or -1 for an unanswerable one answered with text.

    Returns (best metric in %, threshold): answer iff score >= threshold. Questions with equal scores are
    answered together (a threshold cannot split them). The threshold is just above the top score when
    abstaining on everything is best, and None when there are no finite scores.
    """
    n = len(scores)
    if n == 0:
        return 0.0, None
    current = best = float(sum(1 for h in has_answer if not h))
    finite = [s for s in scores if math.isfinite(s)]
    threshold = math.nextafter(max(finite), math.inf) if finite else None
    order = sorted(range(n), key=lambda i: -scores[i])
    i = 0
    while i < n:
        level = scores[order[i]]
        while i < n and scores[order[i]] == level:
            q = order[i]
            current += values[q] if has_answer[q] else (-1.0 if answered_text[q] else 0.0)
            i += 1
        if current > best and math.isfinite(level):
            best, threshold = current, level
    return 100.0 * best / n, threshold


def risk_coverage(scores: Sequence[float], exact: Sequence[float], f1: Sequence[float], *, points: int = 20) -> list[dict]:
    """Answer only the most confident fraction of questions: at coverage c = 1/points … 1 the precision
    (exact match %) and F1 of the ceil(c·n) best-scored answers, and the score of the last one (the
    threshold that gives this coverage). Values are each question's best span, answered or not."""
    n = len(scores)
    if n == 0:
        return []
    order = sorted(range(n), key=lambda i: -scores[i])
    em_sum = np.cumsum([exact[i] for i in order])
    f1_sum = np.cumsum([f1[i] for i in order])
    curve, seen = [], set()
    for p in range(1, points + 1):
        m = min(n, max(1, math.ceil(p * n / points - 1e-9)))
        if m in seen:
            continue
        seen.add(m)
        last = scores[order[m - 1]]
        curve.append({
            "coverage": m / n, "answered": m, "threshold": last if math.isfinite(last) else None,
            "precision": 100.0 * float(em_sum[m - 1]) / m, "f1": 100.0 * float(f1_sum[m - 1]) / m,
        })
    return curve


def is_calibrated(results: Sequence[QuestionResult]) -> bool:
    """Whether a run's answers carry a calibrated probability of being right (its reader has a calibrator)."""
    return any(r.probability is not None for r in results)


def threshold_scale_of(results: Sequence[QuestionResult]) -> str:
    """The scale a run's thresholds are in: PROBABILITY when calibrated, else SCORE."""
    return PROBABILITY if is_calibrated(results) else SCORE


def ranking_values(results: Sequence[QuestionResult], scale: str) -> list[float]:
    """What ranks a run's answers from most to least confident on `scale`: the best span's confidence (its
    probability; 0.0 for no span) or its score (-inf for no span)."""
    if scale not in THRESHOLD_SCALES:
        raise ValueError(f"unknown threshold scale {scale!r}: use {PROBABILITY!r} or {SCORE!r}")
    return [r.confidence if scale == PROBABILITY else r.score for r in results]


def calibration_figures(results: Sequence[QuestionResult], *, scale: str | None = None,
                        bins: int = RELIABILITY_BINS) -> dict:
    """How well the confidence predicts being right, answering every question with its best guess
    (`QuestionResult.correct`): `ece` and the `reliability` bins of `confidence`; `coverage_at_80`/`_90`, the
    largest share of the questions answerable most confident first (ranked on `scale`) while at least
    80 %/90 % of those answered are right; `accuracy_answering_all` (%) and `mean_confidence`."""
    scale = threshold_scale_of(results) if scale is None else scale
    confidences = [r.confidence for r in results]
    correct = [r.correct for r in results]
    figures = {"ece": expected_calibration_error(confidences, correct, bins) if results else None,
               "reliability": reliability_bins(confidences, correct, bins)}
    ranked = ranking_values(results, scale)
    for target in COVERAGE_TARGETS:
        figures[f"coverage_at_{round(100 * target)}"] = coverage_at_accuracy(ranked, correct, target)
    figures["accuracy_answering_all"] = percentage(correct)
    figures["mean_confidence"] = sum(confidences) / len(confidences) if confidences else None
    return figures


def miss_counts(results: Sequence[QuestionResult]) -> dict:
    """Every wrong answer (exact match 0) classed as a retrieval, early-stop or reader miss, with the reader
    misses split into wrong spans, wrong abstentions and answers to unanswerable questions."""
    counts = {RETRIEVAL_MISS: 0, EARLY_STOP_MISS: 0, READER_MISS: 0, "wrong": 0, "reader_wrong_span": 0,
              "reader_abstained": 0, "reader_answered_unanswerable": 0}
    for r in results:
        kind = r.miss
        if kind is None:
            continue
        counts["wrong"] += 1
        counts[kind] += 1
        if kind == READER_MISS:
            if not r.has_answer:
                counts["reader_answered_unanswerable"] += 1
            elif r.abstained:
                counts["reader_abstained"] += 1
            else:
                counts["reader_wrong_span"] += 1
    return counts


def worst_misses(results: Sequence[QuestionResult], n: int = WORST_MISSES, *, scale: str = SCORE) -> list[QuestionResult]:
    """The wrong answers given with the most confidence (on `scale`) first (then the lowest F1, then file order)."""
    values = ranking_values(results, scale)
    wrong = [(i, r) for i, r in enumerate(results) if r.wrong]
    wrong.sort(key=lambda pair: (-values[pair[0]] if math.isfinite(values[pair[0]]) else math.inf, pair[1].f1, pair[0]))
    return [r for _, r in wrong[:n]]


def finite_or_none(value: float | None) -> float | None:
    """The value when it is a finite number, else None (JSON has no infinities)."""
    return value if value is not None and math.isfinite(value) else None


def miss_record(r: QuestionResult) -> dict:
    return {
        "id": r.id, "question": r.question, "golds": list(r.golds), "prediction": r.prediction,
        "best_span": r.best_text, "score": finite_or_none(r.score), "confidence": r.confidence,
        "probability": r.probability, "f1": 100.0 * r.f1, "miss": r.miss,
        "passages_read": r.passages_read,
        "passages": [
            {"rank": p.rank, "title": p.title, "doc_id": p.doc_id, "score": p.score, "holds_answer": p.holds_answer,
             "gold_paragraph": p.gold_paragraph, "text": p.text, "pred_start": p.pred_start, "pred_end": p.pred_end}
            for p in r.passages
        ],
    }


def build_report(results: Sequence[QuestionResult], *, k: int, retrieval: bool, seconds: float,
                 threshold: float, scoring: str, settings: dict | None = None, versions: dict | None = None,
                 machine: dict | None = None, min_confidence: float | None = None,
                 threshold_scale: str | None = None) -> dict:
    """All figures of a run, with the required keys at the top level.

    `threshold` is the score threshold the run abstained below and `min_confidence` the probability it
    needed (a calibrated run). `threshold_scale` (default: PROBABILITY when the answers carry a probability,
    else SCORE) is the scale of the recorded "threshold", the best thresholds and the risk–coverage curve;
    ask for SCORE to fit a score threshold on a calibrated run."""
    scale = threshold_scale_of(results) if threshold_scale is None else threshold_scale
    values = ranking_values(results, scale)
    n = len(results)
    report: dict = {
        "questions": n,
        "exact_match": percentage([r.exact for r in results]),
        "f1": percentage([r.f1 for r in results]),
    }
    if any(not r.has_answer for r in results):
        for name, group in (("HasAns", [r for r in results if r.has_answer]), ("NoAns", [r for r in results if not r.has_answer])):
            report[f"{name}_exact_match"] = percentage([r.exact for r in group])
            report[f"{name}_f1"] = percentage([r.f1 for r in group])
            report[f"{name}_total"] = len(group)
    findable = [r.first_hit for r in results if r.findable]
    for depth in sorted({1, 5, k}):
        report[f"recall@{depth}"] = recall_at(findable, depth) if retrieval and findable else None
    report["mrr"] = mean_reciprocal_rank(findable) if retrieval and findable else None
    report["retrieval_questions"] = len(findable) if retrieval else 0
    report["latency_ms"] = latency_summary([r.latency_s for r in results])
    report["passages_read_mean"] = sum(r.passages_read for r in results) / n if retrieval and n else None
    report["questions_per_s"] = n / seconds if seconds > 0 else None
    report["seconds"] = seconds
    report["answered"] = sum(1 for r in results if not r.abstained)
    report["abstained"] = sum(1 for r in results if r.abstained)
    report["threshold"] = min_confidence if scale == PROBABILITY else threshold
    report["threshold_scale"] = scale

    has_answer = [r.has_answer for r in results]
    answered_text = [bool(r.best_text) for r in results]
    best_f1, best_thresh = find_best_threshold(values, [r.best_f1 for r in results], has_answer, answered_text)
    best_em, best_em_thresh = find_best_threshold(values, [r.best_exact for r in results], has_answer, answered_text)
    report["best_threshold"] = best_thresh
    report["best_threshold_f1"] = best_f1
    if best_thresh is not None:
        at = [(r.best_exact, r.best_f1) if value >= best_thresh else question_scores("", r.golds or (), scoring)
              for r, value in zip(results, values)]
        report["best_threshold_exact_match"] = percentage([e for e, _ in at])
    else:
        report["best_threshold_exact_match"] = None
    report["best_exact_match_threshold"] = best_em_thresh
    report["best_exact_match"] = best_em
    report["risk_coverage"] = risk_coverage(values, [r.best_exact for r in results], [r.best_f1 for r in results])
    report.update(calibration_figures(results, scale=scale))
    report["misses"] = miss_counts(results)
    report["worst_misses"] = [miss_record(r) for r in worst_misses(results, scale=scale)]
    report["scoring"] = scoring
    report["settings"] = dict(settings or {})
    report["versions"] = dict(versions or {})
    report["machine"] = dict(machine or {})
    report["date"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return report


def predictions_of(results: Sequence[QuestionResult]) -> dict[str, str]:
    """The official predictions format: {question id: answer text}, "" for an abstention."""
    return {r.id: r.prediction for r in results}


def detail_record(r: QuestionResult) -> dict:
    """One question of `citeqa eval --details`: `prediction` is the best guess, given even when the run
    abstained; `confidence` its confidence; `exact_match` (0 or 1) and `f1` (0–1) score what the run
    predicted, so an abstention scores as one (1 on an unanswerable question, 0 otherwise)."""
    return {"id": r.id, "prediction": r.best_text, "confidence": r.confidence, "abstained": r.abstained,
            "exact_match": r.exact, "f1": r.f1}
