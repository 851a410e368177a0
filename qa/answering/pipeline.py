"""The assistant: retrieve passages, read spans, merge equal answers, cite every supporting passage."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from embeddings.embedder import Embedder
from embeddings.passage_index import PassageIndex
from qa.answering.calibrator import AnswerCalibrator, load_calibrator
from qa.answering.config import Config, check_count, check_probability, embedder_from_config
from qa.answering.disagreement import prefer_newer
from qa.answering.features import CandidateGroup, candidate_features, group_spans
from qa.answering.reader import ExtractiveReader, Reader
from qa.answering.retrievers import Retriever, make_retriever
from qa.answering.types import Answer, Citation, Passage, Span
from qa.indexing.stores import open_index

log = logging.getLogger(__name__)

MAX_CANDIDATES = 10  # candidate answers the calibrator ranks per question (the rest score lower on every signal)


class EmptyQuestionError(ValueError):
    """The question is empty or only whitespace."""

    def __init__(self) -> None:
        super().__init__("the question is empty: type a question about the documents")


def clean_question(question: str, max_chars: int) -> str:
    """Validate a question: reject empty ones; drop control characters; cut very long ones (with a warning)."""
    if not isinstance(question, str):
        raise TypeError(f"the question must be a string, got {type(question).__name__}")
    cleaned = "".join(ch if ch.isprintable() else " " for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise EmptyQuestionError()
    if len(cleaned) > max_chars:
        log.warning("question of %d characters cut to %d", len(cleaned), max_chars)
        cleaned = cleaned[:max_chars].rsplit(" ", 1)[0] or cleaned[:max_chars]
    return cleaned


def checked_threshold(threshold) -> float:
    """A caller's abstention threshold: a number (inf and -inf allowed), never NaN (which would never abstain)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or math.isnan(threshold):
        raise ValueError(f"threshold must be a number (inf and -inf allowed), got {threshold!r}")
    return float(threshold)


def citation_for(span: Span) -> Citation:
    chunk, document = span.passage.chunk, span.passage.document
    start = chunk.start + span.start
    return Citation(
        doc_id=chunk.doc_id, title=document.title, date=document.date, source=document.source,
        passage=chunk.text, start=start, end=chunk.start + span.end, passage_start=chunk.start,
        score=span.score, url=document.url, page=document.page_of(start),
    )


def passage_citation(passage: Passage) -> Citation:
    """A citation of a whole passage with an empty answer span (used when abstaining)."""
    chunk, document = passage.chunk, passage.document
    return Citation(
        doc_id=chunk.doc_id, title=document.title, date=document.date, source=document.source,
        passage=chunk.text, start=chunk.start, end=chunk.start, passage_start=chunk.start,
        score=passage.score, url=document.url, page=document.page_of(chunk.start),
    )


def group_citations(group: CandidateGroup) -> tuple[Citation, ...]:
    """A citation of each passage supporting a candidate, once each, strongest first."""
    citations, seen = [], set()
    for span in group.spans:
        where = (span.passage.chunk.doc_id, span.passage.chunk.chunk_id)
        if where not in seen:
            seen.add(where)
            citations.append(citation_for(span))
    return tuple(citations)


def merge_spans(
    question: str,
    spans: Sequence[Span],
    passages: Sequence[Passage],
    *,
    threshold: float,
    alternatives: int = 3,
    passages_read: int | None = None,
) -> Answer:
    """Group spans by normalised text; each group is one answer citing each supporting passage once
    (strongest first). The best group answers unless it scores below `threshold` (no calibrator)."""
    read = len(passages) if passages_read is None else passages_read
    answers = [Answer(question, group.best.text, group.best.score, group_citations(group), threshold=threshold,
                      passages_read=read) for group in group_spans(spans)]
    if not answers or answers[0].score < threshold:
        closest = tuple(passage_citation(p) for p in passages[:3])
        best_score = answers[0].score if answers else float("-inf")
        return Answer(question, None, best_score, closest, tuple(answers[:alternatives]), threshold, read)
    best = answers[0]
    return Answer(question, best.text, best.score, best.citations, tuple(answers[1 : 1 + alternatives]), threshold, read)


