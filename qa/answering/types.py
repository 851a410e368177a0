"""The plain records of the question-answering stage: passages in, answers with citations out."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from corpus.documents import Chunk
from embeddings.passage_index import StoredDocument


def json_ready(value):
    """Plain data with non-finite floats as None, so it is strict JSON (which has no infinities)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(item) for item in value]
    return value


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its document's metadata; `rank` counts from 1. `dense_*`/`bm25_*` are each
    retriever's own score and rank (1-based) when it ranked the chunk (None otherwise, or when not retrieved)."""

    chunk: Chunk
    document: StoredDocument
    score: float
    rank: int
    dense_score: float | None = None
    dense_rank: int | None = None
    bm25_score: float | None = None
    bm25_rank: int | None = None


@dataclass(frozen=True)
class Span:
    """A candidate answer span inside `passage.chunk.text[start:end]`, scored by the reader.

    `score` is the span's start+end logit minus its window's no-answer logit, so it is
    comparable across windows and passages; above 0 the model prefers the span to "no answer".
    """

    text: str
    score: float
    passage: Passage
    start: int
    end: int
    start_logit: float = 0.0  # the model's raw logits: features of the answer calibrator
    end_logit: float = 0.0
    null_logit: float = 0.0  # the window's no-answer (CLS) start+end logit


@dataclass(frozen=True)
class Citation:
    """Where an answer comes from. `document text[start:end]` is the answer; `passage` is the chunk verbatim,
    beginning at `passage_start` in the document."""

    doc_id: str
    title: str
    date: str | None
    source: str
    passage: str
    start: int
    end: int
    passage_start: int
    score: float
    url: str | None = None
    page: int | None = None

    @property
    def answer_start_in_passage(self) -> int:
        return self.start - self.passage_start

    @property
    def answer_end_in_passage(self) -> int:
        return self.end - self.passage_start


CONFIDENCE_WORDS = ((0.9, "very likely right"), (0.7, "likely right"), (0.4, "possibly right"), (0.2, "uncertain"),
                    (0.0, "unlikely right"))


def confidence_words(probability: float) -> str:
    """A probability of being right in words and %, as the chat and CLI show it: "likely right, 82 %"."""
    words = next(label for floor, label in CONFIDENCE_WORDS if probability >= floor)
    return f"{words}, {100 * probability:.0f} %"


@dataclass(frozen=True)
class Answer:
    """The assistant's reply: `text` is None when it abstains. `citations` support the answer, strongest first;
    when it abstains they are the closest passages found (with start == end == passage_start).

    With an answer calibrator (the reader folder's calibrator.json), `probability` is the calibrated chance
    that the answer is right and decides abstention against `min_confidence`; when it abstains but a
    candidate is plausible, `unsure` is True and `candidates[0]` is the best guess (shown as such, never as
    an answer). Without one, `score` decides against `threshold`."""

    question: str
    text: str | None
    score: float
    citations: tuple[Citation, ...]
    candidates: tuple["Answer", ...] = field(default=())
    threshold: float = 0.0
    passages_read: int = 0  # of the retrieved passages; fewer than k when a confident early answer ended the reading
    probability: float | None = None  # calibrated probability of being right (None: no calibrator)
    min_confidence: float | None = None  # the probability an answer needed (None: no calibrator)
    unsure: bool = False  # abstained, but `candidates[0]` is a best guess worth showing
    newer_preferred: bool = False  # a time-sensitive question: a newer source's differing answer was chosen

    @property
    def abstained(self) -> bool:
        return self.text is None

    @property
    def confidence(self) -> float:
        """The calibrated probability of being right; without a calibrator, the logistic of the margin over
        no-answer (a 0–1 figure, not a probability)."""
        if self.probability is not None:
            return self.probability
        return 1.0 / (1.0 + math.exp(-max(min(self.score, 50.0), -50.0)))

    @property
    def best_guess(self) -> "Answer | None":
        """When abstaining but unsure: the strongest candidate, to show as a low-confidence guess."""
        return self.candidates[0] if self.abstained and self.unsure and self.candidates else None

    def to_dict(self) -> dict:
        """Plain JSON-ready data (what `citeqa ask --json` prints and the chat's `/ask` returns): infinite
        scores and thresholds become None, as strict JSON has no infinities."""
        data = asdict(self)
        data["abstained"] = self.abstained
        data["confidence"] = round(self.confidence, 4)
        return json_ready(data)

    def __str__(self) -> str:
        guess = self.best_guess
        if guess is not None:
            return f"Not sure. Best guess, low confidence: {guess}"
        if self.text is None:
            return "The documents don't say."
        first = self.citations[0] if self.citations else None
        where = f" — {first.title} ({first.date}), chars {first.start}–{first.end}" if first else ""
        return f"{self.text} [{self.confidence:.0%}]{where}"
