"""Documents to overlapping passages of whole sentences: the units the retriever indexes and the reader reads."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from corpus.documents import Chunk, Document
from corpus.sentences import sentence_spans


@dataclass(frozen=True)
class ChunkingSettings:
    """How documents are cut into chunks: about `max_words` words each, `overlap_sentences` shared."""

    max_words: int = 120
    overlap_sentences: int = 1

_WORD = re.compile(r"\S+")


def chunk_document(document: Document, *, max_words: int = 120, overlap_sentences: int = 1) -> list[Chunk]:
    """Pack whole sentences greedily into chunks of at most `max_words` words.

    Consecutive chunks share their last/first `overlap_sentences` sentences where that still fits.
    A sentence longer than `max_words` is cut at word boundaries into near-equal pieces; a single
    word is never cut, so a chunk exceeds `max_words` only by being one over-long "word".
    Each chunk is the exact slice `document.text[start:end]`, starting and ending on non-whitespace.
    """
    if max_words < 1:
        raise ValueError(f"max_words must be at least 1, got {max_words}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    units = _units(document.text, max_words)
    groups = _pack([words for _, _, words in units], max_words, overlap_sentences)
    chunks = []
    for chunk_id, (first, last) in enumerate(groups):
        start, end = units[first][0], units[last][1]
        chunks.append(Chunk(document.doc_id, chunk_id, document.text[start:end], start, end))
    return chunks


def chunk_documents(
    documents: Iterable[Document], *, max_words: int = 120, overlap_sentences: int = 1
) -> list[Chunk]:
    """The chunks of every document, in document order."""
    return [
        chunk
        for document in documents
        for chunk in chunk_document(document, max_words=max_words, overlap_sentences=overlap_sentences)
    ]


def _units(text: str, max_words: int) -> list[tuple[int, int, int]]:
    """(start, end, word count) of each sentence, over-long sentences already cut into pieces."""
    units: list[tuple[int, int, int]] = []
    for start, end in sentence_spans(text):
        words = [match.span() for match in _WORD.finditer(text, start, end)]
        if len(words) <= max_words:
            units.append((start, end, len(words)))
            continue
        size = math.ceil(len(words) / math.ceil(len(words) / max_words))
        for first in range(0, len(words), size):
            piece = words[first : first + size]
            units.append((piece[0][0], piece[-1][1], len(piece)))
    return units


def _pack(word_counts: list[int], max_words: int, overlap: int) -> list[tuple[int, int]]:
    """Inclusive (first, last) unit indices of each chunk."""
    groups: list[tuple[int, int]] = []
    first, total = 0, 0
    for index, count in enumerate(word_counts):
        if index > first and total + count > max_words:
            groups.append((first, index - 1))
            # Carry the previous chunk's last sentences over, as many as fit beside this one.
            first = max(index - overlap, groups[-1][0] + 1)
            total = sum(word_counts[first:index])
            while first < index and total + count > max_words:
                total -= word_counts[first]
                first += 1
        total += count
    if word_counts:
        groups.append((first, len(word_counts) - 1))
    return groups
