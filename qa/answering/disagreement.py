"""Do the documents disagree? The strong, differing answers of different documents, newest first (display only)."""

from __future__ import annotations

import re
from dataclasses import replace

from qa.answering.normalize import normalize_answer
from qa.answering.types import Answer

MAX_DIFFERING = 3
NEWER_PREFERRED_TEXT = "The newer source is preferred for a question about something that changes:"
TIME_WORDS = frozenset("""now currently current latest still today recently recent newest anymore yet expected planned
scheduled will upcoming next""".split())
TIME_PHRASES = ("as of", "this year", "these days", "at the moment", "most recent", "so far")
_WORD = re.compile(r"[^\W_]+")


def strength(answer: Answer) -> float:
    """What ranks candidates: the calibrated probability when there is one, else the span score."""
    return answer.confidence if answer.probability is not None else answer.score


def differing_answers(answer: Answer, *, margin: float = 2.0, probability_margin: float = 0.35) -> list[Answer]:
    """The answer itself and those of its candidates that would be answered on their own (score at least
    `answer.threshold`, or probability at least `answer.min_confidence` when calibrated) and come within
    `margin` of the answer's score (`probability_margin` of its probability), keeping one per normalised text and one per
    document (its first citation's `doc_id`), strongest first; of these the strongest `MAX_DIFFERING` (the
    answer always among them) are returned newest first by their first citation's date, undated last.
    Empty when the answer abstained or fewer than two remain. Chooses nothing: the answer stays the answer."""
    if answer.abstained or not answer.citations:
        return []
    if answer.probability is not None and answer.min_confidence is not None:
        floor = max(answer.min_confidence, answer.confidence - probability_margin)
    else:
        floor = max(answer.threshold, answer.score - margin)
    candidates = sorted(answer.candidates, key=lambda a: -strength(a))  # stable: equal ones keep their order
    kept: list[Answer] = []
    texts: set[str] = set()
    documents: set[str] = set()
    for item in (answer, *candidates):
        if item.text is None or not item.citations:
            continue
        if item is not answer and not strength(item) >= floor:  # also drops a NaN score
            continue
        text = normalize_answer(item.text) or item.text.strip()
        doc_id = item.citations[0].doc_id
        if text in texts or doc_id in documents:
            continue
        texts.add(text)
        documents.add(doc_id)
        kept.append(item)
        if len(kept) == MAX_DIFFERING:
            break
    if len(kept) < 2:
        return []
    dated = sorted((a for a in kept if a.citations[0].date), key=lambda a: a.citations[0].date, reverse=True)
    return dated + [a for a in kept if not a.citations[0].date]


def is_time_sensitive(question: str) -> bool:
    """Whether a question asks about something that changes over time ("now", "latest", "expected to", "will"),
    where a newer source should win over an older one that says otherwise."""
    lowered = question.lower()
    return bool(TIME_WORDS & set(_WORD.findall(lowered))) or any(phrase in lowered for phrase in TIME_PHRASES)


def prefer_newer(answer: Answer) -> Answer:
    """For a time-sensitive question whose strong answers from different documents differ: the answer of the
    newest dated document, marked `newer_preferred`, with the displaced answer first among its candidates.
    Any other answer comes back unchanged."""
    if not is_time_sensitive(answer.question):
        return answer
    found = differing_answers(answer)
    if len(found) < 2 or not found[0].citations[0].date or found[0] is answer:
        return answer
    newest = found[0]
    if normalize_answer(newest.text or "") == normalize_answer(answer.text or ""):
        return answer
    others = (replace(answer, candidates=()), *(c for c in answer.candidates if c is not newest))
    return replace(newest, candidates=others[: max(len(answer.candidates), 1)], newer_preferred=True)


def newer_preferred_over(answer: Answer) -> Answer | None:
    """The answer `prefer_newer` displaced for this one (its first candidate) when it chose a newer source's
    answer and both cite a document; else None. The chat and `citeqa ask` say so beside "Sources differ"."""
    if not answer.newer_preferred or not answer.citations or not answer.candidates:
        return None
    displaced = answer.candidates[0]
    return displaced if displaced.text is not None and displaced.citations else None
