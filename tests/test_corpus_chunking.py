"""Sentence splitting and sentence-aligned chunking: hand-made cases and offset/coverage properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus import Chunk, Document, chunk_document, load_default_corpus
from corpus.chunking import chunk_documents
from corpus.documents import document_id
from corpus.sentences import sentence_spans


def doc(text: str) -> Document:
    return Document(doc_id=document_id(text), title="t", date=None, source="test", text=text)


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in sentence_spans(text)]


def texts(chunks: list[Chunk]) -> list[str]:
    return [chunk.text for chunk in chunks]


# --- sentence splitting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith paid $1.5 million. He left.", ["Mr. Smith paid $1.5 million.", "He left."]),
        ("The U.S. economy grew 2.5% in Jan. 2024. Then it fell.", ["The U.S. economy grew 2.5% in Jan. 2024.", "Then it fell."]),
        ("Dr. J. R. Smith spoke. Prof. Lee replied.", ["Dr. J. R. Smith spoke.", "Prof. Lee replied."]),
        ("“We will win.” He smiled. “Will we?” she asked.", ["“We will win.”", "He smiled.", "“Will we?” she asked."]),
        ("He said “No!” Then left… Later (at 5 p.m.) he came back.", ["He said “No!”", "Then left…", "Later (at 5 p.m.) he came back."]),
        ("Use e.g. this one. Or that.", ["Use e.g. this one.", "Or that."]),
        ("Version 3.11 is out.Really.", ["Version 3.11 is out.Really."]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraph_breaks_always_end_a_sentence() -> None:
    text = "A heading without a stop\n\nBody text here. More\nacross a line break.\n \n\t\nLast"
    assert sentences(text) == [
        "A heading without a stop",
        "Body text here.",
        "More\nacross a line break.",
        "Last",
    ]


def test_no_sentences_in_blank_text() -> None:
    assert sentence_spans("") == []
    assert sentence_spans(" \n\n\t \u00a0") == []


# --- chunking --------------------------------------------------------------------------------------------

# Five sentences of 4, 3, 5, 2 and 4 words.
FIVE = "One two three four. Five six seven. Eight nine ten eleven twelve. Thirteen fourteen. Fifteen sixteen seventeen eighteen."


def test_greedy_packing_with_one_sentence_overlap() -> None:
    chunks = chunk_document(doc(FIVE), max_words=8, overlap_sentences=1)
    assert texts(chunks) == [
        "One two three four. Five six seven.",
        "Five six seven. Eight nine ten eleven twelve.",
        "Eight nine ten eleven twelve. Thirteen fourteen.",
        "Thirteen fourteen. Fifteen sixteen seventeen eighteen.",
    ]
    assert [chunk.chunk_id for chunk in chunks] == [0, 1, 2, 3]


def test_no_overlap_gives_adjacent_chunks() -> None:
    chunks = chunk_document(doc(FIVE), max_words=8, overlap_sentences=0)
    assert texts(chunks) == [
        "One two three four. Five six seven.",
        "Eight nine ten eleven twelve. Thirteen fourteen.",
        "Fifteen sixteen seventeen eighteen.",
    ]


def test_overlap_shrinks_to_what_fits() -> None:
    chunks = chunk_document(doc(FIVE), max_words=9, overlap_sentences=2)
    assert texts(chunks) == [
        "One two three four. Five six seven.",
        "Five six seven. Eight nine ten eleven twelve.",
        "Eight nine ten eleven twelve. Thirteen fourteen.",
        "Thirteen fourteen. Fifteen sixteen seventeen eighteen.",
    ]


def test_overlap_is_dropped_when_it_does_not_fit() -> None:
    chunks = chunk_document(doc(FIVE), max_words=6, overlap_sentences=2)
    assert texts(chunks) == [
        "One two three four.",
        "Five six seven.",
        "Eight nine ten eleven twelve.",
        "Thirteen fourteen. Fifteen sixteen seventeen eighteen.",
    ]


def test_whole_document_fits_in_one_chunk() -> None:
    text = "  Short text. Two sentences.\n\n"
    document = doc(text)
    (chunk,) = chunk_document(document, max_words=120)
    assert (chunk.text, chunk.start, chunk.end, chunk.chunk_id) == ("Short text. Two sentences.", 2, 28, 0)
    assert chunk.doc_id == document.doc_id


def test_long_sentence_is_split_at_word_boundaries() -> None:
    words = [f"W{i:02d}" for i in range(25)]
    text = "Intro. " + " ".join(words) + ". Outro."
    chunks = chunk_document(doc(text), max_words=10, overlap_sentences=0)
    # 25 words are cut evenly into 9 + 9 + 7 rather than 10 + 10 + 5; whole sentences pack around them.
    assert texts(chunks) == [
        "Intro. " + " ".join(words[:9]),
        " ".join(words[9:18]),
        " ".join(words[18:]) + ". Outro.",
    ]


def test_a_single_overlong_word_is_kept_whole() -> None:
    text = "x" * 500 + " tail."
    assert texts(chunk_document(doc(text), max_words=1, overlap_sentences=0)) == ["x" * 500, "tail."]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t \n"])
def test_blank_document_has_no_chunks(text: str) -> None:
    assert chunk_document(doc(text)) == []


@pytest.mark.parametrize(("max_words", "overlap"), [(0, 1), (-5, 0), (10, -1)])
def test_bad_parameters_are_refused(max_words: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(doc(FIVE), max_words=max_words, overlap_sentences=overlap)


def test_chunk_documents_numbers_chunks_per_document() -> None:
    first, second = doc(FIVE), doc("Another document. With two sentences.")
    chunks = chunk_documents([first, second], max_words=8)
    assert [(chunk.doc_id, chunk.chunk_id) for chunk in chunks] == [(first.doc_id, i) for i in range(4)] + [
        (second.doc_id, 0)
    ]


def test_seed_articles_chunk_cleanly() -> None:
    for document in load_default_corpus():
        chunks = chunk_document(document, max_words=60)
        assert len(chunks) > 1
        check_chunks(document, chunks, max_words=60)
        # No sentence there is longer than 60 words, so every chunk starts and ends with a sentence.
        spans = sentence_spans(document.text)
        assert {chunk.start for chunk in chunks} <= {start for start, _ in spans}
        assert {chunk.end for chunk in chunks} <= {end for _, end in spans}


# --- properties ------------------------------------------------------------------------------------------


def check_chunks(document: Document, chunks: list[Chunk], max_words: int) -> None:
    """The chunker's contract, checked on one document."""
    text = document.text
    assert [chunk.chunk_id for chunk in chunks] == list(range(len(chunks)))
    covered = bytearray(len(text))
    previous_start, previous_end = -1, -1
    for chunk in chunks:
        assert chunk.doc_id == document.doc_id
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.start == 0 or text[chunk.start - 1].isspace()  # never starts mid-word
        assert chunk.end == len(text) or text[chunk.end].isspace()  # never ends mid-word
        words = chunk.text.split()
        assert len(words) <= max_words or len(words) == 1
        assert chunk.start > previous_start and chunk.end > previous_end  # moves forward every time
        previous_start, previous_end = chunk.start, chunk.end
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    uncovered = [i for i, char in enumerate(text) if not covered[i] and not char.isspace()]
    assert uncovered == []


