"""Train the answer calibrator (qa.answering.calibrator) from the product's own runs.

Questions the reader never trained on (dev sets) go through the product, reader-only and open (over an
index of every other article, so questions about the rest must abstain); every candidate answer is saved
with its features and whether it is right (SQuAD exact match). A model is chosen by cross-validation
grouped by article on the first halves (the same fixed halves as the threshold calibration) and written
as plain JSON; the second halves are only for measurement (benchmarks/calibration.py)."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.files import write_atomically
from qa.answering.calibrator import (CALIBRATOR_FILE, CALIBRATOR_FORMAT, CALIBRATOR_VERSION, AnswerCalibrator,
                                     model_from, sigmoid)
from qa.answering.features import FEATURE_NAMES, candidate_features, group_spans
from qa.answering.pipeline import MAX_CANDIDATES, PassageAnswerer, clean_question
from qa.evaluation.datasets import QAExample
from qa.evaluation.metrics import SCORING_V2, question_scores
from qa.evaluation.run import context_passage

MODES = ("reader-only", "open", "open-all")


@dataclass(frozen=True)
class Candidate:
    """One candidate answer of a question, as saved: its text, features and whether it is right."""

    text: str
    right: bool
    features: tuple[float, ...]


@dataclass(frozen=True)
class QuestionRecord:
    """One question's candidates (in the reader's score order) and where it came from."""

    set_name: str
    mode: str
    id: str
    article: str
    has_answer: bool
    passages_read: int
    candidates: tuple[Candidate, ...]

    def to_json(self) -> str:
        return json.dumps({"set": self.set_name, "mode": self.mode, "id": self.id, "article": self.article,
                           "has_answer": self.has_answer, "passages_read": self.passages_read,
                           "candidates": [{"text": c.text, "right": c.right, "features": list(c.features)}
                                          for c in self.candidates]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str) -> "QuestionRecord":
        data = json.loads(line)
        return cls(data["set"], data["mode"], data["id"], data["article"], data["has_answer"], data["passages_read"],
                   tuple(Candidate(c["text"], c["right"], tuple(c["features"])) for c in data["candidates"]))


def question_record(example: QAExample, answerer: PassageAnswerer, *, set_name: str, mode: str, k: int,
                    retrieve=None) -> QuestionRecord:
    """Run one question as the product does (early stop included) and keep every candidate with its label."""
    question = clean_question(example.question, answerer.config.max_question_chars)
    if mode == "reader-only":
        passages = [context_passage(example)]
    else:
        passages = retrieve(question, k)
    spans, read = answerer.read_spans(question, passages, limit=-math.inf)
    groups = group_spans(spans)[:MAX_CANDIDATES]
    rows = candidate_features(question, groups, passages, passages_read=read, retrieved=mode != "reader-only")
    candidates = tuple(Candidate(group.best.text, question_scores(group.best.text, example.answers, SCORING_V2)[0] == 1.0,
                                 tuple(round(v, 6) for v in row)) for group, row in zip(groups, rows))
    return QuestionRecord(set_name, mode, example.id, example.title or "", bool(example.answers), read, candidates)


def read_records(path: Path) -> tuple[list[QuestionRecord], int]:
    """Records saved so far and the byte length of the file they fill; a line cut off by a stop mid-write
    ends the list (it is redone)."""
    if not path.is_file():
        return [], 0
    records, used = [], 0
    for line in path.read_bytes().splitlines(keepends=True):
        try:
            if not line.endswith(b"\n"):
                break
            records.append(QuestionRecord.from_json(line.decode("utf-8")))
        except (json.JSONDecodeError, KeyError, UnicodeDecodeError):
            break
        used += len(line)
    return records, used


def collect(examples: Sequence[QAExample], answerer: PassageAnswerer, out: Path, *, set_name: str, mode: str, k: int = 5,
            retrieve=None, progress: bool = False) -> list[QuestionRecord]:
    """Records for `examples`, appended to `out` one line per question as they are made, so a stopped run
    resumes where it stopped (questions are matched by position and id)."""
    done, used = read_records(out)
    if [r.id for r in done] != [ex.id for ex in examples[: len(done)]] or len(done) > len(examples):
        raise ValueError(f"{out} holds records of other questions: delete it or choose another --data folder")
    if len(done) < len(examples):
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("r+b" if out.exists() else "wb") as fh:
            fh.truncate(used)  # drop a half-written last line
            fh.seek(used)
            todo: Iterable[QAExample] = examples[len(done):]
            if progress:
                from tqdm.auto import tqdm

                todo = tqdm(todo, desc=f"{set_name} {mode}", unit="q", total=len(examples) - len(done), file=sys.stderr)
            for example in todo:
                record = question_record(example, answerer, set_name=set_name, mode=mode, k=k, retrieve=retrieve)
                fh.write((record.to_json() + "\n").encode("utf-8"))
                fh.flush()
                done.append(record)
    return done


def collect_set(questions: Path, reader_dir: Path, data_dir: Path, *, modes: Sequence[str] = ("reader-only", "open"),
                halves: Sequence[str] = ("fit",), k: int = 5, embedder=None, limit_per_half: int | None = None,
                progress: bool = False) -> list[QuestionRecord]:
    """The records of one SQuAD-format question set in each mode and half, saved under `data_dir` as
    `{set}-{mode}-{half}.jsonl` (resumable). "open" indexes every other article (questions about the others
    have no answer); "open-all" indexes all of them (the open evaluation setting)."""
    from qa.answering.config import Config
    from qa.answering.reader import ExtractiveReader
    from qa.evaluation.datasets import load_squad
    from qa.training.calibration import collection_split, fitting_halves, open_squad_assistant

    examples = load_squad(questions)
    set_name = questions.stem
    config = Config(reader_model=str(reader_dir), k=k)
    reader = ExtractiveReader(reader_dir, threshold=-math.inf)
    records: list[QuestionRecord] = []
    for mode in modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")
        present, labelled = (collection_split(examples) if mode == "open" else (None, examples))
        parts = dict(zip(("fit", "held"), fitting_halves(labelled, limit_per_half)))
        if mode == "reader-only":
            answerer, retrieve = PassageAnswerer(reader, config), None
        else:
            answerer = open_squad_assistant(questions, config, embedder=embedder, reader=reader, titles=present,
                                            progress=progress)
            retrieve = answerer.retrieve
        for half in halves:
            records += collect(parts[half], answerer, data_dir / f"{set_name}-{mode}-{half}.jsonl", set_name=set_name,
                               mode=mode, k=k, retrieve=retrieve, progress=progress)
    return records


# --- Fitting --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidateTable:
    """Every candidate of a list of records as arrays: features, labels, the question and article of each."""

    x: np.ndarray
    y: np.ndarray
    question: np.ndarray
    article: np.ndarray
    weight: np.ndarray


def candidate_table(records: Sequence[QuestionRecord], set_weights: dict[str, float] | None = None) -> CandidateTable:
    rows, labels, questions, articles, weights = [], [], [], [], []
    article_ids: dict[tuple[str, str], int] = {}
    for number, record in enumerate(records):
        article = article_ids.setdefault((record.set_name, record.article), len(article_ids))
        weight = 1.0 if set_weights is None else set_weights.get(record.set_name, 1.0)
        for candidate in record.candidates:
            rows.append(candidate.features)
            labels.append(float(candidate.right))
            questions.append(number)
            articles.append(article)
            weights.append(weight)
    width = len(FEATURE_NAMES)
    if any(len(row) != width for row in rows):
        other = next(len(row) for row in rows if len(row) != width)
        raise ValueError(f"records saved with {other} features per candidate, this citeqa computes {width}: "
                         "collect them again into another --data folder")
    return CandidateTable(np.asarray(rows, dtype=np.float64).reshape(-1, width), np.asarray(labels),
                          np.asarray(questions, dtype=np.int64), np.asarray(articles, dtype=np.int64), np.asarray(weights))


def top_of_each_question(log_odds: np.ndarray, table: CandidateTable, questions: int) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the best candidate's log-odds and whether it is right (-inf and 0 for a question
    without candidates)."""
    best = np.full(questions, -np.inf)
    right = np.zeros(questions)
    for value, label, q in zip(log_odds, table.y, table.question):
        if value > best[q]:
            best[q], right[q] = value, label
    return best, right


