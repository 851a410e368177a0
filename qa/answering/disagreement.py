"""Do the documents disagree? The strong, differing answers of different documents, newest first (display only)."""

from __future__ import annotations

from qa.answering.normalize import normalize_answer
from qa.answering.types import Answer

MAX_DIFFERING = 3


def differing_answers(answer: Answer, *, margin: float = 2.0) -> list[Answer]:
    """The answer itself and those of its candidates that would be answered on their own (score at least
    `answer.threshold`) and score within `margin` of the answer, keeping one per normalised text and one per
    document (its first citation's `doc_id`), strongest first; of these the strongest `MAX_DIFFERING` (the
    answer always among them) are returned newest first by their first citation's date, undated last.
    Empty when the answer abstained or fewer than two remain. Chooses nothing: the answer stays the answer."""
    if answer.abstained or not answer.citations:
        return []
    floor = max(answer.threshold, answer.score - margin)
    candidates = sorted(answer.candidates, key=lambda a: -a.score)  # stable: equal scores keep their order
    kept: list[Answer] = []
    texts: set[str] = set()
    documents: set[str] = set()
    for item in (answer, *candidates):
        if item.text is None or not item.citations:
            continue
        if item is not answer and not item.score >= floor:  # also drops a NaN score
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
