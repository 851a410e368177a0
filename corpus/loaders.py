"""Files and folders of articles (.txt, .md, .html, .pdf, .docx, .json, .jsonl) into `Document`s, with a
report of what was skipped and why, and which files repeated an article already loaded."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from corpus.decoding import decode_text
from corpus.documents import Document, document_id
from corpus.docx_text import read_docx
from corpus.errors import CorpusError, FileSkipped
from corpus.files import files_under
from corpus.html_text import read_html
from corpus.metadata import Metadata, byline_date, derive_title, text_metadata
from corpus.pdf_text import read_pdf
from corpus.records import json_records, jsonl_records
from corpus.streaming import PART_CHARS, iter_text_parts

# HTML, PDF, Word and JSON files are parsed whole, so files of these types over this size are skipped (and
# reported), which also guards against pointing the loader at a dump by mistake. Plain-text and Markdown
# files of any size load: above STREAM_BYTES they are read as a stream of part documents (corpus/streaming.py).
DEFAULT_MAX_BYTES = 100_000_000
STREAM_BYTES = 32_000_000

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
HTML_SUFFIXES = frozenset({".html", ".htm"})
RECORD_SUFFIXES = frozenset({".json", ".jsonl"})
# Every suffix a loader reads, in the order people are told about them (the chat's upload list uses it).
SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json", ".jsonl")


@dataclass(frozen=True)
class SkippedFile:
    """A file (or one record of it, "data.jsonl:7") that gave no document, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class FileNote:
    """A file that loaded, with something its reader had to say about it (e.g. an HTML page whose main text
    was not found, so its whole text was kept)."""

    path: str
    note: str


@dataclass(frozen=True)
class LoadReport:
    """What `load_path` found.

    `duplicates` pairs the path of each file (or record) whose text repeats an article already loaded
    with that article's doc_id; `origins` pairs each loaded doc_id with the path it was loaded from,
    so both names of a duplicate can be shown. `notes` are remarks on files that did load (`FileNote`).
    """

    documents: tuple[Document, ...]
    skipped: tuple[SkippedFile, ...] = ()
    duplicates: tuple[tuple[str, str], ...] = ()
    origins: tuple[tuple[str, str], ...] = ()
    notes: tuple[FileNote, ...] = ()

    def path_of(self, doc_id: str) -> str | None:
        """The path the document `doc_id` was loaded from, or None if it was not loaded."""
        return next((path for known, path in self.origins if known == doc_id), None)


def load_file(path: str | os.PathLike[str], *, max_bytes: int = DEFAULT_MAX_BYTES) -> list[Document]:
    """The documents in one file, by extension: one per text/Markdown/HTML/PDF/Word file, one per JSON(L) record.

    Raises CorpusError if the path does not exist or is a folder, and FileSkipped (a CorpusError, with a
    `reason`) if the file yields nothing: unsupported type, binary, empty, too large, PDF without text...
    JSON(L) records that cannot be read are left out here; `load_path` reports them. Duplicates are kept.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(f"no such file: {path}")
    if path.is_dir():
        raise CorpusError(f"{path} is a folder; use load_path for folders")
    return [item for _, item in _read(path, max_bytes, STREAM_BYTES, PART_CHARS) if isinstance(item, Document)]


def load_path(*paths: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES,
              relative_to: str | os.PathLike[str] | None = None) -> LoadReport:
    """Load files and folders, in the order given; folders recursively, in sorted path order.

    Hidden files and folders (name starting with ".") inside folders are ignored. The same text under
    two names is loaded once; the second name goes to `duplicates`. Files over `max_bytes` are skipped
    (text and Markdown files are streamed in parts instead). Raises CorpusError naming the first path
    that does not exist, before loading anything. A file given alone shows its path relative to the folder
    `relative_to` as its source, when that is given (`stream_path`).
    """
    stream = stream_path(*paths, max_bytes=max_bytes, relative_to=relative_to)
    documents = tuple(stream)
    return LoadReport(documents, tuple(stream.skipped), tuple(stream.duplicates), tuple(stream.origins),
                      tuple(stream.notes))


class LoadStream:
    """The documents of `load_path`, produced one at a time so that huge inputs never sit in memory whole.

    Iterate once; `skipped`, `duplicates`, `origins` and `notes` fill in as the iteration goes (as in `LoadReport`).
    `names` gives the name a file's documents show as their `source` (see `stream_path`); a file not in it
    shows its own name.
    """

    def __init__(self, files: list[Path], max_bytes: int, stream_bytes: int, part_chars: int,
                 names: dict[Path, str] | None = None):
        self._files = files
        self._names = {} if names is None else names
        self._max_bytes = max_bytes
        self._stream_bytes = stream_bytes
        self._part_chars = part_chars
        self.skipped: list[SkippedFile] = []
        self.duplicates: list[tuple[str, str]] = []
        self.origins: list[tuple[str, str]] = []
        self.notes: list[FileNote] = []

    def __iter__(self) -> Iterator[Document]:
        loaded_ids: set[str] = set()
        seen_files: set[Path] = set()
        for file in self._files:
            if file.resolve() in seen_files:
                continue  # the same file reached twice, e.g. named and inside a named folder
            seen_files.add(file.resolve())
            try:
                for label, item in _read(file, self._max_bytes, self._stream_bytes, self._part_chars):
                    if isinstance(item, FileNote):
                        self.notes.append(item)
                    elif isinstance(item, str):
                        self.skipped.append(SkippedFile(label, item))
                    elif item.doc_id in loaded_ids:
                        self.duplicates.append((label, item.doc_id))
                    else:
                        loaded_ids.add(item.doc_id)
                        self.origins.append((item.doc_id, label))
                        yield _shown_source(item, file, self._names.get(file, file.name))
            except FileSkipped as skip:
                self.skipped.append(SkippedFile(str(file), skip.reason))


def stream_path(*paths: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES,
                stream_bytes: int = STREAM_BYTES, part_chars: int = PART_CHARS,
                relative_to: str | os.PathLike[str] | None = None) -> LoadStream:
    """`load_path` as a stream: documents one at a time (for indexing huge folders or files in bounded memory).

    A document's `source` is what its file states (a header line, a record's field), else its URL, else the
    file's path relative to the folder given ("2024/march/budget.txt"); for a file given alone, its name, or
    its path relative to the folder `relative_to` when that is given."""
    files: list[Path] = []
    names: dict[Path, str] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise CorpusError(f"no such file or folder: {path}")
        if path.is_dir():
            for file in files_under(path):
                files.append(file)
                names.setdefault(file, file.relative_to(path).as_posix())
        else:
            files.append(path)
            names.setdefault(path, path.name if relative_to is None else Path(os.path.relpath(path, relative_to)).as_posix())
    return LoadStream(files, max_bytes, stream_bytes, part_chars, names)


def _shown_source(document: Document, file: Path, name: str) -> Document:
    """`document` with the source a reader is shown: what the file states, else its URL, else `name` (the file's
    path relative to the folder given). Only a source the loader defaulted to the file's name is changed."""
    if document.source != file.name:
        return document
    source = document.url or name
    return document if source == document.source else replace(document, source=source)


