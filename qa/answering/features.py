"""Features of a candidate answer, for the answer calibrator: what the reader, the retrievers and the text
say about one normalised answer and the spans that support it. Pure and cheap (no model runs)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from qa.answering.normalize import normalize_answer
from qa.answering.types import Passage, Span

WH_WORDS = ("how many", "how much", "who", "whom", "whose", "when", "where", "which", "what", "why", "how")
WH_CLASSES = ("who", "when", "where", "which", "what", "why", "how_many", "how", "other")
_WH_CLASS = {"how many": "how_many", "how much": "how_many", "whom": "who", "whose": "who"}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
STOPWORDS = frozenset(
    "a an the of in on at to for from by with and or is are was were be been being do does did what which who whom "
    "whose when where why how that this these those it its as into than then there their they he she his her him "
    "i you we our your not no can could would should will may might must has have had about after before during "
    "many much".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?。](?=\s)|\n")
_QUESTION_END = re.compile(r"\?+\s+")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_NUMBER = re.compile(r"^[\d.,%$£€\s-]+$|^\d")
MISSING_RANK = 1000  # a retriever that did not rank the passage (or no retrieval at all)

FEATURE_NAMES = (
    "score", "start_logit", "end_logit", "null_logit", "gap_to_other", "rank_by_score", "share_of_mass",
    "support_passages", "support_documents", "support_evidence", "passages_read", "passages_given",
    "early_stopped", "retrieved", "passage_rank", "passage_score", "dense_score", "dense_rank", "bm25_score",
    "bm25_rank", "best_dense_score_read", "best_bm25_score_read", "answer_chars", "answer_words",
    "answer_has_digit", "answer_is_number", "answer_has_year", "answer_has_month", "answer_capitalised",
    "answer_in_question", "sentence_overlap", "passage_overlap", "best_sentence_overlap", "answer_in_best_sentence",
    "candidate_groups", "question_words", "passage_words", "when_and_date",
    "how_many_and_number", "who_and_capitalised",
    *(f"wh_{name}" for name in WH_CLASSES),
    "question_names", "names_missing_passage", "names_missing_sentence", "words_missing_sentence",
    "longest_missing_word", "question_negated", "negation_mismatch", "bigram_overlap", "question_word_distance",
)
FAR = 100.0  # the distance when no question word is in the passage outside the answer
NEGATIONS = frozenset("not no never none nobody nothing neither nor cannot without".split())


@dataclass(frozen=True)
class CandidateGroup:
    """The spans whose text normalises alike: one candidate answer, its strongest span first."""

    key: str
    spans: tuple[Span, ...]

    @property
    def best(self) -> Span:
        return self.spans[0]


def group_spans(spans: Sequence[Span]) -> list[CandidateGroup]:
    """Spans grouped by normalised text (the raw text when it normalises to nothing; blank ones dropped), the
    groups ordered by their best span's score."""
    groups: dict[str, list[Span]] = {}
    for span in sorted(spans, key=lambda s: -s.score):
        key = normalize_answer(span.text) or span.text.strip()
        if key:
            groups.setdefault(key, []).append(span)
    return [CandidateGroup(key, tuple(members)) for key, members in groups.items()]


def wh_class(question: str) -> str:
    """The question's wh-word class (the first one found, "how many/much" before "how"), else "other"."""
    lowered = f" {' '.join(_WORD.findall(question.lower()))} "
    found = [(lowered.find(f" {word} "), -len(word), word) for word in WH_WORDS if f" {word} " in lowered]
    if not found:
        return "other"
    word = min(found)[2]
    return _WH_CLASS.get(word, word)


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def question_names(question: str) -> set[str]:
    """The question's names, lowercased: capitalised words after the first, and numbers. A question about a
    name its passage never mentions is a classic unanswerable one (SQuAD 2.0's entity swaps)."""
    names = set()
    for sentence in _QUESTION_END.split(question):  # a follow-up's context holds two questions (not "U.S. Navy")
        tokens = _WORD.findall(sentence)
        names |= {t.lower() for i, t in enumerate(tokens) if (i > 0 and t[0].isupper()) or any(c.isdigit() for c in t)}
    return names


def is_negated(text: str) -> bool:
    """Whether `text` holds a negating word ("not", "never", "n't", ...): SQuAD 2.0 negates questions."""
    lowered = text.lower()
    return "n't" in lowered or any(w in NEGATIONS for w in _WORD.findall(lowered))