def calibrated_answer(
    question: str,
    spans: Sequence[Span],
    passages: Sequence[Passage],
    calibrator: AnswerCalibrator,
    *,
    min_confidence: float,
    threshold: float,
    alternatives: int,
    passages_read: int,
    retrieved: bool,
    context: str | None = None,
) -> Answer:
    """Candidates ranked by the calibrator's probability of being right (each group's evidence from all its
    passages combined in its features); the best answers when at least `min_confidence` likely right. Below
    that it abstains, keeping the best guess as `candidates[0]` (`unsure`) when it reaches the guess floor."""
    groups = group_spans(spans)[:MAX_CANDIDATES]
    probabilities = (calibrator.probabilities(
        candidate_features(question, groups, passages, passages_read=passages_read, retrieved=retrieved, context=context))
        if groups else [])
    order = sorted(range(len(groups)), key=lambda i: (-probabilities[i], i))
    answers = [Answer(question, groups[i].best.text, groups[i].best.score, group_citations(groups[i]), threshold=threshold,
                      passages_read=passages_read, probability=float(probabilities[i]), min_confidence=min_confidence)
               for i in order]
    if answers and answers[0].confidence >= min_confidence:
        best = answers[0]
        return replace(best, candidates=tuple(answers[1 : 1 + alternatives]))
    closest = tuple(passage_citation(p) for p in passages[:3])
    best_score = answers[0].score if answers else float("-inf")
    probability = answers[0].confidence if answers else 0.0
    return Answer(question, None, best_score, closest, tuple(answers[: max(alternatives, 1)]), threshold, passages_read,
                  probability=probability, min_confidence=min_confidence,
                  unsure=bool(answers) and probability >= calibrator.guess_floor)


def reader_from_config(config: Config) -> ExtractiveReader:
    """The extractive reader a config names, with its window and threshold settings."""
    return ExtractiveReader(
        config.reader_model, threshold=config.no_answer_threshold,
        max_length=config.reader_max_length, stride=config.reader_stride,
        max_answer_tokens=config.max_answer_tokens, batch_size=config.reader_batch_size,
        max_windows_per_passage=config.max_windows_per_passage, backend=config.reader_backend,
    )


def calibrator_of(reader: Reader) -> AnswerCalibrator | None:
    """The answer calibrator shipped beside an extractive reader's weights (calibrator.json), if any."""
    return load_calibrator(reader.model_dir) if isinstance(reader, ExtractiveReader) else None


def opened_index(config: Config, embedder: Embedder) -> tuple[PassageIndex, Retriever]:
    """The index a config names, opened at its live version, and the retriever of its retrieval mode."""
    index = open_index(config.index_target, embedder)
    return index, make_retriever(config.retrieval_mode, index, embedder, rrf_k=config.rrf_k, pool=config.fusion_pool)


class PassageAnswerer:
    """Reads given passages and merges their spans into a cited answer: the assistant without retrieval
    (what reader-only evaluation and calibration run). Safe to share between threads.

    With a `calibrator`, candidates are ranked by their probability of being right and the answer needs
    `min_confidence`; without, the best span score decides against the reader's threshold."""

    retrieves = False  # whether its passages come from retrieval (a feature of the calibrator)

    def __init__(self, reader: Reader, config: Config | None = None, calibrator: AnswerCalibrator | None = None):
        self.reader = reader
        self.config = config if config is not None else Config()
        self.calibrator = calibrator

    @classmethod
    def from_config(cls, config: Config | None = None, *, reader: Reader | None = None) -> "PassageAnswerer":
        config = config if config is not None else Config()
        reader = reader if reader is not None else reader_from_config(config)
        return cls(reader, config, calibrator_of(reader))

    @property
    def early_stop_score(self) -> float | None:
        """The score that ends reading after the first passages: the config's, else the reader's calibrated one."""
        if self.config.early_stop_score is not None:
            return None if self.config.early_stop_score == float("inf") else self.config.early_stop_score
        return self.reader.early_stop_score

    @property
    def min_confidence(self) -> float | None:
        """The probability an answer needs: the config's, else the calibrator's measured default; None without
        a calibrator."""
        if self.calibrator is None:
            return None
        return self.calibrator.default_min_confidence if self.config.min_confidence is None else self.config.min_confidence

    def read_spans(self, question: str, passages: Sequence[Passage], *, limit: float) -> tuple[list[Span], int]:
        """The candidate spans of the passages read, and how many were read. With an early-stop score, the first
        `early_stop_passages` are read alone, and the rest only if no span there reaches that score (and `limit`)."""
        top_n, first, stop = self.config.spans_per_window, self.config.early_stop_passages, self.early_stop_score
        if stop is not None and len(passages) > first:
            spans = self.reader.read(question, passages[:first], top_n=top_n)
            if spans and spans[0].score >= max(stop, limit):  # confident already: the rest would rarely win
                return spans, first
            spans += self.reader.read(question, passages[first:], top_n=top_n)
            return spans, len(passages)
        return self.reader.read(question, passages, top_n=top_n), len(passages)

    def answer_from_passages(self, question: str, passages: Sequence[Passage], *, threshold: float | None = None,
                             min_confidence: float | None = None, context: str | None = None) -> Answer:
        """Read the given passages (already retrieved, or a question's own paragraph) and merge the spans
        into a cited answer. `threshold` (a span score) decides without a calibrator, `min_confidence`
        (a probability; default `self.min_confidence`) with one; `context` (what a follow-up leans on) feeds
        only the calibrator's text features."""
        question = clean_question(question, self.config.max_question_chars)
        limit = self.reader.no_answer_threshold if threshold is None else checked_threshold(threshold)
        spans, read = self.read_spans(question, passages, limit=limit)
        if self.calibrator is None:
            answer = merge_spans(question, spans, passages, threshold=limit, alternatives=self.config.alternatives,
                                 passages_read=read)
        else:
            needed = self.min_confidence if min_confidence is None else check_probability("min_confidence", min_confidence)
            answer = calibrated_answer(question, spans, passages, self.calibrator, min_confidence=needed, threshold=limit,
                                       alternatives=self.config.alternatives, passages_read=read, retrieved=self.retrieves,
                                       context=context)
        return prefer_newer(answer) if self.config.prefer_newer else answer


