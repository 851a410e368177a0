"""The text layer of a PDF, page by page, with the offset where each page starts, and the PDF's title.

The title is the document properties' `/Title` unless it names no article (a converter's default such as
"Enscript Output", "Microsoft Word - a.doc", "Untitled", a file name, or empty); then the first heading-like
line of the first page with text. The properties' `/CreationDate` is not read: it is when the file was
made (by a converter, the day of the conversion), not when the article was published."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.decoding import normalise_newlines
from corpus.errors import FileSkipped
from corpus.metadata import is_generic_title, leading_heading

if TYPE_CHECKING:
    from pypdf import PdfReader

PAGE_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class PdfText:
    """Pages joined by a blank line; `page_starts[i]` is where page i+1 begins (an empty page shares the next one's start).

    `title`: see the module's docstring; None when neither the properties nor the first page give one."""

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
    text = "".join(parts)
    return PdfText(text=text, page_starts=tuple(starts), title=title or leading_heading(text))


def _metadata_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = None if metadata is None else metadata.title
    if not isinstance(title, str):
        return None
    title = " ".join(title.split())
    return None if is_generic_title(title) else title