def default_corpus_dir() -> Path:
    """The folder of seed articles shipped inside the package."""
    return Path(__file__).resolve().parent / "articles"


def load_default_corpus() -> list[Document]:
    """The bundled seed articles; raises CorpusError if any of them cannot be loaded (a packaging fault)."""
    report = load_path(default_corpus_dir())
    if report.skipped or not report.documents:
        problems = "; ".join(f"{skip.path}: {skip.reason}" for skip in report.skipped) or "no articles"
        raise CorpusError(f"bundled corpus in {default_corpus_dir()} is broken: {problems}")
    return list(report.documents)


def _read(path: Path, max_bytes: int, stream_bytes: int, part_chars: int
          ) -> Iterable[tuple[str, Document | str | FileNote]]:
    """(label, document or reason it was skipped) for each article in `path`, and a FileNote where the reader
    has a remark on a file it loaded; FileSkipped for the whole file.

    A file that fails part-way through (a streamed text file) keeps the parts already produced."""
    try:
        suffix = path.suffix.lower()
        if suffix in TEXT_SUFFIXES and path.is_file() and path.stat().st_size > stream_bytes:
            for number, document in enumerate(iter_text_parts(path, part_chars=part_chars), start=1):
                yield f"{path} (part {number})", document
            return
        yield from _read_entries(path, max_bytes)
    except FileSkipped as skip:
        raise FileSkipped(skip.reason, str(path)) from None
    except OSError as err:
        raise FileSkipped(f"unreadable ({err.strerror or err})", str(path)) from None


def _read_entries(path: Path, max_bytes: int) -> list[tuple[str, Document | str | FileNote]]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise FileSkipped(f"unsupported type {suffix or '(no extension)'}")
    if not path.is_file():
        raise FileSkipped("not a regular file")
    size = path.stat().st_size
    if size > max_bytes:
        raise FileSkipped(f"too large ({_size(size)} > {_size(max_bytes)} limit)")
    if suffix == ".pdf":
        pdf = read_pdf(path)
        metadata = Metadata(title=pdf.title, date=byline_date(pdf.text))
        return [(str(path), _document(pdf.text, metadata, path, pdf.page_starts))]
    if suffix == ".docx":
        word = read_docx(path)
        return [(str(path), _document(word.text, Metadata(title=word.title, date=byline_date(word.text)), path))]

    text = decode_text(path.read_bytes())
    if not text.strip():
        raise FileSkipped("empty")
    if suffix in RECORD_SUFFIXES:
        records = json_records(text) if suffix == ".json" else jsonl_records(text)
        entries: list[tuple[str, Document | str]] = []
        for record in records:
            label = f"{path}{record.label}"
            if record.problem is not None:
                entries.append((label, record.problem))
            else:
                metadata = Metadata(record.title, record.date, record.source, record.url)
                entries.append((label, _document(record.text, metadata, path)))
        return entries
    if suffix in HTML_SUFFIXES:
        page = read_html(text)  # the main text by trafilatura; the whole page's text (and a note) without one
        document = _document(page.text, Metadata(page.title, page.date, None, page.url), path)
        note = [] if page.note is None else [(str(path), FileNote(str(path), page.note))]
        return [*note, (str(path), document)]
    metadata, body = text_metadata(text, markdown=suffix != ".txt")
    return [(str(path), _document(body, metadata, path))]


def _document(text: str, metadata: Metadata, path: Path, page_starts: tuple[int, ...] = ()) -> Document:
    text = text.strip()
    if not text:
        raise FileSkipped("empty")
    return Document(
        doc_id=document_id(text),
        title=derive_title(text) if metadata.title is None else metadata.title,
        date=metadata.date,
        source=metadata.source if metadata.source is not None else metadata.url or path.name,
        text=text,
        url=metadata.url,
        page_starts=page_starts,
    )


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB" if n_bytes >= 100_000 else f"{n_bytes} bytes"
