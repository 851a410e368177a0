"""Recency: a time-sensitive question prefers the newer of two strong, differing sources (pure, hand-made Answers)."""

from __future__ import annotations

from dataclasses import replace as changed

import pytest

from qa.answering.disagreement import differing_answers, is_time_sensitive, prefer_newer
from qa.answering.types import Answer, Citation

QUESTION = "When is the new bridge expected to open?"


def cite(doc_id: str, date: str | None) -> Citation:
    passage = f"The bridge opens in {doc_id}."
    return Citation(doc_id=doc_id, title=f"Article {doc_id}", date=date, source=f"{doc_id}.txt",
                    passage=passage, start=20, end=20 + len(doc_id), passage_start=0, score=1.0)


def alt(text: str, score: float, doc_id: str, date: str | None = "2024-01-01") -> Answer:
    return Answer(QUESTION, text, score, (cite(doc_id, date),), threshold=0.0)


def chosen(text: str, score: float, doc_id: str, date: str | None, *candidates: Answer) -> Answer:
    return Answer(QUESTION, text, score, (cite(doc_id, date),), tuple(candidates), 0.0)


def texts(answers) -> list[str]:
    return [a.text for a in answers]



@pytest.mark.parametrize("question, sensitive", [
    ("When is the bridge now expected to open?", True), ("Who is the current CEO?", True),
    ("What is the latest estimate?", True), ("Who will lead the project?", True),
    ("How much has been raised so far?", True), ("As of today, who owns it?", True),
    ("Who founded OpenAI?", False), ("In what year did Musk co-found OpenAI?", False), ("Where is Abilene?", False),
])
def test_time_sensitive_questions(question, sensitive):
    assert is_time_sensitive(question) is sensitive


def test_a_time_sensitive_question_takes_the_newer_sources_answer_and_says_so():
    old = chosen("2026", 10.0, "old", "2023-05-10", alt("summer 2027", 9.5, "new", "2025-03-14"), alt("spring", 1.0, "x"))
    preferred = prefer_newer(old)
    assert preferred.text == "summer 2027" and preferred.newer_preferred
    assert texts(preferred.candidates) == ["2026", "spring"] and preferred.candidates[0].candidates == ()
    assert texts(differing_answers(preferred)) == ["summer 2027", "2026"]  # the display keeps both, newest first


def test_recency_changes_nothing_when_the_question_is_timeless_or_the_newest_already_answers():
    old = chosen("2026", 10.0, "old", "2023-05-10", alt("summer 2027", 9.5, "new", "2025-03-14"))
    timeless = changed(old, question="In what year did the bridge open?")
    assert prefer_newer(timeless) is timeless
    newest = chosen("summer 2027", 10.0, "new", "2025-03-14", alt("2026", 9.5, "old", "2023-05-10"))
    assert prefer_newer(newest) is newest
    weak = chosen("2026", 10.0, "old", "2023-05-10", alt("summer 2027", 5.0, "new", "2025-03-14"))
    assert prefer_newer(weak) is weak  # outside the margin: not a strong rival
    undated = chosen("2026", 10.0, "old", "2023-05-10", alt("summer 2027", 9.5, "new", None))
    assert prefer_newer(undated) is undated
