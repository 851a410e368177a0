"""The text of a Word `.docx` file (python-docx): paragraphs and table rows in document order, and its title.

Text: each non-empty paragraph, and each table row as its cells' text joined by " | " (a cell spanning
columns once), separated by blank lines; headers, footers, footnotes and comments are left out.
Title: the core properties' `title` unless it names no article ("Untitled", "Microsoft Word - a.doc", a file
name, empty: see `is_generic_title`); then the first paragraph styled Title or Heading among the first
few; then the first line if it reads as a heading. The core properties' `created` date is not read: it is
when the file was first made (a template's date, python-docx's own blank document says 2013-12-23), not when
the article was published.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import FileSkipped
from corpus.metadata import BYLINE_LINES, TITLE_MAX_CHARS, is_generic_title, leading_heading, shorten

if TYPE_CHECKING:
    from docx.document import Document as WordDocument

BLOCK_SEPARATOR = "\n\n"
CELL_SEPARATOR = " | "
# The XML a .docx unpacks to is parsed whole; more than this (a zip bomb, or a dump) is skipped unread.
MAX_XML_BYTES = 200_000_000


@dataclass(frozen=True)
class DocxText:
    """The document's text (blocks joined by a blank line) and its title (None when none is found)."""

    text: str
    title: str | None


def read_docx(path: Path) -> DocxText:
    """Read a .docx file; raises FileSkipped for one that is not a readable Word file or holds no text."""
    import docx  # imported here so `import corpus` stays light

    try:
        _check_unpacked_size(path)
        document = docx.Document(str(path))
        blocks = list(_blocks(document))
        title = _title(document, blocks)
    except FileSkipped:
        raise
    except Exception as err:  # noqa: BLE001  (zip, XML and python-docx errors all mean "cannot read")
        raise FileSkipped(f"unreadable DOCX ({type(err).__name__}: {err})") from err
    text = BLOCK_SEPARATOR.join(text for text, _ in blocks)
    if not text:
        raise FileSkipped("empty")
    return DocxText(text=text, title=title)


def _check_unpacked_size(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        size = sum(info.file_size for info in archive.infolist() if info.filename.endswith((".xml", ".rels")))
    if size > MAX_XML_BYTES:
        raise FileSkipped(f"too large unpacked ({size / 1_000_000:.0f} MB of XML > {MAX_XML_BYTES // 1_000_000} MB)")


def _blocks(container: Any) -> Iterator[tuple[str, str | None]]:
    """(text, style name or None) of each non-empty paragraph and table row in `container`, in order."""
    from docx.table import Table

    for item in container.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                text = _row_text(row)
                if text:
                    yield text, None
        else:
            text = _clean(item.text)
            if text:
                yield text, _style_name(item)


def _row_text(row: Any) -> str:
    cells: list[Any] = []
    for cell in row.cells:
        if not cells or cell is not cells[-1]:  # a cell spanning columns is listed once per column
            cells.append(cell)
    texts = ("\n".join(text for text, _ in _blocks(cell)) for cell in cells)
    return CELL_SEPARATOR.join(text for text in texts if text)


def _clean(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.replace("\r", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


def _style_name(paragraph: Any) -> str | None:
    try:
        style = paragraph.style
    except Exception:  # noqa: BLE001  (a missing or broken styles part: no style, the text still counts)
        return None
    return None if style is None else style.name


def _title(document: WordDocument, blocks: list[tuple[str, str | None]]) -> str | None:
    title = " ".join((document.core_properties.title or "").split())
    if not is_generic_title(title):
        return title
    for text, style in blocks[:BYLINE_LINES]:
        if style is not None and (style == "Title" or style.startswith("Heading")):
            heading = " ".join(text.split())
            if not is_generic_title(heading):
                return shorten(heading, TITLE_MAX_CHARS)
    return leading_heading(BLOCK_SEPARATOR.join(text for text, _ in blocks[:BYLINE_LINES]))
