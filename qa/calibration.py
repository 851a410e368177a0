"""Calibrate a reader's no-answer threshold: fit it on one half of SQuAD v2.0 dev's articles, report
the other half, and store it in the model folder where `ExtractiveReader` reads it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from qa.datasets import QAExample, load_squad, spread
from qa.metrics import SCORING_V2
from qa.reader import store_reader_settings


def split_by_article(examples: Sequence[QAExample]) -> tuple[list[QAExample], list[QAExample]]:
    """Two fixed halves: the first half of the articles (in file order) and the rest."""
    titles = list(dict.fromkeys(ex.title for ex in examples))
    fit_titles = set(titles[: (len(titles) + 1) // 2])
    return [ex for ex in examples if ex.title in fit_titles], [ex for ex in examples if ex.title not in fit_titles]


def held_out_summary(report: dict) -> dict:
    """The figures the model card quotes for the held-out half."""
    return {
        "questions": report["questions"],
        "exact_match": report["exact_match"],
        "f1": report["f1"],
        "HasAns_f1": report.get("HasAns_f1"),
        "NoAns_accuracy": report.get("NoAns_exact_match"),
    }


def store_threshold(model_dir: Path, threshold: float) -> None:
    """Write `citeqa.no_answer_threshold` into the model folder's config.json (atomically)."""
    store_reader_settings(model_dir, no_answer_threshold=threshold)


def calibrate_reader(model_dir: str | Path, questions: str | Path, *, write: bool = True,
                     limit_per_half: int | None = None, progress: bool = False) -> dict:
    """Fit the threshold maximising F1 on the first half of the articles; score the second half with it."""
    from qa.config import Config
    from qa.evaluation import build_report, run_questions
    from qa.pipeline import Assistant
    from qa.reader import ExtractiveReader

    model_dir = Path(model_dir)
    fit, held = split_by_article(load_squad(questions))
    if limit_per_half is not None:
        fit, held = spread(fit, limit_per_half), spread(held, limit_per_half)
    if not fit or not held:
        raise ValueError(f"{questions} needs questions from at least two articles to calibrate")
    assistant = Assistant(None, None, ExtractiveReader(model_dir, threshold=-math.inf), Config())

    def score(examples, threshold):
        results, seconds = run_questions(examples, assistant, k=1, threshold=threshold, reader_only=True,
                                         scoring=SCORING_V2, progress=progress)
        return build_report(results, k=1, retrieval=False, seconds=seconds, threshold=threshold, scoring=SCORING_V2)

    fit_report = score(fit, -math.inf)
    threshold = fit_report["best_threshold"]
    if threshold is None:
        raise ValueError("no finite span scores on the calibration half: is this a question-answering model?")
    held_report = score(held, threshold)
    summary = {
        "threshold": threshold,
        "questions_file": Path(questions).name,
        "fit": {"articles": len({ex.title for ex in fit}), "questions": len(fit), "best_f1": fit_report["best_threshold_f1"]},
        "held_out": {"articles": len({ex.title for ex in held}), **held_out_summary(held_report)},
    }
    if write:
        store_threshold(model_dir, threshold)
    return summary
