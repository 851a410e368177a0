"""Early stopping of the reader: read the first passages alone and skip the rest when an answer there is
already confident (adaptive reading, as in Kratzwald & Feuerriegel 2018). The score that counts as
confident is fitted per reader on open SQuAD: the lowest one that costs at most a given F1 against
reading all k passages, checked on held-out articles, and stored in the model folder."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from embeddings.embedder import Embedder
from qa.answering.config import Config
from qa.answering.pipeline import merge_spans
from qa.answering.reader import record_settings
from qa.evaluation.datasets import load_squad
from qa.evaluation.metrics import question_scores
from qa.evaluation.scoring import scoring_for
from qa.training.calibration import fitting_halves, open_squad_assistant


@dataclass(frozen=True)
class ReadingRecord:
    """One question read in full. `first_score` is the best span score among the first passages (-inf if
    none could end the reading: no span, or below the no-answer threshold); F1s are 0–1."""

    first_score: float
    first_f1: float
    full_f1: float
    passages: int = 0  # retrieved (read when not stopped early)


@dataclass(frozen=True)
class EarlyStopOutcome:
    """What reading with a given stop score gives on a set of records."""

    f1: float  # percent
    stopped: float  # share of questions, 0–1
    passages_read: float  # mean per question


def early_stop_outcome(records: Sequence[ReadingRecord], stop_score: float | None, first: int) -> EarlyStopOutcome:
    """F1, share stopped and passages read when reading ends at `stop_score` (None: never stops)."""
    if not records:
        return EarlyStopOutcome(0.0, 0.0, 0.0)
    stopped = [stop_score is not None and r.first_score >= stop_score for r in records]
    f1 = sum(r.first_f1 if s else r.full_f1 for r, s in zip(records, stopped)) / len(records)
    read = sum(first if s else r.passages for r, s in zip(records, stopped)) / len(records)
    return EarlyStopOutcome(100.0 * f1, sum(stopped) / len(records), read)


def choose_early_stop_score(records: Sequence[ReadingRecord], max_f1_loss: float) -> float | None:
    """The lowest observed score such that stopping there, or at any higher observed score, loses at most
    `max_f1_loss` F1 points against reading everything; None when even the highest loses more."""
    ordered = sorted((r for r in records if math.isfinite(r.first_score)), key=lambda r: -r.first_score)
    n, gained, chosen, i = len(records), 0.0, None, 0
    while i < len(ordered):
        score = ordered[i].first_score
        while i < len(ordered) and ordered[i].first_score == score:  # equal scores stop together
            gained += ordered[i].first_f1 - ordered[i].full_f1
            i += 1
        if -100.0 * gained / n > max_f1_loss + 1e-9:
            break
        chosen = score
    return chosen


def reading_records(examples, assistant, *, k: int, first: int, threshold: float, scoring: str,
                    progress: bool = False) -> list[ReadingRecord]:
    """Each question retrieved and read in full once; the first-passages answer is taken from the same
    spans (a window's spans do not depend on the other passages). Also returns the mean passages found."""
    iterator = examples
    if progress:
        import sys

        from tqdm.auto import tqdm

        iterator = tqdm(examples, desc="read", unit="q", dynamic_ncols=True, file=sys.stderr)
    records = []
    for example in iterator:
        passages = assistant.retrieve(example.question, k)
        spans = assistant.reader.read(example.question, passages, top_n=assistant.config.spans_per_window)
        early = [s for s in spans if s.passage.rank <= first]
        full_answer = merge_spans(example.question, spans, passages, threshold=threshold)
        first_answer = merge_spans(example.question, early, passages, threshold=threshold)
        can_stop = early and len(passages) > first and early[0].score >= threshold
        records.append(ReadingRecord(
            first_score=early[0].score if can_stop else -math.inf,
            first_f1=question_scores(first_answer.text or "", example.answers, scoring)[1],
            full_f1=question_scores(full_answer.text or "", example.answers, scoring)[1],
            passages=len(passages),
        ))
    return records


def calibrate_early_stop(model_dir: str | Path, questions: str | Path, *, k: int = 5, first: int = 2,
                         max_f1_loss: float = 0.2, limit_per_half: int | None = None, write: bool = True,
                         embedding_model: str | None = None, embedder: Embedder | None = None,
                         progress: bool = False) -> dict:
    """Fit the early-stop score on the first half of a SQuAD file's articles (open retrieval over the
    file's own paragraphs), report the other half with it, and store it in the reader's config.json."""
    model_dir, questions = Path(model_dir), Path(questions)
    fit, held = fitting_halves(load_squad(questions), limit_per_half)
    if not fit or not held:
        raise ValueError(f"{questions} needs questions from at least two articles to calibrate")
    config = Config(reader_model=str(model_dir), embedding_model=embedding_model, k=k, early_stop_passages=first,
                    early_stop_score=math.inf)
    assistant = open_squad_assistant(questions, config, embedder=embedder, progress=progress)
    threshold = assistant.reader.no_answer_threshold
    scoring = scoring_for([*fit, *held])

    def records_of(examples):
        return reading_records(examples, assistant, k=k, first=first, threshold=threshold, scoring=scoring,
                               progress=progress)

    fit_records = records_of(fit)
    score = choose_early_stop_score(fit_records, max_f1_loss)
    held_records = records_of(held)
    fit_all, fit_stop = early_stop_outcome(fit_records, None, first), early_stop_outcome(fit_records, score, first)
    held_all, held_stop = early_stop_outcome(held_records, None, first), early_stop_outcome(held_records, score, first)
    summary = {
        "early_stop_score": score,
        "first_passages": first,
        "k": k,
        "max_f1_loss": max_f1_loss,
        "no_answer_threshold": threshold,
        "questions_file": questions.name,
        "fit": {"articles": len({ex.title for ex in fit}), "questions": len(fit),
                "f1_reading_all": fit_all.f1, "f1_early_stop": fit_stop.f1, "stopped_early": fit_stop.stopped},
        "held_out": {
            "articles": len({ex.title for ex in held}), "questions": len(held),
            "f1_reading_all": held_all.f1, "f1_early_stop": held_stop.f1, "stopped_early": held_stop.stopped,
            "passages_read_mean": held_stop.passages_read, "passages_read_mean_reading_all": held_all.passages_read,
        },
    }
    if write and score is not None:
        record_settings(model_dir, early_stop_score=score)
    return summary