@dataclass(frozen=True)
class ModelChoice:
    """One model family and size to try: "logistic", or "trees" with `trees`, `depth`."""

    kind: str
    trees: int = 0
    depth: int = 0
    learning_rate: float = 0.1

    @property
    def name(self) -> str:
        return "logistic" if self.kind == "logistic" else f"trees-{self.trees}x{self.depth}"


def model_choice(name: str) -> ModelChoice:
    """A model from its name: "logistic" or "trees-NxD"."""
    text = name.strip()
    if text == "logistic":
        return ModelChoice("logistic")
    shape = text.removeprefix("trees-").split("x")
    if text.startswith("trees-") and len(shape) == 2 and all(part.isdigit() and int(part) > 0 for part in shape):
        return ModelChoice("trees", int(shape[0]), int(shape[1]))
    raise ValueError(f"unknown calibrator model {name!r}: logistic or trees-NxD (e.g. trees-200x3)")


MODEL_CHOICES = (ModelChoice("logistic"), ModelChoice("trees", 100, 3), ModelChoice("trees", 200, 3),
                 ModelChoice("trees", 300, 4), ModelChoice("trees", 200, 6))


def fit_model(choice: ModelChoice, x: np.ndarray, y: np.ndarray, weight: np.ndarray, seed: int = 0) -> dict:
    """Fit one model with scikit-learn and return it as the calibrator file's plain "model" data."""
    if choice.kind == "logistic":
        from sklearn.linear_model import LogisticRegression

        mean, scale = x.mean(axis=0), x.std(axis=0)
        scale[scale == 0] = 1.0
        model = LogisticRegression(C=1.0, max_iter=2000).fit((x - mean) / scale, y, sample_weight=weight)
        return {"kind": "logistic", "mean": mean.tolist(), "scale": scale.tolist(), "coef": model.coef_[0].tolist(),
                "intercept": float(model.intercept_[0])}
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=choice.trees, max_depth=choice.depth, learning_rate=choice.learning_rate,
                                           min_samples_leaf=40, l2_regularization=1.0, early_stopping=False,
                                           random_state=seed)
    model.fit(x, y, sample_weight=weight)
    trees = []
    for (predictor,) in model._predictors:  # binary: one tree per iteration; leaf values include the learning rate
        nodes = predictor.nodes
        trees.append({"feature": [-1 if leaf else int(f) for f, leaf in zip(nodes["feature_idx"], nodes["is_leaf"])],
                      "threshold": [float(t) for t in nodes["num_threshold"]],
                      "left": [int(c) for c in nodes["left"]], "right": [int(c) for c in nodes["right"]],
                      "value": [float(v) for v in nodes["value"]]})
    return {"kind": "trees", "init": float(np.ravel(model._baseline_prediction)[0]), "learning_rate": 1.0, "trees": trees}


