"""Citations as answer engines show them: inline [n] markers that number source documents in order of first
use, one card per document with the passages used, and a plain-text form to copy. Pure functions over `Answer`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from qa.answering.types import Answer, Citation

NOT_FOUND_TEXT = "The documents don't say."
BEST_GUESS_TEXT = "Not sure. Best guess, low confidence:"
EXCERPT_CHARS = 160  # about two lines of context around the answer in a copied reference

ANSWERED, BEST_GUESS, NOT_FOUND = "answer", "best_guess", "not_found"
ANSWER, PASSAGE, PLAIN = "answer", "passage", ""  # kinds of highlight, strongest first
_RANK = {PLAIN: 0, PASSAGE: 1, ANSWER: 2}


def one_line(text: str) -> str:
    """Text on one line with single spaces (an answer span may run across a paragraph break)."""
    return " ".join(text.split())


@dataclass(frozen=True)
class CitedPassage:
    """One passage of a source split around the answer span; `answer` is empty when the passage is cited
    without one (the closest passages of an abstention). `start`/`end` are the span's document offsets."""

    before: str
    answer: str
    after: str
    passage_start: int
    start: int
    end: int
    page: int | None = None

    @property
    def text(self) -> str:
        return self.before + self.answer + self.after

    @property
    def passage_end(self) -> int:
        return self.passage_start + len(self.text)


@dataclass(frozen=True)
class SourceCard:
    """One source document: its number n (order of first use), metadata and the passages used, strongest first."""

    number: int
    doc_id: str
    title: str
    date: str | None
    source: str  # readable: the document's URL when it has one, else its folder-relative path or stated source
    passages: tuple[CitedPassage, ...]


@dataclass(frozen=True)
class CitedAnswer:
    """An answer ready to show: `kind` is ANSWERED, BEST_GUESS or NOT_FOUND; `text` the answer (or guess) on one
    line, None when not found; `markers` the card numbers it cites; `cards` one per source document."""

    kind: str
    text: str | None
    markers: tuple[int, ...]
    cards: tuple[SourceCard, ...]

    @property
    def marked_text(self) -> str | None:
        """The answer with its inline markers: "Abilene, Texas [1][2]"."""
        return None if self.text is None else f"{self.text} {markers_text(self.markers)}".rstrip()


@dataclass(frozen=True)
class Highlight:
    """A range of a document's text to show highlighted: the answer span (ANSWER) or a passage used (PASSAGE)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Segment:
    """A piece of a document's text and how it is shown (ANSWER, PASSAGE or PLAIN)."""

    text: str
    kind: str


def markers_text(numbers: Sequence[int]) -> str:
    """"[1][2]" for cards 1 and 2; empty for none."""
    return "".join(f"[{n}]" for n in numbers)


def readable_source(citation: Citation) -> str:
    """Where a reader finds the document: its URL when it has one, else its source (a folder-relative path)."""
    return citation.url or citation.source


def cited_passage(citation: Citation) -> CitedPassage:
    """The citation's passage split around its answer span (offsets clipped to the passage; a reversed span is empty)."""
    passage = citation.passage
    a = max(0, min(citation.answer_start_in_passage, len(passage)))
    b = max(a, min(citation.answer_end_in_passage, len(passage)))
    return CitedPassage(passage[:a], passage[a:b], passage[b:], citation.passage_start,
                        citation.passage_start + a, citation.passage_start + b, citation.page)


def _evidence(passage: CitedPassage) -> tuple[int, int]:
    """What a passage shows of its document: the answer span, or the whole passage when it has none."""
    return (passage.start, passage.end) if passage.answer else (passage.passage_start, passage.passage_end)


def source_cards(citations: Sequence[Citation]) -> tuple[SourceCard, ...]:
    """One card per document in order of first use, holding its passages in citation order; a span cited again
    through an overlapping passage is shown once (the first, strongest citation)."""
    grouped: dict[str, list[Citation]] = {}
    for citation in citations:
        grouped.setdefault(citation.doc_id, []).append(citation)
    cards = []
    for number, members in enumerate(grouped.values(), start=1):
        passages: dict[tuple[int, int], CitedPassage] = {}
        for passage in map(cited_passage, members):
            passages.setdefault(_evidence(passage), passage)
        first = members[0]
        cards.append(SourceCard(number, first.doc_id, first.title, first.date, readable_source(first),
                                tuple(passages.values())))
    return tuple(cards)


