"""Calibrate a reader's no-answer threshold: fit it on one half of a question set's articles, report the
other half, and store it in the model folder where `ExtractiveReader` reads it. Two settings: SQuAD v2.0
(each question read against its own paragraph; unanswerable means the paragraph lacks the answer) and
open (questions retrieved over a collection holding every other article; unanswerable means no indexed
document holds the answer, the case the product abstains on)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from embeddings.embedder import Embedder
from qa.answering.config import Config, embedder_from_config
from qa.answering.pipeline import Assistant, PassageAnswerer
from qa.answering.reader import ExtractiveReader, Reader, record_settings, recorded_settings
from qa.evaluation.datasets import QAExample, load_squad, spread
from qa.evaluation.metrics import SCORING_V2
from qa.evaluation.run import run_questions, squad_index_dir
from qa.evaluation.scoring import build_report, find_best_threshold


def split_by_article(examples: Sequence[QAExample]) -> tuple[list[QAExample], list[QAExample]]:
    """Two fixed halves: the first half of the articles (in file order) and the rest."""
    titles = list(dict.fromkeys(ex.title for ex in examples))
    fit_titles = set(titles[: (len(titles) + 1) // 2])
    return [ex for ex in examples if ex.title in fit_titles], [ex for ex in examples if ex.title not in fit_titles]


def fitting_halves(examples: Sequence[QAExample], limit_per_half: int | None) -> tuple[list[QAExample], list[QAExample]]:
    """`split_by_article`, each half spread to at most `limit_per_half` questions (quick runs)."""
    fit, held = split_by_article(examples)
    if limit_per_half is not None:
        fit, held = spread(fit, limit_per_half), spread(held, limit_per_half)
    return fit, held


def open_squad_assistant(questions: Path, config: Config, *, embedder: Embedder | None = None, reader: Reader | None = None,
                         titles: frozenset[str] | None = None, progress: bool = False) -> Assistant:
    """An assistant over a SQuAD file's own paragraphs (only its articles in `titles` when given), the open
    setting that calibration fits in."""
    embedder = embedder if embedder is not None else embedder_from_config(config)
    index_dir = squad_index_dir(questions, embedder, config.chunking, titles=titles, progress=progress)
    return Assistant.from_config(config.with_changes(index_dir=str(index_dir)), embedder=embedder, reader=reader)


def held_out_summary(report: dict) -> dict:
    """The figures the model card quotes for the held-out half."""
    return {
        "questions": report["questions"],
        "exact_match": report["exact_match"],
        "f1": report["f1"],
        "HasAns_f1": report.get("HasAns_f1"),
        "NoAns_accuracy": report.get("NoAns_exact_match"),
    }


def store_threshold(model_dir: Path, threshold: float, fitted_on: str = "squad-v2.0") -> None:
    """Write `citeqa.no_answer_threshold` (and the setting it was fitted in) into the model folder's
    config.json (atomically)."""
    record_settings(model_dir, no_answer_threshold=threshold, threshold_fitted_on=fitted_on)


def calibrate_reader(model_dir: str | Path, questions: str | Path, *, write: bool = True,
                     limit_per_half: int | None = None, progress: bool = False) -> dict:
    """Fit the threshold maximising F1 on the first half of the articles; score the second half with it."""
    model_dir = Path(model_dir)
    fit, held = fitting_halves(load_squad(questions), limit_per_half)
    if not fit or not held:
        raise ValueError(f"{questions} needs questions from at least two articles to calibrate")
    assistant = PassageAnswerer(ExtractiveReader(model_dir, threshold=-math.inf), Config())

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


def collection_split(examples: Sequence[QAExample]) -> tuple[frozenset[str], list[QAExample]]:
    """Every other article (in file order, from the first) stays in the collection; questions about the
    others become unanswerable, since no indexed document holds their answer."""
    titles = list(dict.fromkeys(ex.title for ex in examples))
    present = frozenset(titles[0::2])
    return present, [ex if ex.title in present else replace(ex, answers=(), answer_starts=()) for ex in examples]


def outcome_at(results: Sequence, threshold: float) -> dict:
    """Official v2.0 F1, HasAns F1 and NoAns accuracy (%) when answering exactly the questions whose best
    span scores at least `threshold` (`results` read with no threshold)."""
    answered = [r.score >= threshold and bool(r.best_text) for r in results]
    f1 = [(r.best_f1 if a else 0.0) if r.has_answer else (0.0 if a else 1.0) for r, a in zip(results, answered)]
    has = [v for r, v in zip(results, f1) if r.has_answer]
    no = [v for r, v in zip(results, f1) if not r.has_answer]
    mean = lambda values: 100.0 * sum(values) / len(values) if values else None  # noqa: E731
    return {"questions": len(results), "f1": mean(f1), "HasAns_f1": mean(has), "NoAns_accuracy": mean(no),
            "answered": sum(answered), "HasAns_total": len(has), "NoAns_total": len(no)}


def calibrate_open_threshold(model_dir: str | Path, questions: str | Path, *, k: int = 5, write: bool = True,
                             limit_per_half: int | None = None, embedding_model: str | None = None,
                             embedder: Embedder | None = None, progress: bool = False) -> dict:
    """Fit the threshold maximising v2.0 F1 on open retrieval: index every other article of a SQuAD file,
    ask the first half of all articles' questions (those about absent articles must abstain), and report the
    other half, with the folder's previous threshold beside it."""
    model_dir, questions = Path(model_dir), Path(questions)
    present, relabelled = collection_split(load_squad(questions))
    fit, held = fitting_halves(relabelled, limit_per_half)
    for half in (fit, held):
        if not any(ex.answers for ex in half) or all(ex.answers for ex in half):
            raise ValueError(f"{questions} needs at least four articles with questions to calibrate in the open setting")
    previous = recorded_settings(model_dir).get("no_answer_threshold")
    config = Config(reader_model=str(model_dir), embedding_model=embedding_model, k=k, early_stop_score=math.inf)
    assistant = open_squad_assistant(questions, config, embedder=embedder, titles=present, progress=progress,
                                     reader=ExtractiveReader(model_dir, threshold=-math.inf))

    def read(examples):
        results, _ = run_questions(examples, assistant, k=k, threshold=-math.inf, reader_only=False,
                                   scoring=SCORING_V2, progress=progress)
        return results

    fit_results = read(fit)
    best_f1, threshold = find_best_threshold([r.score for r in fit_results], [r.best_f1 for r in fit_results],
                                             [r.has_answer for r in fit_results], [bool(r.best_text) for r in fit_results])
    if threshold is None:
        raise ValueError("no finite span scores on the calibration half: is this a question-answering model?")
    held_results = read(held)
    summary = {
        "threshold": threshold,
        "fitted_on": "open",
        "questions_file": questions.name,
        "k": k,
        "articles_indexed": len(present),
        "fit": {"articles": len({ex.title for ex in fit}), "questions": len(fit), "best_f1": best_f1},
        "held_out": {"articles": len({ex.title for ex in held}), **outcome_at(held_results, threshold)},
    }
    if isinstance(previous, (int, float)):
        summary["held_out_at_previous_threshold"] = {"threshold": previous, **outcome_at(held_results, previous)}
    if write:
        store_threshold(model_dir, threshold, fitted_on="open")
    return summary