def raw_log_odds(model: dict, x: np.ndarray) -> np.ndarray:
    """The fitted model's log-odds through the shipped evaluator (so training measures what runs)."""
    return model_from(model).log_odds(x)


def fit_platt(log_odds: np.ndarray, right: np.ndarray) -> tuple[float, float]:
    """Platt scaling of the chosen candidates' log-odds: probability = sigmoid(a · log-odds + b)."""
    from sklearn.linear_model import LogisticRegression

    usable = np.isfinite(log_odds)
    model = LogisticRegression(C=1e4, max_iter=1000).fit(log_odds[usable, None], right[usable])
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def calibrator_data(model: dict, a: float, b: float, min_confidence: float, guess_floor: float, recipe: dict) -> dict:
    return {"format": CALIBRATOR_FORMAT, "version": CALIBRATOR_VERSION, "features": list(FEATURE_NAMES), "model": model,
            "platt": {"a": a, "b": b}, "default_min_confidence": min_confidence, "guess_floor": guess_floor,
            "recipe": recipe}


def cross_validated(choice: ModelChoice, table: CandidateTable, questions: int, folds: int = 5, seed: int = 0) -> dict:
    """Out-of-fold figures of one choice, folds grouped by article: the chosen candidates' log-odds, whether
    they are right, and the Brier score after Platt scaling (fitted out of fold too)."""
    from sklearn.model_selection import GroupKFold

    out_of_fold = np.zeros(len(table.y))
    for train, test in GroupKFold(n_splits=folds).split(table.x, table.y, table.article):
        model = fit_model(choice, table.x[train], table.y[train], table.weight[train], seed)
        out_of_fold[test] = raw_log_odds(model, table.x[test])
    best, right = top_of_each_question(out_of_fold, table, questions)
    a, b = fit_platt(best, right)
    probability = np.where(np.isfinite(best), sigmoid(a * best + b), 0.0)
    return {"model": choice.name, "brier": float(np.mean((probability - right) ** 2)), "top1_right": float(right.mean()),
            "log_odds": best, "right": right, "probability": probability}


def expected_score(probability: np.ndarray, right: np.ndarray, has_answer: np.ndarray, threshold: float) -> float:
    """Mean v2.0-style exact match when answering the questions whose probability reaches `threshold`: an
    answer scores when right, an abstention when the question has no answer."""
    answered = probability >= threshold
    return float(np.mean(np.where(answered, right, ~has_answer)))


def choose_min_confidence(probability: np.ndarray, right: np.ndarray, has_answer: np.ndarray) -> tuple[float, float]:
    """The probability threshold (on a 0.05 grid) that maximises v2.0-style exact match, and that figure."""
    grid = [round(0.05 * i, 2) for i in range(1, 20)]
    scores = [expected_score(probability, right, has_answer, t) for t in grid]
    best = int(np.argmax(scores))
    return grid[best], scores[best]


