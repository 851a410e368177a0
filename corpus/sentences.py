"""A small rule-based sentence splitter that returns character spans, so callers can slice the original text."""

from __future__ import annotations

import re

# Words that end in a full stop without ending a sentence (compared lower-cased, without the stop).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms mx dr prof sr jr st mt ft rev fr hon gen col lt capt cpt sgt maj adm cmdr gov sen rep pres supt
    insp messrs mmes no nos vol vols pp fig figs eq ed eds approx dept est vs v cf al ca e.g i.e viz
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
    inc corp ltd co bros assn univ ave blvd rd
    """.split()
)

# Blank line (possibly holding spaces) between paragraphs: always a boundary.
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Sentence-final punctuation, any closing quotes or brackets after it, then whitespace.
_TERMINATOR = re.compile(r"[.!?…]+[\"'”’»)\]]*(?=\s)")
_NON_SPACE = re.compile(r"\S")
_LAST_WORD = re.compile(r"\S+$")
_ACRONYM = re.compile(r"(?:\w\.)+\w")  # "U.S" of "U.S.", "a.m" of "a.m."
_OPENERS = "\"'“‘«([{"


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence in `text`, in order.

    Spans never start or end with whitespace, never overlap, and together hold every non-whitespace
    character. Paragraph breaks (blank lines) always end a sentence.
    """
    spans: list[tuple[int, int]] = []
    for start, end in paragraph_spans(text):
        spans.extend(_split_paragraph(text, start, end))
    return spans


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each paragraph: text between blank lines, stripped of surrounding whitespace."""
    spans: list[tuple[int, int]] = []
    position = 0
    for match in _PARAGRAPH_BREAK.finditer(text):
        _append_stripped(text, position, match.start(), spans)
        position = match.end()
    _append_stripped(text, position, len(text), spans)
    return spans


def _append_stripped(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))


def _split_paragraph(text: str, start: int, end: int) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    sentence_start = start
    for match in _TERMINATOR.finditer(text, start, end):
        next_char = _NON_SPACE.search(text, match.end(), end)
        if next_char is None:
            break  # only whitespace left: the paragraph end closes this sentence
        if _is_boundary(text, start, match, text[next_char.start()]):
            spans.append((sentence_start, match.end()))
            sentence_start = next_char.start()
    spans.append((sentence_start, end))
    return spans


def _is_boundary(text: str, paragraph_start: int, terminator: re.Match[str], next_char: str) -> bool:
    if next_char.islower():
        return False
    if not terminator.group().startswith("."):
        return True  # "!", "?", "…"
    if terminator.group().startswith(".."):
        return True  # an ellipsis before a capital
    word_match = _LAST_WORD.search(text, max(paragraph_start, terminator.start() - 40), terminator.start())
    if word_match is None:
        return True
    word = word_match.group().lstrip(_OPENERS)
    if len(word) == 1 and word.isalpha():
        return False  # an initial: "J. Smith"
    if word.lower() in ABBREVIATIONS:
        return False
    return _ACRONYM.fullmatch(word) is None
