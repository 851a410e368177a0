"""Very large plain-text files as a stream of part documents, so memory stays bounded whatever the size.

A file is read in blocks, decoded incrementally (same rules as `decode_text`) and cut into parts of about
`part_chars` characters at paragraph (else line, else word) boundaries. Each part is a `Document` of its
own ("Title (part 3)"), so citations and offsets refer to the stored part text.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

from corpus.decoding import _SAMPLE_CHARS, looks_binary, sniff_encoding
from corpus.documents import Document, document_id
from corpus.errors import FileSkipped
from corpus.metadata import Metadata, derive_title, text_metadata

PART_CHARS = 4_000_000
BLOCK_BYTES = 1 << 20


def iter_text_parts(path: Path, *, part_chars: int = PART_CHARS, block_bytes: int = BLOCK_BYTES) -> Iterator[Document]:
    """Documents of about `part_chars` characters each, in file order; FileSkipped if the file is binary or empty."""
    if part_chars < 1_000:
        raise ValueError(f"part_chars must be at least 1000, got {part_chars}")
    metadata: Metadata | None = None
    buffer = ""
    number = 0
    for text in _decoded_blocks(path, block_bytes):
        buffer += text
        while len(buffer) >= part_chars:
            cut = _cut_point(buffer, part_chars)
            part, buffer = buffer[:cut], buffer[cut:]
            if metadata is None:
                metadata, part = _metadata(path, part)
            number, document = _part(path, part, metadata, number)
            if document is not None:
                yield document
    if metadata is None:
        metadata, buffer = _metadata(path, buffer)
    number, document = _part(path, buffer, metadata, number)
    if document is not None:
        yield document
    if number == 0:
        raise FileSkipped("empty")


def _part(path: Path, text: str, metadata: Metadata, number: int) -> tuple[int, Document | None]:
    text = text.strip()
    if not text:
        return number, None
    number += 1
    title = derive_title(text) if metadata.title is None else metadata.title
    return number, Document(
        doc_id=document_id(text),
        title=f"{title} (part {number})",
        date=metadata.date,
        source=path.name if metadata.source is None else metadata.source,
        text=text,
        url=metadata.url,
    )


def _metadata(path: Path, first_part: str) -> tuple[Metadata, str]:
    """A streamed file's metadata from its first part, read as a whole file's would be."""
    return text_metadata(first_part, markdown=path.suffix.lower() != ".txt")


def _cut_point(buffer: str, part_chars: int) -> int:
    """Where to end a part: after the last blank line, else line break, else space, in its second half."""
    floor = part_chars // 2
    for separator in ("\n\n", "\n", " "):
        position = buffer.rfind(separator, floor, part_chars)
        if position >= 0:
            return position + len(separator)
    return part_chars


def _decoded_blocks(path: Path, block_bytes: int) -> Iterator[str]:
    """The file's text in pieces, newlines normalised; binary content is refused on its first 64K characters,
    as `decode_text` does."""
    head: list[str] = []
    size = 0
    pieces = _normalised_pieces(path, block_bytes)
    for piece in pieces:
        head.append(piece)
        size += len(piece)
        if size >= _SAMPLE_CHARS:
            break
    if looks_binary("".join(head)):
        raise FileSkipped("binary file")
    yield from head
    yield from pieces


def _normalised_pieces(path: Path, block_bytes: int) -> Iterator[str]:
    with path.open("rb") as fh:
        block = fh.read(block_bytes)
        decoder = _decoder_for(block)
        pending_cr = False
        while block:
            text = decoder.decode(block)
            block = fh.read(block_bytes)
            if not block:
                text += decoder.decode(b"", final=True)
            if pending_cr:
                text = "\r" + text
            pending_cr = text.endswith("\r") and bool(block)
            if pending_cr:
                text = text[:-1]
            yield text.replace("\r\n", "\n").replace("\r", "\n")


def _decoder_for(first_block: bytes) -> codecs.IncrementalDecoder:
    """An incremental decoder (bad bytes become U+FFFD) for the codec `decode_text` would pick, judged on the first block."""
    return codecs.getincrementaldecoder(sniff_encoding(first_block, final=False))(errors="replace")
