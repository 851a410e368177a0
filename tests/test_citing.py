"""Citations as the chat shows them (qa.answering.citing): [n] markers numbering source documents, one card per
document, the plain-text copy form and the highlights of a whole document. Hand-made Answers and Citations, and a
property test of the offset invariant: what is highlighted is always the cited slice of the document."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.answering.citing import (ANSWER, ANSWERED, BEST_GUESS, NOT_FOUND, PASSAGE, PLAIN, CitedPassage, Highlight,
                                 Segment, card_highlights, cite, cited_passage, copy_text, document_segments, excerpt,
                                 markers_text, readable_source, reference_line, source_cards)
from qa.answering.types import Answer, Citation

STARGATE = "The new entity will start building a data center in Abilene, Texas."
AT = STARGATE.index("Abilene")


def citation(doc_id="d1", passage=STARGATE, start=AT, end=AT + 14, *, passage_start=100, title="Stargate",
             date="2025-01-24", source="news/a.txt", url=None, page=None) -> Citation:
    """A citation whose start/end are given relative to the passage (stored as document offsets)."""
    return Citation(doc_id, title, date, source, passage, passage_start + start, passage_start + end, passage_start,
                    1.0, url=url, page=page)


def answer(text="Abilene, Texas", citations=None, **kwargs) -> Answer:
    return Answer("Where?", text, 2.0, tuple([citation()] if citations is None else citations), **kwargs)


# -- numbering and cards ------------------------------------------------------------------------------


def test_documents_are_numbered_in_order_of_first_use():
    cited = cite(answer(citations=[citation("d2", title="B"), citation("d1", title="A"),
                                   citation("d2", "Abilene, Texas again.", 0, 14, passage_start=900, title="B"),
                                   citation("d3", title="C")]))
    assert cited.kind == ANSWERED
    assert [(c.number, c.doc_id, c.title) for c in cited.cards] == [(1, "d2", "B"), (2, "d1", "A"), (3, "d3", "C")]
    assert [len(c.passages) for c in cited.cards] == [2, 1, 1]
    assert cited.cards[0].passages[1].passage_start == 900  # the document's passages stay in citation order
    assert cited.markers == (1, 2, 3)
    assert cited.marked_text == "Abilene, Texas [1][2][3]"


def test_a_passage_cited_twice_appears_once():
    cards = source_cards([citation(), citation()])
    assert len(cards) == 1 and len(cards[0].passages) == 1


def test_a_span_cited_through_overlapping_passages_appears_once():
    shifted = "a data center in Abilene, Texas. More."  # a later chunk holding the same span of the document
    at = shifted.index("Abilene")
    same_span = citation(passage=shifted, start=at, end=at + 14, passage_start=100 + AT - at)
    other_span = citation(passage=shifted, start=0, end=1, passage_start=100 + AT - at)
    card = source_cards([citation(), same_span, other_span])[0]
    assert [p.text for p in card.passages] == [STARGATE, shifted]  # the first (strongest) citation of the span kept
    assert [p.answer for p in card.passages] == ["Abilene, Texas", "a"]
    closest = source_cards([citation(start=0, end=0), citation(start=0, end=0),
                            citation(start=0, end=0, passage_start=300)])[0]
    assert [p.passage_start for p in closest.passages] == [100, 300]


def test_the_answer_is_shown_on_one_line():
    assert cite(answer(text="Abilene,\n\n  Texas")).text == "Abilene, Texas"


def test_card_metadata_and_readable_source():
    card = source_cards([citation(url="https://example.org/stargate", page=3)])[0]
    assert (card.number, card.title, card.date, card.source) == (1, "Stargate", "2025-01-24", "https://example.org/stargate")
    assert card.passages[0].page == 3
    assert readable_source(citation()) == "news/a.txt"  # no URL: the folder-relative path


def test_cited_passage_splits_around_the_span_with_document_offsets():
    p = cited_passage(citation())
    assert (p.before, p.answer, p.after) == (STARGATE[:AT], "Abilene, Texas", ".")
    assert (p.start, p.end, p.passage_start, p.passage_end) == (100 + AT, 114 + AT, 100, 100 + len(STARGATE))
    assert p.text == STARGATE


@pytest.mark.parametrize("start, end, answer_text", [
    (0, 3, "The"),
    (AT, 999, "Abilene, Texas."),  # clipped to the passage
    (-5, 3, "The"),                # before the passage: clipped to its start
    (30, 10, ""),                  # reversed: no span
    (5, 5, ""),                    # empty: no span
])
def test_cited_passage_clips_bad_offsets(start, end, answer_text):
    p = cited_passage(citation(start=start, end=end))
    assert p.answer == answer_text and p.text == STARGATE
    assert p.end - p.start == len(answer_text)


# -- what is shown: answer, best guess, nothing --------------------------------------------------------


def test_an_unsure_abstention_shows_its_best_guess_with_the_guess_s_sources():
    guess = answer(text="SoftBank", citations=[citation("d9", "Funded by SoftBank and others.", 10, 18, title="Funding")])
    abstained = Answer("Who funds it?", None, -1.0, (citation(start=0, end=0),), (guess,), unsure=True,
                       probability=0.3, min_confidence=0.7)
    cited = cite(abstained)
    assert cited.kind == BEST_GUESS and cited.text == "SoftBank" and cited.markers == (1,)
    assert [c.doc_id for c in cited.cards] == ["d9"]
    assert copy_text(cited).splitlines()[0] == "Not sure. Best guess, low confidence: SoftBank [1]"


@pytest.mark.parametrize("unsure, candidates", [(False, True), (True, False)])
def test_an_abstention_without_a_best_guess_shows_the_closest_passages(unsure, candidates):
    closest = (citation(start=0, end=0), citation("d2", start=0, end=0, title="Other"))
    extra = (answer(text="SoftBank"),) if candidates else ()
    cited = cite(Answer("Who?", None, -3.0, closest, extra, unsure=unsure))
    assert cited.kind == NOT_FOUND and cited.text is None and cited.marked_text is None and cited.markers == ()
    assert [c.number for c in cited.cards] == [1, 2]
    assert all(p.answer == "" for c in cited.cards for p in c.passages)


# -- the plain-text copy form --------------------------------------------------------------------------


def test_copy_text_of_an_answer():
    long_passage = ("Earlier this week the president publicized a new venture to help grow AI infrastructure across "
                    "the country. The new entity will start building a data center in Abilene, Texas. With an initial "
                    "investment of $100 billion, there are plans to pour up to $500 billion into it over four years.")
    at = long_passage.index("Abilene")
    cited = cite(answer(citations=[
        citation(passage=long_passage, start=at, end=at + 14, passage_start=0),
        citation("d2", "Abilene, Texas\nhosts it.", 0, 14, passage_start=40, title="Local  news", date=None,
                 source="b.html", url="https://example.org/b", page=2),
    ]))
    lines = copy_text(cited).split("\n")
    assert lines[0] == "Abilene, Texas [1][2]" and lines[1] == ""
    assert lines[2].startswith(f'[1] Stargate (2025-01-24), news/a.txt, chars {at}–{at + 14}: "…')
    assert lines[2].endswith('…"') and "Abilene, Texas" in lines[2]
    assert lines[3] == '[2] Local news (undated), https://example.org/b, page 2, chars 40–54: "Abilene, Texas hosts it."'
    assert len(lines) == 4


def test_copy_text_lists_every_passage_of_a_document():
    cited = cite(answer(citations=[citation(), citation(passage="In Abilene, Texas.", start=3, end=17, passage_start=500)]))
    assert copy_text(cited).split("\n")[2] == (
        f'[1] Stargate (2025-01-24), news/a.txt, chars {100 + AT}–{114 + AT}: "{STARGATE}"; '
        'chars 503–517: "In Abilene, Texas."')


def test_copy_text_of_an_abstention():
    closest = cite(Answer("Who?", None, -3.0, (citation(start=0, end=0),)))
    assert copy_text(closest).split("\n") == [
        "The documents don't say.", "", "Closest passages:",
        f'[1] Stargate (2025-01-24), news/a.txt, chars 100–{100 + len(STARGATE)}: "{STARGATE}"']
    assert copy_text(cite(Answer("Who?", None, float("-inf"), ()))) == "The documents don't say."


def test_reference_line_without_a_source():
    card = source_cards([citation(source="")])[0]
    assert reference_line(card).startswith("[1] Stargate (2025-01-24), chars ")


def test_markers_text():
    assert markers_text([1, 3]) == "[1][3]" and markers_text([]) == ""


@pytest.mark.parametrize("before, answer_text, after, width, expected", [
    ("The data is in ", "Abilene", ", Texas.", 160, "The data is in Abilene, Texas."),
    ("one two three four five six ", "X", " seven eight nine ten eleven", 20, "…five six X seven…"),
    ("one two three four five six ", "X", " seven eight", 12, "…six X seven…"),  # "five" cut: dropped
    ("", "X", " a b c d e f g h i j k l m n", 9, "X a b c d…"),           # at the start: the room goes right
    ("a b c d e f g h i j k l m n ", "X", "", 9, "…k l m n X"),           # at the end: the room goes left
    ("", "", "Closest passage text that goes on and on", 16, "Closest passage…"),  # no span: the passage's head
    ("line one\n\n", "X", "\tline  two", 160, "line one X line two"),
    ("aaaaaaaaaaaaaaaaaaaa", "X", "", 9, "…aaaaaaaaX"),                   # no space to cut at: cut mid-word
])
def test_excerpt(before, answer_text, after, width, expected):
    passage = CitedPassage(before, answer_text, after, 0, len(before), len(before) + len(answer_text))
    assert excerpt(passage, width) == expected


# -- highlights of the whole document ---------------------------------------------------------------------


def test_card_highlights_name_each_passage_and_answer():
    card = source_cards([citation(), citation(passage="Closest.", start=0, end=0, passage_start=400)])[0]
    assert card_highlights(card) == (Highlight(100, 100 + len(STARGATE), PASSAGE), Highlight(100 + AT, 114 + AT, ANSWER),
                                     Highlight(400, 408, PASSAGE))


@pytest.mark.parametrize("highlights, expected", [
    ([], [("0123456789", PLAIN)]),
    ([Highlight(2, 8, PASSAGE), Highlight(4, 6, ANSWER)],
     [("01", PLAIN), ("23", PASSAGE), ("45", ANSWER), ("67", PASSAGE), ("89", PLAIN)]),
    ([Highlight(0, 5, PASSAGE), Highlight(3, 10, PASSAGE)], [("0123456789", PASSAGE)]),      # overlapping passages merge
    ([Highlight(1, 3, ANSWER), Highlight(3, 5, ANSWER)], [("0", PLAIN), ("1234", ANSWER), ("56789", PLAIN)]),
    ([Highlight(4, 6, ANSWER), Highlight(0, 10, PASSAGE)], [("0123", PASSAGE), ("45", ANSWER), ("6789", PASSAGE)]),
    ([Highlight(-5, 2, ANSWER), Highlight(8, 99, PASSAGE)], [("01", ANSWER), ("234567", PLAIN), ("89", PASSAGE)]),
    ([Highlight(6, 6, ANSWER), Highlight(7, 3, PASSAGE)], [("0123456789", PLAIN)]),           # empty and reversed
])
def test_document_segments(highlights, expected):
    assert document_segments("0123456789", highlights) == tuple(Segment(text, kind) for text, kind in expected)


def test_document_segments_of_an_empty_document():
    assert document_segments("", [Highlight(0, 3, ANSWER)]) == ()


# -- the offset invariant ------------------------------------------------------------------------------------


@st.composite
def cited_documents(draw):
    """A document and citations of it built as the pipeline builds them: chunks at their offsets, spans inside."""
    text = draw(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
    citations = []
    for _ in range(draw(st.integers(1, 6))):
        chunk_start = draw(st.integers(0, len(text) - 1))
        chunk_end = draw(st.integers(chunk_start + 1, len(text)))
        a = draw(st.integers(0, chunk_end - chunk_start))
        b = draw(st.integers(a, chunk_end - chunk_start))
        doc = draw(st.sampled_from(["d1", "d2"]))
        citations.append(Citation(doc, "T", None, "s", text[chunk_start:chunk_end], chunk_start + a, chunk_start + b,
                                  chunk_start, 1.0))
    return text, citations


@settings(max_examples=300, deadline=None)
@given(cited_documents(), st.booleans())
def test_highlighted_spans_are_the_cited_slices_of_the_document(case, answered):
    text, citations = case  # both "documents" share the text: each card is checked against it
    shown = Answer("q", "x" if answered else None, 1.0, tuple(citations))
    cited = cite(shown)
    assert [c.doc_id for c in cited.cards] == list(dict.fromkeys(c.doc_id for c in citations))
    for card in cited.cards:
        for p in card.passages:
            assert text[p.start:p.end] == p.answer
            assert text[p.passage_start:p.passage_end] == p.text == p.before + p.answer + p.after
        segments = document_segments(text, card_highlights(card))
        assert "".join(s.text for s in segments) == text
        kinds = [s.kind for s in segments for _ in s.text]
        answer_chars = {i for p in card.passages for i in range(p.start, p.end)}
        passage_chars = {i for p in card.passages for i in range(p.passage_start, p.passage_end)}
        assert {i for i, kind in enumerate(kinds) if kind == ANSWER} == answer_chars
        assert {i for i, kind in enumerate(kinds) if kind == PASSAGE} == passage_chars - answer_chars
        assert all(a.kind != b.kind for a, b in pairwise(segments))  # neighbours of one kind are merged