def bigrams(text: str) -> set[tuple[str, str]]:
    """Adjacent word pairs, lowercased: a question copied from its passage shares them."""
    tokens = _WORD.findall(text.lower())
    return set(zip(tokens, tokens[1:]))


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of `text` holding [start, end): from the last sentence end before it to the next after it."""
    begin = 0
    for match in _SENTENCE_END.finditer(text, 0, start):
        begin = match.end()
    after = _SENTENCE_END.search(text, end)
    return text[begin : after.end() if after else len(text)]


def sentence_overlaps(text: str, words: set[str]) -> list[float]:
    """The share of `words` found in each sentence of `text`."""
    if not words:
        return [0.0]
    begins = [0] + [m.end() for m in _SENTENCE_END.finditer(text)]
    ends = begins[1:] + [len(text)]
    return [len(words & content_words(text[b:e])) / len(words) for b, e in zip(begins, ends)] or [0.0]


def question_word_distance(text: str, start: int, end: int, words: set[str]) -> float:
    """How many words lie between the answer [start, end) and the nearest question word outside it in `text`
    (0 when adjacent, `FAR` when there is none): answers sit near the words the question repeats."""
    best = FAR
    for match in _WORD.finditer(text):
        if match.group().lower() not in words or (match.start() < end and match.end() > start):
            continue
        between = text[match.end():start] if match.end() <= start else text[end:match.start()]
        best = min(best, float(len(_WORD.findall(between))))
    return best


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def _retrieval(passage: Passage, retrieved: bool) -> tuple[float, float, float, float, float, float]:
    """(rank, score, dense score, dense rank, bm25 score, bm25 rank) with neutral values where missing."""
    if not retrieved:
        return 1.0, 0.0, 0.0, MISSING_RANK, 0.0, MISSING_RANK
    return (float(passage.rank), passage.score,
            0.0 if passage.dense_score is None else passage.dense_score,
            MISSING_RANK if passage.dense_rank is None else passage.dense_rank,
            0.0 if passage.bm25_score is None else passage.bm25_score,
            MISSING_RANK if passage.bm25_rank is None else passage.bm25_rank)


def candidate_features(question: str, groups: Sequence[CandidateGroup], passages: Sequence[Passage], *,
                       passages_read: int, retrieved: bool, context: str | None = None) -> list[list[float]]:
    """One row of `FEATURE_NAMES` values per group (in the groups' order). `passages` are all that were
    given (retrieved or the question's own paragraph), of which the first `passages_read` were read.
    `context` (a follow-up's anchor question) lends its words and names to the text features, so "Who funds
    it?" after "What is Stargate?" is judged like "Who funds Stargate?"."""
    if not groups:
        return []
    all_scores = [span.score for group in groups for span in group.spans]
    top = max(all_scores)
    mass = sum(math.exp(s - top) for s in all_scores)
    best_scores = [group.best.score for group in groups]
    question_words = content_words(question)
    names = question_names(question)
    if context is not None:
        question_words |= content_words(context)
        names |= question_names(context)
    question_bigrams = bigrams(question)
    negated = is_negated(question)
    wh = wh_class(question)
    read = passages[:passages_read]
    best_dense = max((p.dense_score for p in read if p.dense_score is not None), default=0.0)
    best_bm25 = max((p.bm25_score for p in read if p.bm25_score is not None), default=0.0)
    passage_facts: dict[tuple[str, int], tuple[float, float]] = {}
    rows = []
    for position, group in enumerate(groups):
        best = group.best
        others = best_scores[:position] + best_scores[position + 1 :]
        per_passage: dict[tuple[str, int], float] = {}
        for span in group.spans:
            where = (span.passage.chunk.doc_id, span.passage.chunk.chunk_id)
            per_passage[where] = max(per_passage.get(where, -math.inf), span.score)
        text = best.text.strip()
        words = _WORD.findall(text)
        lowered = text.lower()
        capitalised = bool(words) and all(w[0].isupper() or w.lower() in STOPWORDS for w in words) and any(
            w[0].isupper() for w in words)
        has_year = bool(_YEAR.search(text))
        has_month = any(month in lowered for month in MONTHS)
        is_number = bool(_NUMBER.match(text))
        answer_words = content_words(text)
        chunk = best.passage.chunk
        if (chunk.doc_id, chunk.chunk_id) not in passage_facts:
            passage_words = content_words(chunk.text)
            all_words = {w.lower() for w in _WORD.findall(chunk.text)}
            in_passage = len(question_words & passage_words) / len(question_words) if question_words else 0.0
            passage_facts[(chunk.doc_id, chunk.chunk_id)] = (
                in_passage, max(sentence_overlaps(chunk.text, question_words)),
                len(names - all_words) / len(names) if names else 0.0,
                float(max((len(w) for w in question_words - passage_words), default=0)),
                len(question_bigrams & bigrams(chunk.text)) / len(question_bigrams) if question_bigrams else 0.0)
        passage_overlap, best_sentence, names_missing, longest_missing, bigram_overlap = passage_facts[
            (chunk.doc_id, chunk.chunk_id)]
        sentence_text = sentence_around(chunk.text, best.start, best.end)
        sentence_tokens = {w.lower() for w in _WORD.findall(sentence_text)}
        sentence = content_words(sentence_text)
        overlap = len(question_words & sentence) / len(question_words) if question_words else 0.0
        row = [
            best.score, best.start_logit, best.end_logit, best.null_logit,
            best.score - max(others) if others else 30.0,
            float(position),
            sum(math.exp(s.score - top) for s in group.spans) / mass,
            float(len(per_passage)),
            float(len({doc for doc, _ in per_passage})),
            _logsumexp(list(per_passage.values())),
            float(passages_read), float(len(passages)), float(passages_read < len(passages)), float(retrieved),
            *_retrieval(best.passage, retrieved),
            best_dense, best_bm25,
            float(len(text)), float(len(words)),
            float(any(ch.isdigit() for ch in text)), float(is_number), float(has_year), float(has_month),
            float(capitalised),
            len(answer_words & question_words) / len(answer_words) if answer_words else 0.0,
            overlap, passage_overlap, best_sentence, float(overlap >= best_sentence - 1e-9), float(len(groups)),
            float(len(_WORD.findall(question))), float(len(_WORD.findall(best.passage.chunk.text))),
            float(wh == "when" and (has_year or has_month)), float(wh == "how_many" and is_number),
            float(wh == "who" and capitalised),
            *(float(wh == name) for name in WH_CLASSES),
            float(len(names)), names_missing, len(names - sentence_tokens) / len(names) if names else 0.0,
            float(len(question_words - sentence)), longest_missing, float(negated),
            float(negated != is_negated(sentence_text)), bigram_overlap,
            question_word_distance(chunk.text, best.start, best.end, question_words),
        ]
        rows.append(row)
    return rows