WHITESPACE = [" ", "  ", "\n", "\n\n", "\n \n", "\t", "\r\n", "\u00a0", "\u2003", "\u3000", "\x1c", "\u2028"]
TOKENS = [
    "word", "Mr.", "U.S.", "$1.5", "e.g.", "J.", "end.", "Why?", "Yes!", "wait…", "...", "“Quote.”", "’tis",
    "(aside.)", "café", "中文。", "emoji😀", "Ünïcödé", "A", "b", ".", "?", "”", "“", "—", "1.", "x" * 30,
] + WHITESPACE

structured_text = st.lists(st.sampled_from(TOKENS), max_size=120).map("".join)
random_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from([" ", "\n", "\t", "\r", "\u00a0", "\u2003", "\x1c", ".", "!", "?", "”", "’"]),
    ),
    max_size=300,
)
PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)


@PROPERTY_SETTINGS
@given(text=st.one_of(structured_text, random_text), max_words=st.integers(1, 30), overlap=st.integers(0, 3))
def test_chunks_are_exact_slices_covering_the_text(text: str, max_words: int, overlap: int) -> None:
    document = doc(text)
    chunks = chunk_document(document, max_words=max_words, overlap_sentences=overlap)
    check_chunks(document, chunks, max_words)
    assert (chunks == []) == (text.strip() == "")


@PROPERTY_SETTINGS
@given(text=st.one_of(structured_text, random_text))
def test_sentence_spans_are_ordered_stripped_and_covering(text: str) -> None:
    spans = sentence_spans(text)
    position = 0
    for start, end in spans:
        assert position <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        assert text[position:start].strip() == ""  # only whitespace between sentences
        position = end
    assert text[position:].strip() == ""
