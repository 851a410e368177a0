"""The two plain records the corpus stage hands on: whole documents and their chunks."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One article. `doc_id` hashes the normalised text, so the same text loaded twice is one document.

    `page_starts` holds the character offset where each page begins (PDFs); empty otherwise.
    """

    doc_id: str
    title: str
    date: str | None
    source: str
    text: str
    url: str | None = None
    page_starts: tuple[int, ...] = ()

    def page_of(self, offset: int) -> int | None:
        """1-based page holding character `offset`, or None for documents without pages."""
        return page_number(self.page_starts, offset)


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `document.text[start:end] == text`."""

    doc_id: str
    chunk_id: int
    text: str
    start: int
    end: int


def normalise_for_id(text: str) -> str:
    """Unicode NFKC, case folded, whitespace collapsed: what makes two copies of an article 'the same'."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def document_id(text: str) -> str:
    """Stable id of a document's text: 16 hex digits of the SHA-256 of its normalised form."""
    return hashlib.sha256(normalise_for_id(text).encode("utf-8")).hexdigest()[:16]


def page_number(page_starts: tuple[int, ...], offset: int) -> int | None:
    """1-based page of character `offset` given each page's start offset; None when there are no pages."""
    if not page_starts:
        return None
    return max(1, sum(1 for start in page_starts if start <= offset))
