"""The text layer of a PDF, page by page, with the offset where each page starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.decoding import normalise_newlines
from corpus.errors import FileSkipped

if TYPE_CHECKING:
    from pypdf import PdfReader

PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class PdfText:
    """Pages joined by a blank line; `page_starts[i]` is where page i+1 begins (an empty page shares the next one's start)."""

    text: str
    page_starts: tuple[int, ...]
    title: str | None


def read_pdf(path: Path) -> PdfText:
    """Extract the text of every page with pypdf.

    Raises FileSkipped for encrypted or unreadable files, and for PDFs without a text layer (scanned pages).
    """
    from pypdf import PdfReader  # imported here so `import corpus` stays light

    # pypdf raises a wide range of exception types on malformed input; any of them means "cannot read".
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise FileSkipped("encrypted PDF")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = _metadata_title(reader)
    except FileSkipped:
        raise
    except Exception as err:  # noqa: BLE001
        raise FileSkipped(f"unreadable PDF ({type(err).__name__}: {err})") from err

    parts: list[str] = []
    starts: list[int] = []
    length = 0
    for page in pages:
        page = normalise_newlines(page).strip()
        if page and parts:
            parts.append(PAGE_SEPARATOR)
            length += len(PAGE_SEPARATOR)
        starts.append(length)
        if page:
            parts.append(page)
            length += len(page)
    if not parts:
        raise FileSkipped("no text layer (scanned PDF?)")
    return PdfText(text="".join(parts), page_starts=tuple(starts), title=title)


def _metadata_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = None if metadata is None else metadata.title
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    return title or None