class Assistant(PassageAnswerer):
    """Answers questions over one index; safe to share between threads (models load once).

    `embedder` is the model the index's vectors came from; it is kept so a reopened index (after a write)
    gets the same model object."""

    retrieves = True

    def __init__(self, index: PassageIndex, retriever: Retriever, reader: Reader, config: Config | None = None,
                 embedder: Embedder | None = None, calibrator: AnswerCalibrator | None = None):
        super().__init__(reader, config, calibrator)
        self.index = index
        self.retriever = retriever
        self.embedder = embedder

    @classmethod
    def from_config(cls, config: Config | None = None, *, embedder: Embedder | None = None,
                    reader: Reader | None = None) -> "Assistant":
        """Build everything a config names: the embedder, the index (the bundled one if none) in its store
        (FAISS folder or Milvus), retriever, reader."""
        config = config if config is not None else Config()
        embedder = embedder if embedder is not None else embedder_from_config(config)
        index, retriever = opened_index(config, embedder)
        if reader is None:
            reader = reader_from_config(config)
        return cls(index, retriever, reader, config, embedder, calibrator_of(reader))

    def reopened(self) -> "Assistant":
        """A new assistant over the index's live version, with the same models (calibrator too) and settings."""
        embedder = self.embedder if self.embedder is not None else embedder_from_config(self.config)
        index, retriever = opened_index(self.config, embedder)
        return Assistant(index, retriever, self.reader, self.config, embedder, self.calibrator)

    def with_retrieval_mode(self, mode: str) -> "Assistant":
        """The same index and models searched with another retrieval mode."""
        config = self.config.with_changes(retrieval_mode=mode)  # validates the mode
        if self.embedder is None:
            raise ValueError("this assistant was built without its embedder; build it with Assistant.from_config")
        retriever = make_retriever(mode, self.index, self.embedder, rrf_k=config.rrf_k, pool=config.fusion_pool)
        return Assistant(self.index, retriever, self.reader, config, self.embedder, self.calibrator)

    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        k = self.config.k if k is None else check_count("k", k)
        return self.retriever.search(clean_question(question, self.config.max_question_chars), k)

    def answer(self, question: str, *, k: int | None = None, threshold: float | None = None,
               min_confidence: float | None = None, retrieval_query: str | None = None) -> Answer:
        """Answer one question. `retrieval_query` (e.g. the question with its predecessor, for a
        follow-up) is what the retriever searches for; the reader always reads `question`."""
        question = clean_question(question, self.config.max_question_chars)
        k = self.config.k if k is None else check_count("k", k)
        query = question if retrieval_query is None else clean_question(retrieval_query, self.config.max_question_chars)
        passages = self.retriever.search(query, k)
        return self.answer_from_passages(question, passages, threshold=threshold, min_confidence=min_confidence,
                                         context=retrieval_query)

    def answer_many(self, questions: Sequence[str], *, k: int | None = None, threads: int = 1) -> list[Answer]:
        """Answers in the order of the questions."""
        if threads <= 1:
            return [self.answer(q, k=k) for q in questions]
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return list(pool.map(lambda q: self.answer(q, k=k), questions))