def choose_guess_floor(probability: np.ndarray, has_answer: np.ndarray, min_confidence: float, share: float = 0.9) -> float:
    """The probability under which `share` of the unanswerable questions fall (they get "the documents don't
    say", not a guess), at most `min_confidence`."""
    unanswerable = probability[~has_answer]
    if len(unanswerable) == 0:
        return min_confidence
    return float(min(min_confidence, round(float(np.quantile(unanswerable, share)), 3)))


def not_indexed(records: Sequence[QuestionRecord]) -> np.ndarray:
    """The open questions whose article is not in the index: the unanswerable ones of sets whose reader-only
    questions all have answers (a set with its own unanswerable questions, like SQuAD v2.0, also has ones whose
    paragraph is indexed, where something relevant is found)."""
    own_unanswerable = {r.set_name for r in records if r.mode == "reader-only" and not r.has_answer}
    return np.array([r.mode == "open" and not r.has_answer and r.set_name not in own_unanswerable for r in records])


def set_balance(records: Sequence[QuestionRecord], cap: float = 4.0) -> dict[str, float]:
    """Per-set weights that move the sets toward equal say (the biggest set weighs 1, a smaller one the square
    root of the size ratio, at most `cap`): a small out-of-domain set counts, without a few hundred
    questions being copied into memorisation."""
    sizes: dict[str, int] = {}
    for record in records:
        sizes[record.set_name] = sizes.get(record.set_name, 0) + 1
    biggest = max(sizes.values(), default=1)
    return {name: round(min(cap, math.sqrt(biggest / size)), 4) for name, size in sizes.items()}


def train_calibrator(fit_records: Sequence[QuestionRecord], *, choices: Sequence[ModelChoice] = MODEL_CHOICES,
                     set_weights: dict[str, float] | None = None, seed: int = 0, progress: bool = False,
                     sources: dict | None = None) -> tuple[dict, dict]:
    """Choose a model by cross-validation on `fit_records`, refit it on all of them, scale it (Platt, out of
    fold), choose the default min_confidence and guess floor on the open records; returns the calibrator
    file's data and the selection report."""
    table = candidate_table(fit_records, set_weights)
    if len(np.unique(table.y)) < 2:
        raise ValueError("the calibration questions need both right and wrong candidates")
    articles = len(np.unique(table.article))
    folds = min(5, articles)
    if folds < 2:
        raise ValueError("the calibration questions need at least two articles (folds are grouped by article)")
    trials = []
    for choice in choices:
        trial = cross_validated(choice, table, len(fit_records), folds, seed)
        trials.append((trial, choice))
        if progress:
            print(f"  {choice.name}: Brier {trial['brier']:.4f}, top-1 right {trial['top1_right']:.3f}", file=sys.stderr)
    best, choice = min(trials, key=lambda pair: pair[0]["brier"])
    model = fit_model(choice, table.x, table.y, table.weight, seed)
    a, b = fit_platt(best["log_odds"], best["right"])
    has_answer = np.array([r.has_answer for r in fit_records])
    open_rows = np.array([r.mode == "open" for r in fit_records])
    chosen = open_rows if open_rows.any() else np.ones(len(fit_records), dtype=bool)
    min_confidence, score = choose_min_confidence(best["probability"][chosen], best["right"][chosen], has_answer[chosen])
    missing = not_indexed(fit_records)
    floor = (choose_guess_floor(best["probability"][missing], has_answer[missing], min_confidence) if missing.any()
             else choose_guess_floor(best["probability"][chosen], has_answer[chosen], min_confidence))
    report = {"model": choice.name, "folds": folds, "questions": len(fit_records), "candidates": int(len(table.y)),
              "articles": articles, "cross_validation": [{"model": t["model"], "brier": round(t["brier"], 5),
                                                          "top1_right": round(t["top1_right"], 4)} for t, _ in trials],
              "min_confidence": min_confidence, "open_exact_match_at_min_confidence": round(100 * score, 2),
              "guess_floor": floor}
    recipe = {"command": "citeqa train-calibrator", "seed": seed, "set_weights": set_weights or {}, "sources": sources or {},
              **{key: report[key] for key in ("model", "folds", "questions", "candidates", "articles", "cross_validation")},
              "min_confidence_reason": "maximises v2.0-style exact match (answers right, abstentions on questions no "
                                       "indexed article answers) on the open first halves, out of fold",
              "guess_floor_reason": "9 in 10 open first-half questions whose article is not indexed (nothing relevant "
                                    "to find) fall below it: they get \"the documents don't say\", not a guess"}
    return calibrator_data(model, a, b, min_confidence, floor, recipe), report


def write_calibrator(model_dir: Path, data: dict) -> Path:
    """Write calibrator.json into a reader folder, atomically, after checking that it loads."""
    AnswerCalibrator.from_dict(data)
    path = Path(model_dir) / CALIBRATOR_FILE
    write_atomically(path, [json.dumps(data, separators=(",", ":")) + "\n"])
    return path