def cite(answer: Answer) -> CitedAnswer:
    """What to show for an answer: the answer and its sources; when it abstained but is unsure, its best guess
    and the guess's sources; else no answer and the closest passages found."""
    guess = answer.best_guess
    shown = answer if not answer.abstained else guess
    if shown is None or shown.text is None:
        return CitedAnswer(NOT_FOUND, None, (), source_cards(answer.citations))
    cards = source_cards(shown.citations)
    return CitedAnswer(ANSWERED if guess is None else BEST_GUESS, one_line(shown.text),
                       tuple(card.number for card in cards), cards)


def lead_line(cited: CitedAnswer) -> str:
    """The first line of the plain-text form: the marked answer, the marked best guess, or the abstention."""
    if cited.kind == NOT_FOUND:
        return NOT_FOUND_TEXT
    if cited.kind == BEST_GUESS:
        return f"{BEST_GUESS_TEXT} {cited.marked_text}"
    return cited.marked_text


def excerpt(passage: CitedPassage, width: int = EXCERPT_CHARS) -> str:
    """The passage around its answer on one line, about `width` characters, cut at word boundaries, "…" where cut."""
    room = max(0, width - len(passage.answer))
    left_n = min(len(passage.before), max(room // 2, room - len(passage.after)))
    right_n = min(len(passage.after), room - left_n)
    cut = len(passage.before) - left_n
    left, right = passage.before[cut:], passage.after[:right_n]
    cut_left, cut_right = cut > 0, right_n < len(passage.after)
    if cut_left and not passage.before[cut - 1].isspace() and any(ch.isspace() for ch in left):  # a cut word: drop it
        left = left[next(i for i, ch in enumerate(left) if ch.isspace()):]
    if cut_right and not passage.after[right_n].isspace() and any(ch.isspace() for ch in right):
        right = right[: max(i for i, ch in enumerate(right) if ch.isspace())]
    body = one_line(left + passage.answer + right)
    return ("…" if cut_left else "") + body + ("…" if cut_right else "")


def passage_reference(passage: CitedPassage) -> str:
    """`page 3, chars 22–36: "…excerpt…"`: where the answer is (the whole passage when it has no span)."""
    start, end = (passage.start, passage.end) if passage.answer else (passage.passage_start, passage.passage_end)
    page = f"page {passage.page}, " if passage.page is not None else ""
    return f'{page}chars {start}–{end}: "{excerpt(passage)}"'


def reference_line(card: SourceCard) -> str:
    """`[1] Title (date), source, chars 22–36: "…excerpt…"`; a card's further passages follow after "; "."""
    head = f"[{card.number}] {one_line(card.title)} ({card.date or 'undated'})"
    if card.source:
        head += f", {card.source}"
    return f"{head}, " + "; ".join(passage_reference(p) for p in card.passages)


def copy_text(cited: CitedAnswer) -> str:
    """The plain-text form to paste elsewhere: the answer with its [n] markers, then the numbered references."""
    lines = [lead_line(cited)]
    if cited.cards:
        lines.append("")
        if cited.kind == NOT_FOUND:
            lines.append("Closest passages:")
        lines.extend(reference_line(card) for card in cited.cards)
    return "\n".join(lines)


def card_highlights(card: SourceCard) -> tuple[Highlight, ...]:
    """The ranges of the card's document to highlight: each passage used, and each answer span in it."""
    ranges = []
    for passage in card.passages:
        ranges.append(Highlight(passage.passage_start, passage.passage_end, PASSAGE))
        if passage.end > passage.start:
            ranges.append(Highlight(passage.start, passage.end, ANSWER))
    return tuple(ranges)


def document_segments(text: str, highlights: Sequence[Highlight]) -> tuple[Segment, ...]:
    """The document cut into consecutive segments, each shown as the strongest highlight covering it (ANSWER over
    PASSAGE over PLAIN); ranges are clipped to the text. The segments' texts join to `text`."""
    spans = [(max(0, h.start), min(len(text), h.end), _RANK[h.kind]) for h in highlights]
    spans = [(a, b, rank) for a, b, rank in spans if a < b]
    cuts = sorted({0, len(text), *(a for a, _, _ in spans), *(b for _, b, _ in spans)})
    runs: list[list] = []  # [start, end, rank], neighbours of one rank merged
    for a, b in pairwise(cuts):
        rank = max((r for s, e, r in spans if s <= a and b <= e), default=0)
        if runs and runs[-1][2] == rank:
            runs[-1][1] = b
        else:
            runs.append([a, b, rank])
    kinds = {rank: kind for kind, rank in _RANK.items()}
    return tuple(Segment(text[a:b], kinds[rank]) for a, b, rank in runs)
