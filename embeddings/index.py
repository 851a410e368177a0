"""The persisted index folder: vectors (FAISS), documents and chunks (SQLite), BM25, and a manifest.

Layout: `DIR/CURRENT` names the live generation `DIR/gen-NNNNNN/`, which holds `manifest.json`,
`vectors.faiss`, `chunks.sqlite` and `bm25/`. A write builds a complete new generation beside the
live one (in `gen-NNNNNN.tmp`), fsyncs it, renames it, then atomically replaces `CURRENT`; so a crash
at any moment leaves the previous index whole, and readers never see a half-written state. Writers
take `DIR/.lock` (one at a time).

Two generations are kept: the live one and the one before it (the one that was live before the last
write; if that one fails its checksums, the newest older one that verifies). Older ones are deleted
after each successful write, and only folders named `gen-NNNNNN` or `gen-NNNNNN.tmp` are ever deleted.
`undo_last_write` (`citeqa index --index DIR --undo`) points `CURRENT` back at the newest generation
older than the live one whose checksums verify; the undone generation stays until the next write.
`repair_index` (`--repair`) points a missing, empty, garbage or dangling `CURRENT` (or one naming a
damaged generation) at the newest generation whose checksums verify. While generation folders exist
but `CURRENT` is not valid, every read and write refuses (`IndexPointerError`, naming the generation
`--repair` would restore) instead of starting a new index over them.

`manifest.json` is checked against its schema (`validate_manifest`) before anything is read: a JSON
object with `format_version` (int), `embedding_model` {`name` str (an int8 variant's ends in ` (int8)`),
`dimension` int, optional `variant`: `fp32` or `int8`, absent in indexes written before variants, which are
fp32}, `chunking`
{`max_words` int, `overlap_sentences` int}, `counts` {`documents` int, `chunks` int}, `created` (str)
and a non-empty `files` mapping of relative path -> SHA-256 (64 hex digits) covering every data file of
the generation. A write that fails because the disk is full (ENOSPC, or any error while almost no space
is left) raises `IndexSpaceError`, removes its `.tmp` folder and leaves the previous generation live.

The vector index type (exact `flat`, `hnsw` or `ivfpq`, see `embeddings.store`) is chosen when an index
is created (by chunk count, or asked for), recorded in the manifest's `vector_store` and kept by every
later write until a rebuild. Readers memory-map `vectors.faiss` where FAISS can; an approximate index
may hold `vectors.faiss.removed.npy` (its tombstones), checksummed like every other file.

Where documents came from: `chunks.sqlite` holds an `origins` table, one row per (document, file): the file's
absolute path, the folder it was indexed as part of (for a file given alone, its own folder) and the `source`
the document got from that file (the path relative to that folder, or what the file states). `sync_index`
uses it to make an index mirror a folder (new files added, changed ones replaced, renamed ones re-pointed
without embedding, deleted ones removed) and to remove by path. The table was added without a format change:
every write creates it when missing (`CREATE TABLE IF NOT EXISTS`), and readers of an older generation see no
origins; documents without origins (added as plain `Document`s) are never touched by a sync.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from corpus.chunking import ChunkingSettings, chunk_document
from corpus.documents import Chunk, Document
from corpus.files import sha256_file
from embeddings.embedder import EMBEDDING_VARIANTS, Embedder, mismatch_message, split_variant
from embeddings.passage_index import StoredDocument, UpdateReport
from embeddings.sparse import BM25Index
from embeddings.store import (
    FLAT_MAX_CHUNKS,
    HNSW_MAX_CHUNKS,
    INDEX_TYPES,
    STORE_NAMES,
    FaissStore,
    VectorHits,
    choose_index_type,
    create_store,
    index_type_of,
    load_store,
)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
VECTORS = "vectors.faiss"
DATABASE = "chunks.sqlite"
BM25_DIR = "bm25"
CURRENT = "CURRENT"
LOCK = ".lock"
GENERATION_NAME = re.compile(r"gen-\d{6}")  # a generation folder; `gen-NNNNNN.tmp` while it is built
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
POINTER_SETTLE_SECONDS = 2.0  # how long a reader waits for an active writer to replace a missing `CURRENT`
LOW_SPACE_BYTES = 8 * 2**20  # a write that fails with less free space than this failed for lack of space
# numpy reads .npy headers with ast.literal_eval, and CPython 3.11's AST builder is not thread-safe
# (gh-106905: "AST constructor recursion depth mismatch"), so loads of index files take turns.
_NPY_LOAD_LOCK = threading.Lock()
EMBED_CALL = 2048  # chunks per embedder call: the model sorts each call's texts by length, so big calls pad less

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, date TEXT, source TEXT NOT NULL,
    url TEXT, page_starts TEXT NOT NULL, text TEXT NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS aliases (doc_id TEXT NOT NULL, source TEXT NOT NULL, PRIMARY KEY (doc_id, source));
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, chunk_id INTEGER NOT NULL,
    start INTEGER NOT NULL, end INTEGER NOT NULL, text TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
CREATE TABLE IF NOT EXISTS origins (
    doc_id TEXT NOT NULL, path TEXT NOT NULL, folder TEXT NOT NULL, source TEXT NOT NULL,
    PRIMARY KEY (doc_id, path));
CREATE INDEX IF NOT EXISTS origins_path ON origins(path);
"""
# What a sync did to each file: in this order in summaries.
FILE_OUTCOMES = ("added", "replaced", "renamed", "removed", "unchanged")


class IndexFileError(RuntimeError):
    """Base of the errors about an index folder."""


class IndexNotFoundError(IndexFileError):
    """No index at the given folder."""


class IndexCorruptError(IndexFileError):
    """A file of the index is missing, truncated or damaged; the message names it and how to rebuild."""


class IndexVersionError(IndexFileError):
    """The index was written by another format version."""


class IndexMismatchError(IndexFileError):
    """The index was built with another embedding model (or chunker) than the one given."""


class IndexLockedError(IndexFileError):
    """Another process is writing to the index."""


class IndexPointerError(IndexCorruptError):
    """`CURRENT` is missing, empty, garbage or names a missing generation while generation folders remain;
    the message names the newest generation whose checksums verify and `--repair`, which restores it."""


class IndexHistoryError(IndexFileError):
    """There is no earlier generation (that verifies) to undo the last write to."""


class IndexSpaceError(IndexFileError):
    """A write ran out of disk space; the previous generation stays live and the partial one is removed."""


class IndexRemoveError(IndexFileError):
    """A document id or path asked to be removed is not in the index; nothing was changed."""


def _fsync_tree(folder: Path) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
    for path in [folder, *sorted(p for p in folder.rglob("*") if p.is_dir())]:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _data_files(generation: Path) -> list[Path]:
    return sorted(p for p in generation.rglob("*") if p.is_file() and p.name != MANIFEST)


def _rebuild_hint(root: Path) -> str:
    hint = f"rebuild it with: citeqa index PATH... --index {root} --rebuild"
    if len(_generations(root)) > 1:
        hint += f", or go back to the newest generation that verifies with: {_repair_hint(root)}"
    return hint


def _repair_hint(root: Path) -> str:
    return f"citeqa index --index {root} --repair"


def _live_name(root: Path) -> str | None:
    """The generation `CURRENT` names right now (None without one)."""
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):
        return None


def _generations(root: Path) -> list[Path]:
    """The generation folders (`gen-NNNNNN`) of an index, oldest first."""
    return sorted((p for p in root.glob("gen-??????") if GENERATION_NAME.fullmatch(p.name) and p.is_dir()),
                  key=lambda p: p.name)


def _read_pointer(root: Path) -> tuple[str | None, str | None]:
    """(the generation `CURRENT` validly names, None) or (None, what is wrong with `CURRENT`)."""
    pointer = root / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None, f"{pointer} is missing"
    except (OSError, ValueError) as err:
        return None, f"cannot read {pointer} ({err})"
    if not name:
        return None, f"{pointer} is empty"
    if not GENERATION_NAME.fullmatch(name):
        return None, f"{pointer} holds {name[:40]!r}, not a generation name"
    if not (root / name).is_dir():
        return None, f"{pointer} names {name}, which is not there"
    return name, None


def _writer_active(root: Path) -> bool:
    """Whether a writer holds (or held, until it crashed) the lock: it writes its pid there while it writes."""
    try:
        return bool((root / LOCK).read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        return False


def _verified(generation: Path, root: Path) -> dict | None:
    """A generation's manifest if the manifest is valid and every checksum matches, else None."""
    try:
        manifest = read_manifest(generation, root)
        verify_checksums(generation, manifest, root)
    except IndexFileError:
        return None
    return manifest


def _newest_verified(root: Path, candidates: list[Path]) -> tuple[Path, dict] | None:
    """The newest of `candidates` (oldest first) whose checksums verify, with its manifest."""
    for generation in reversed(candidates):
        manifest = _verified(generation, root)
        if manifest is not None:
            return generation, manifest
    return None


def _documents_phrase(manifest: dict) -> str:
    n = manifest["counts"]["documents"]
    return f"{n} document{'' if n == 1 else 's'}"


def _pointer_error(root: Path, problem: str) -> IndexFileError:
    """The error for an invalid `CURRENT`: not found (no generations), or which generation `--repair` restores."""
    generations = _generations(root)
    if not generations:
        if not (root / CURRENT).exists():
            return IndexNotFoundError(f"no citeqa index at {root} (missing {CURRENT}); build one with: citeqa index PATH --index {root}")
        return IndexCorruptError(f"{problem}; {_rebuild_hint(root)}")
    found = _newest_verified(root, generations)
    if found is None:
        return IndexPointerError(
            f"{problem}, and none of the generations in {root} ({', '.join(g.name for g in generations)}) verifies "
            f"its checksums; citeqa neither reads nor writes this index: move those folders out of {root} (or use "
            f"another folder) to build a new index there"
        )
    generation, manifest = found
    return IndexPointerError(
        f"{problem}, but {root} still holds generation {generation.name} ({_documents_phrase(manifest)}), whose "
        f"checksums verify; citeqa neither reads nor writes this index until it is restored with: {_repair_hint(root)}"
    )


def _connect_read_only(database: Path) -> sqlite3.Connection:
    """A read-only connection, opened now (so a generation deleted later stays readable through it)."""
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True, check_same_thread=False)
    db.execute("SELECT 1 FROM documents LIMIT 1").fetchall()
    return db


def current_generation(root: Path) -> Path:
    """The live generation folder of an index, read from `CURRENT`.

    An invalid `CURRENT` is read again (for up to `POINTER_SETTLE_SECONDS` while a writer holds the lock: a
    first write renames its generation before it writes `CURRENT`); then it is `IndexNotFoundError` without
    generation folders, else `IndexPointerError` naming the generation `--repair` restores."""
    root = Path(root)
    deadline = time.monotonic() + POINTER_SETTLE_SECONDS
    attempt = 0
    while True:
        name, problem = _read_pointer(root)
        if name is not None:
            return root / name
        if attempt > 0 and not (_writer_active(root) and time.monotonic() < deadline):
            raise _pointer_error(root, problem)
        attempt += 1
        time.sleep(0.01 if attempt == 1 else 0.05)


def _manifest_field_error(path: Path, root: Path, field: str, problem: str) -> IndexCorruptError:
    return IndexCorruptError(f"index manifest {path} is invalid: {field} {problem}; {_rebuild_hint(root)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# object field -> its fields and their checks: (test, what the value must be)
_MANIFEST_OBJECTS = {
    "embedding_model": {"name": (lambda v: isinstance(v, str) and v != "", "a non-empty string"),
                        "dimension": (lambda v: _is_int(v) and v > 0, "a positive integer")},
    "chunking": {"max_words": (lambda v: _is_int(v) and v > 0, "a positive integer"),
                 "overlap_sentences": (lambda v: _is_int(v) and v >= 0, "an integer >= 0")},
    "counts": {"documents": (lambda v: _is_int(v) and v >= 0, "an integer >= 0"),
               "chunks": (lambda v: _is_int(v) and v >= 0, "an integer >= 0")},
}


def validate_manifest(manifest, generation: Path, root: Path) -> dict:
    """Check a parsed manifest against its schema (see the module docstring); `IndexCorruptError` names the
    manifest file and the field, `IndexVersionError` another format version. Returns the manifest."""
    path = generation / MANIFEST
    if not isinstance(manifest, dict):
        raise _manifest_field_error(path, root, "the top level", f"must be a JSON object, not {type(manifest).__name__}")
    if "format_version" not in manifest:
        raise _manifest_field_error(path, root, "'format_version'", "is missing")
    version = manifest["format_version"]
    if not _is_int(version):
        raise _manifest_field_error(path, root, "'format_version'", f"must be an integer, not {version!r}")
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"{root} is a citeqa index of format version {version}; this citeqa reads version {FORMAT_VERSION}. {_rebuild_hint(root)}"
        )
    for name, fields in _MANIFEST_OBJECTS.items():
        value = manifest.get(name)
        if not isinstance(value, dict):
            raise _manifest_field_error(path, root, repr(name), "is missing" if value is None else "must be a JSON object")
        for field, (check, wanted) in fields.items():
            if field not in value:
                raise _manifest_field_error(path, root, f"'{name}.{field}'", "is missing")
            if not check(value[field]):
                raise _manifest_field_error(path, root, f"'{name}.{field}'", f"must be {wanted}, not {value[field]!r}")
    _validate_variant(manifest["embedding_model"], path, root)
    if not isinstance(manifest.get("created"), str):
        raise _manifest_field_error(path, root, "'created'", "must be a string" if "created" in manifest else "is missing")
    if not isinstance(manifest.get("vector_store", ""), str):
        raise _manifest_field_error(path, root, "'vector_store'", "must be a string")
    if not isinstance(manifest.get("vector_index", {}), dict):
        raise _manifest_field_error(path, root, "'vector_index'", "must be a JSON object")
    _validate_file_list(manifest.get("files"), path, generation, root)
    return manifest


def _validate_variant(model: dict, path: Path, root: Path) -> None:
    """`embedding_model.variant`, when recorded: a known variant, the one its `name` says (`variant_name`)."""
    variant = model.get("variant", "fp32")
    if variant not in EMBEDDING_VARIANTS:
        raise _manifest_field_error(path, root, "'embedding_model.variant'",
                                    f"must be one of {', '.join(EMBEDDING_VARIANTS)}, not {variant!r}")
    if split_variant(model["name"])[1] != variant:
        raise _manifest_field_error(path, root, "'embedding_model.variant'",
                                    f"{variant!r} does not match the name {model['name']!r}")


def _validate_file_list(files, path: Path, generation: Path, root: Path) -> None:
    """`files`: a non-empty mapping of relative path -> SHA-256 hex digest covering every data file of the generation."""
    if not isinstance(files, dict):
        raise _manifest_field_error(path, root, "'files'", "is missing" if files is None else "must be a JSON object")
    if not files:
        raise _manifest_field_error(path, root, "'files'", "is empty (no checksums to verify)")
    for relative, digest in files.items():
        parts = Path(relative).parts
        if not relative or Path(relative).is_absolute() or ".." in parts or relative == MANIFEST:
            raise _manifest_field_error(path, root, f"'files' entry {relative!r}", "is not a data file path inside the generation")
        if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
            raise _manifest_field_error(path, root, f"'files.{relative}'", f"must be a SHA-256 digest (64 hex digits), not {digest!r}")
    unlisted = [str(p.relative_to(generation)) for p in _data_files(generation)
                if str(p.relative_to(generation)) not in files]
    if unlisted:
        raise _manifest_field_error(path, root, "'files'", f"does not cover {', '.join(unlisted[:3])} (no checksum for it)")


def read_manifest(generation: Path, root: Path) -> dict:
    """A generation's manifest, parsed and validated (`validate_manifest`)."""
    path = generation / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexCorruptError(f"cannot read {path}: {err}; {_rebuild_hint(root)}") from err
    return validate_manifest(manifest, generation, root)


def _index_type(manifest: dict, root: Path) -> str:
    """The vector index type a manifest records (manifests before index types say "faiss-flat-ip")."""
    try:
        return index_type_of(manifest.get("vector_store", STORE_NAMES["flat"]))
    except ValueError as err:
        raise IndexVersionError(f"{root}: {err}; {_rebuild_hint(root)}") from err


def verify_checksums(generation: Path, manifest: dict, root: Path) -> None:
    for relative, expected in manifest["files"].items():
        path = generation / relative
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing; {_rebuild_hint(root)}")
        if sha256_file(path) != expected:
            raise IndexCorruptError(f"index file {path} is damaged (checksum mismatch); {_rebuild_hint(root)}")


def matching_embedder(embedder: Embedder, manifest: dict, location, remedy: str) -> Embedder:
    """`embedder` following the variant an index's manifest records (`Embedder.following`); another model or an
    explicit other variant is an `IndexMismatchError` naming both and `remedy` (vectors would not compare)."""
    built_with = manifest["embedding_model"]["name"]
    embedder = embedder.following(built_with)
    if built_with != embedder.name:
        raise IndexMismatchError(mismatch_message(location, built_with, embedder.name, remedy))
    return embedder


class DocumentIndex:
    """An opened, read-only generation of an index folder; safe to share between threads."""

    def __init__(self, root: Path, generation: Path, manifest: dict, vectors: FaissStore, bm25: BM25Index,
                 db: sqlite3.Connection | None = None):
        self.root = root
        self.name = root.name
        self.location = str(root)
        self.generation = generation
        self.manifest = manifest
        self.vectors = vectors
        self.bm25 = bm25
        self._db = db if db is not None else _connect_read_only(generation / DATABASE)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, root: str | Path, *, embedder: Embedder | None = None, verify: bool = True) -> "DocumentIndex":
        """Open the live generation; checks the format version, checksums and the embedding model.

        A writer may replace (and delete) the generation while it is being opened; then the open starts
        over on the new one. Once open, the files stay readable until `close`, even if deleted."""
        root = Path(root)
        attempts = 5
        for attempt in range(attempts):
            named = _live_name(root)
            try:
                generation = current_generation(root)
                manifest = read_manifest(generation, root)
                if verify:
                    verify_checksums(generation, manifest, root)
                with _NPY_LOAD_LOCK:
                    vectors = load_store(_index_type(manifest, root), generation / VECTORS, mmap=True)
                    bm25 = BM25Index.load(generation / BM25_DIR)
                db = _connect_read_only(generation / DATABASE)
                break
            except IndexNotFoundError:
                raise
            except (IndexCorruptError, FileNotFoundError, RuntimeError, sqlite3.Error) as err:
                if attempt < attempts - 1 and _live_name(root) != named:
                    continue  # a writer replaced the generation while we read it
                if isinstance(err, IndexFileError):
                    raise
                raise IndexCorruptError(f"cannot load index {root / str(named)}: {err}; {_rebuild_hint(root)}") from err
        index = cls(root, generation, manifest, vectors, bm25, db)
        if embedder is not None:
            index.embedder_for(embedder)
        return index

    def embedder_for(self, embedder: Embedder) -> Embedder:
        """The embedder to search this index with: `embedder` following the variant the index was built with
        (`Embedder.following`); another model or an explicit other variant is refused (vectors would not compare)."""
        return matching_embedder(embedder, self.manifest, self.root, "rebuild the index")

    @property
    def chunking(self) -> ChunkingSettings:
        return ChunkingSettings(**self.manifest["chunking"])

    def __len__(self) -> int:
        return int(self.manifest["counts"]["chunks"])

    def is_current(self) -> bool:
        """Whether `CURRENT` still names the generation this object reads."""
        return _live_name(self.root) == self.generation.name

    def description(self) -> dict:
        return {"store": "faiss", "embedding_model": self.manifest["embedding_model"],
                "chunking": self.manifest["chunking"], "created": self.manifest["created"],
                "vector_index": self.manifest.get("vector_index", {"type": "flat"}), "generation": self.generation.name}

    def _query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def chunks(self, ids: list[int]) -> dict[int, Chunk]:
        """Chunks by row id (the ids the vector store and BM25 return)."""
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._query(f"SELECT id, doc_id, chunk_id, start, end, text FROM chunks WHERE id IN ({marks})", ids)
        return {row[0]: Chunk(row[1], row[2], row[5], row[3], row[4]) for row in rows}

    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]:
        """Document metadata (no text), all of it or for the given ids, in insertion order."""
        sql = ("SELECT d.doc_id, d.title, d.date, d.source, d.url, d.page_starts, "
               "(SELECT COUNT(*) FROM chunks c WHERE c.doc_id = d.doc_id), "
               "(SELECT group_concat(a.source, char(10)) FROM aliases a WHERE a.doc_id = d.doc_id) FROM documents d")
        params: list = []
        if doc_ids is not None:
            doc_ids = list(doc_ids)
            if not doc_ids:
                return {}
            sql += f" WHERE d.doc_id IN ({','.join('?' * len(doc_ids))})"
            params = doc_ids
        sql += " ORDER BY d.added, d.doc_id"
        result = {}
        for row in self._query(sql, params):
            aliases = tuple(sorted(set((row[7] or "").split("\n")) - {""}))
            result[row[0]] = StoredDocument(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6], aliases)
        return result

    def origins(self) -> list[Origin]:
        """Which file each document came from (the `origins` rows, oldest first); none in a generation written
        before the table existed, or for documents added as plain `Document`s."""
        try:
            rows = self._query("SELECT doc_id, path, folder, source FROM origins ORDER BY rowid")
        except sqlite3.OperationalError:
            return []
        return [Origin(*row) for row in rows]

    def document_text(self, doc_id: str) -> str:
        rows = self._query("SELECT text FROM documents WHERE doc_id = ?", [doc_id])
        if not rows:
            raise KeyError(f"no document {doc_id!r} in {self.root}")
        return rows[0][0]

    def search_vectors(self, vectors: np.ndarray, k: int) -> VectorHits:
        return self.vectors.search(vectors, k)

    def close(self) -> None:
        with self._lock:
            self._db.close()


@contextmanager
def write_lock(root: Path, *, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold the index's writer lock; waits up to `wait_seconds`, then fails with a clear message."""
    root.mkdir(parents=True, exist_ok=True)
    handle = open(root / LOCK, "a+")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                handle.close()
                raise IndexLockedError(f"index {root} is being written by {holder}; wait for it to finish and try again") from None
            time.sleep(0.2)
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    try:
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _next_generation_name(root: Path) -> str:
    numbers = [int(p.name[4:10]) for p in root.glob("gen-??????") if p.name[4:10].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _write_manifest(folder: Path, embedder_name: str, dimension: int, chunking: ChunkingSettings, counts: dict,
                    vectors: FaissStore) -> dict:
    manifest = {
        "format_version": FORMAT_VERSION,
        "embedding_model": {"name": embedder_name, "variant": split_variant(embedder_name)[1], "dimension": dimension},
        "chunking": {"max_words": chunking.max_words, "overlap_sentences": chunking.overlap_sentences},
        "vector_store": vectors.name,
        "vector_index": vectors.settings(),
        "counts": counts,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "files": {str(p.relative_to(folder)): sha256_file(p) for p in _data_files(folder)},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return manifest


@dataclass(frozen=True)
class SourceFile:
    """One file's documents for `sync_index`: every document (part, record) read from it, as they come.

    `path` is the file's absolute path; `folder` the absolute folder it is indexed as part of (for a file given
    alone, the folder holding it). Each document's `source` is what the index shows for it."""

    path: str
    folder: str
    documents: Iterable[Document]


@dataclass(frozen=True)
class Origin:
    """A row of `origins`: document `doc_id` came from the file `path`, indexed as part of `folder`, as `source`."""

    doc_id: str
    path: str
    folder: str
    source: str


@dataclass(frozen=True)
class SyncReport:
    """What `sync_index` did: the write's report, what happened to each file it looked at or dropped (absolute
    path -> one of FILE_OUTCOMES), and the chunks each file's new documents embedded."""

    update: UpdateReport
    files: dict[str, str]
    embedded: dict[str, int]

    def counts(self, folder: str | None = None) -> dict[str, int]:
        """How many files had each outcome (those under `folder` only, when given), in FILE_OUTCOMES order."""
        counts = dict.fromkeys(FILE_OUTCOMES, 0)
        for path, outcome in self.files.items():
            if folder is None or is_under(path, folder):
                counts[outcome] += 1
        return counts

    def chunks_embedded(self, folder: str | None = None) -> int:
        """Chunks embedded for the files under `folder` (all of this write's, when None)."""
        if folder is None:
            return self.update.chunks_embedded
        return sum(n for path, n in self.embedded.items() if is_under(path, folder))


def is_under(path: str, folder: str) -> bool:
    """Whether the absolute path `path` is `folder` or inside it."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _metadata_of(document: Document) -> tuple:
    return (document.title, document.date, document.source, document.url, tuple(document.page_starts))


class OriginTracker:
    """What the files of one write gave, as the store takes their documents: each file's origin rows (one per
    distinct document, in order), the metadata files gave for documents the store already held, which file
    each new document was inserted from, and the chunks each file's new documents embedded."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, Origin]] = {}
        self.metadata: dict[tuple[str, str], tuple] = {}
        self.inserted: dict[str, str] = {}
        self.embedded: dict[str, int] = {}

    def see(self, file: SourceFile, document: Document, *, new_chunks: int | None) -> None:
        """`file` gave `document`: inserted with `new_chunks` chunks, or (None) already held by the store."""
        self.rows.setdefault(file.path, {}).setdefault(
            document.doc_id, Origin(document.doc_id, file.path, file.folder, document.source))
        if new_chunks is None:
            self.metadata.setdefault((document.doc_id, file.path), _metadata_of(document))
        else:
            self.inserted.setdefault(document.doc_id, file.path)
            self.embedded[file.path] = self.embedded.get(file.path, 0) + new_chunks

    def wanted_metadata(self, stored: tuple, origin: Origin) -> tuple:
        """A document's metadata once `origin` is its first origin: what that file gave this write, else what
        is stored with the source that file gave it before."""
        given = self.metadata.get((origin.doc_id, origin.path))
        return given if given is not None else (*stored[:2], origin.source, *stored[3:])


@dataclass(frozen=True)
class OriginPlan:
    """What one write does to the origins: rows to delete, to update (a new folder or source) and to insert;
    documents left without any origin (removed); each touched document's first origin afterwards (whose
    file's metadata and source it shows) and the path of its first origin before; alias names no origin gives
    any more; each file's outcome; and the (source, doc_id) of each new name for a text some other file still
    gives."""

    delete: tuple[Origin, ...]
    update: tuple[Origin, ...]
    insert: tuple[Origin, ...]
    remove_documents: tuple[str, ...]
    first: dict[str, Origin]
    first_before: dict[str, str]
    stale_aliases: tuple[tuple[str, str], ...]
    files: dict[str, str]
    duplicates: tuple[tuple[str, str], ...]

    def edited(self, doc_id: str, files: dict[str, str]) -> None:
        """A document's metadata changed from its first origin: that file is "replaced" if it was the document's
        first origin before too (its own text changed), not when it only took over from a file that went."""
        origin = self.first.get(doc_id)
        if origin is not None and self.first_before.get(doc_id) == origin.path and files.get(origin.path) == "unchanged":
            files[origin.path] = "replaced"


def plan_origins(old: list[Origin], tracker: OriginTracker, *, mirror: Iterable[str] = (),
                 remove_paths: Iterable[str] = (), keep: Iterable[str] = ()) -> OriginPlan:
    """The origin changes of one write (`old`: the rows before it, oldest first). Every file the tracker saw
    gets exactly the rows it gave; every other file under a `mirror` folder or a `remove_paths` path (a file
    or a folder) loses its rows; a document that loses its last origin is removed, unless it is in `keep`
    (added as a plain `Document` in the same write). A file that is new, gives only documents whose files
    vanished in this write, is "renamed" (the vanished file is then not counted as removed)."""
    mirror, remove_paths, keep = list(mirror), list(remove_paths), set(keep)
    seen = tracker.rows

    def in_scope(path: str) -> bool:
        return path in seen or any(is_under(path, f) for f in mirror) or any(is_under(path, r) for r in remove_paths)

    old_rows = {(r.doc_id, r.path): r for r in old}
    new_rows = {(r.doc_id, r.path): r for rows in seen.values() for r in rows.values()}
    delete = [r for key, r in old_rows.items() if key not in new_rows and in_scope(r.path)]
    update = [r for key, r in new_rows.items() if key in old_rows and old_rows[key] != r]
    insert = [r for key, r in new_rows.items() if key not in old_rows]
    gone = {(r.doc_id, r.path) for r in delete}
    final: dict[str, list[Origin]] = {}
    for r in [new_rows.get(key, r) for key, r in old_rows.items() if key not in gone] + insert:
        final.setdefault(r.doc_id, []).append(r)
    touched = dict.fromkeys([r.doc_id for r in (*delete, *update, *insert)] + [d for rows in seen.values() for d in rows])
    first_before: dict[str, str] = {}
    for r in old:
        first_before.setdefault(r.doc_id, r.path)
    stale = [(r.doc_id, r.source) for r in (*delete, *(old_rows[(u.doc_id, u.path)] for u in update))
             if r.doc_id in final and all(f.source != r.source for f in final[r.doc_id])]
    files, duplicates = _file_outcomes(old_rows, seen, delete, final, tracker)
    return OriginPlan(
        delete=tuple(delete), update=tuple(update), insert=tuple(insert),
        remove_documents=tuple(d for d in touched if d not in final and d not in keep),
        first={d: final[d][0] for d in touched if d in final},
        first_before={d: first_before[d] for d in touched if d in first_before}, stale_aliases=tuple(dict.fromkeys(stale)),
        files=files, duplicates=tuple(duplicates),
    )


def _file_outcomes(old_rows: dict, seen: dict[str, dict[str, Origin]], delete: list[Origin],
                   final: dict[str, list[Origin]], tracker: OriginTracker) -> tuple[dict[str, str], list]:
    """Each file's outcome (FILE_OUTCOMES) and the duplicates of `plan_origins`."""
    before: dict[str, set[str]] = {}
    for doc_id, path in old_rows:
        before.setdefault(path, set()).add(doc_id)
    vanished = {r.doc_id for r in delete if r.path not in seen}
    files = {}
    for path, rows in seen.items():
        if path in before:
            files[path] = "unchanged" if set(rows) == before[path] else "replaced"
        else:
            files[path] = "renamed" if set(rows) <= vanished else "added"
    moved = {d for path, outcome in files.items() if outcome == "renamed" for d in seen[path]}
    for path in dict.fromkeys(r.path for r in delete if r.path not in seen):
        if not before[path] <= moved:
            files[path] = "removed"
    duplicates = [(r.source, doc_id) for path, rows in seen.items() if files[path] in ("added", "replaced")
                  for doc_id, r in rows.items()
                  if doc_id not in before.get(path, ()) and tracker.inserted.get(doc_id) != path
                  and any(f.path != path for f in final.get(doc_id, ()))]
    return files, duplicates


def sync_index(
    root: str | Path,
    embedder: Embedder,
    *,
    add: Iterable[Document] = (),
    remove: Iterable[str] = (),
    files: Iterable[SourceFile] = (),
    mirror: Iterable[str] = (),
    remove_paths: Iterable[str] = (),
    strict: bool = False,
    chunking: ChunkingSettings | None = None,
    rebuild: bool = False,
    wait_seconds: float = 0.0,
    progress: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    index_type: str = "auto",
    flat_max: int = FLAT_MAX_CHUNKS,
    hnsw_max: int = HNSW_MAX_CHUNKS,
) -> SyncReport:
    """`update_index` that also knows which file each document came from, as one atomic write.

    `files` are read as they come: a document the index lacks is embedded and inserted, one it holds is not
    (a renamed file only changes the origin and source). Each file then has exactly the documents it gave
    (`plan_origins`); files under a `mirror` folder (absolute) that gave nothing in this write, and files
    under `remove_paths` (absolute files or folders), lose theirs, and documents left without any origin are
    removed. A document's title, date, source and URL follow its first origin's file. `strict` makes an id in
    `remove` the index lacks, or a path in `remove_paths` no document came from, an `IndexRemoveError` that
    changes nothing. Nothing is written when nothing would change (no new generation).
    """
    if index_type != "auto" and index_type not in INDEX_TYPES:
        raise ValueError(f"unknown index type {index_type!r}: choose one of auto, {', '.join(INDEX_TYPES)}")
    root = Path(root)
    started = time.monotonic()
    changes = _Changes(add, tuple(remove), files, tuple(mirror), tuple(remove_paths), strict)
    with write_lock(root, wait_seconds=wait_seconds):
        _remove_stale_tmp(root)
        live_name = _checked_live_name(root)
        live, chunking, index_type, embedder = _starting_point(root, live_name, embedder, chunking, index_type, rebuild)
        keep = _generation_to_keep(root, live_name, verified=live is not None)
        job = _GenerationJob(live, root / (_next_generation_name(root) + ".tmp"), embedder, chunking,
                             _index_type_chooser(index_type, flat_max, hnsw_max), progress, on_progress)
        written = _write_and_publish(root, job, changes, keep=keep, live_name=live_name)
        return SyncReport(replace(written.report, seconds=time.monotonic() - started), written.files, written.embedded)


def update_index(root: str | Path, embedder: Embedder, *, add: Iterable[Document] = (), remove: Iterable[str] = (),
                 **options) -> UpdateReport:
    """Add and remove documents as one atomic write; only new chunks are embedded.

    A new index uses `chunking` (default settings if None); an existing one keeps its own settings.
    `rebuild` starts from empty instead of the live generation. Nothing changes when nothing would.
    `index_type` is the vector index of a new (or rebuilt) index: "auto" picks exact search up to
    `flat_max` chunks, HNSW up to `hnsw_max`, IVF-PQ beyond; an existing index keeps its type ("auto" or
    the same type; another type needs `rebuild`). `options` are those of `sync_index`: chunking, rebuild,
    wait_seconds, progress, on_progress, index_type, flat_max, hnsw_max.
    """
    return sync_index(root, embedder, add=add, remove=remove, **options).update


def repair_index(root: str | Path, *, wait_seconds: float = 0.0) -> str:
    """Point `CURRENT` at the newest generation whose checksums verify, when it is missing, empty, garbage,
    names a missing generation or one that fails its checksums; returns the generation now live.

    A valid `CURRENT` naming a generation that verifies is left as it is. Writes nothing but `CURRENT` and
    deletes nothing; `IndexCorruptError` when no generation verifies."""
    root = Path(root)
    generations = _existing_generations(root)
    with write_lock(root, wait_seconds=wait_seconds):
        live_name, _ = _read_pointer(root)
        if live_name is not None and _verified(root / live_name, root) is not None:
            return live_name
        found = _newest_verified(root, _generations(root))
        if found is None:
            raise IndexCorruptError(
                f"cannot repair {root}: none of its generations ({', '.join(g.name for g in generations)}) verifies "
                f"its checksums; rebuild it with: citeqa index PATH... --index {root} --rebuild"
            )
        _write_pointer(root, found[0].name)
        return found[0].name


def undo_last_write(root: str | Path, *, wait_seconds: float = 0.0) -> str:
    """Point `CURRENT` at the newest generation older than the live one whose checksums verify (the one
    before the last write); returns the generation now live. The undone generation stays until the next
    write deletes it. `IndexHistoryError` when there is none to go back to."""
    root = Path(root)
    _existing_generations(root)
    with write_lock(root, wait_seconds=wait_seconds):
        live_name, problem = _read_pointer(root)
        if live_name is None:
            raise _pointer_error(root, problem)
        older = [g for g in _generations(root) if g.name < live_name]
        found = _newest_verified(root, older)
        if found is None:
            kept = f" ({', '.join(g.name for g in older)} fail their checksums)" if older else ""
            raise IndexHistoryError(f"nothing to undo in {root}: no generation before {live_name} verifies{kept}; "
                                    f"{live_name} stays live")
        _write_pointer(root, found[0].name)
        return found[0].name


def _existing_generations(root: Path) -> list[Path]:
    """The generation folders of an index (oldest first); `IndexNotFoundError` without any (nothing is created)."""
    generations = _generations(root)
    if not generations:
        raise IndexNotFoundError(f"no citeqa index at {root} (no generation folders); build one with: citeqa index PATH --index {root}")
    return generations


def _remove_stale_tmp(root: Path) -> None:
    """Delete the `gen-NNNNNN.tmp` folders a crashed write left (nothing else)."""
    for stale in root.glob("gen-??????.tmp"):
        if GENERATION_NAME.fullmatch(stale.name[: -len(".tmp")]) and stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)


def _checked_live_name(root: Path) -> str | None:
    """The live generation a write starts from; None for a new index (no generation folders at all).

    Generation folders without a valid `CURRENT` make the write refuse (`IndexPointerError`): starting a new
    index there would delete them."""
    name, problem = _read_pointer(root)
    if name is not None:
        return name
    if not _generations(root):
        return None
    raise _pointer_error(root, problem)


def _generation_to_keep(root: Path, live_name: str | None, *, verified: bool) -> str | None:
    """The generation kept besides the new one: the live one (already verified by a plain write); for a
    rebuild, the live one if it verifies, else the newest older one that does."""
    if live_name is None or verified:
        return live_name
    found = _newest_verified(root, [g for g in _generations(root) if g.name <= live_name])
    return found[0].name if found is not None else live_name


@dataclass(frozen=True)
class _GenerationJob:
    """What writing one generation needs: where it starts and is built, and how to chunk, embed and report progress."""

    live: Path | None  # the generation to start from; None for a new (or rebuilt) index
    tmp: Path  # the `gen-NNNNNN.tmp` folder the generation is built in
    embedder: Embedder
    chunking: ChunkingSettings
    choose_type: Callable[[int], str]  # chunk count -> vector index type (an existing index: its own type)
    progress: bool = False
    on_progress: Callable[[int, int], None] | None = None


@dataclass(frozen=True)
class _Changes:
    """What one write is asked to do (see `sync_index`)."""

    add: Iterable[Document] = ()
    remove: tuple[str, ...] = ()
    files: Iterable[SourceFile] = ()
    mirror: tuple[str, ...] = ()
    remove_paths: tuple[str, ...] = ()
    strict: bool = False


@dataclass(frozen=True)
class _Additions:
    """What adding documents did: the new and repeated plain documents, the ids of all plain documents, and the
    new chunks' vectors."""

    added: tuple[str, ...]
    duplicates: tuple[tuple[str, str], ...]
    alias_added: bool
    embedded: int  # chunks embedded; their row ids run up to `next_id` (excluded)
    parts: list[np.ndarray]
    next_id: int
    plain: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _WrittenGeneration:
    """What `_write_generation` did: its report (`seconds` still 0), each file's outcome and chunks embedded, and
    the counts and vector store of a changed index."""

    report: UpdateReport
    files: dict[str, str]
    embedded: dict[str, int]
    counts: dict | None = None
    vectors: FaissStore | None = None


def _starting_point(root: Path, live_name: str | None, embedder: Embedder, chunking: ChunkingSettings | None,
                    index_type: str, rebuild: bool) -> tuple[Path | None, ChunkingSettings, str, Embedder]:
    """The live generation to start from, verified (None: start empty), and the chunking, index type and
    embedder (the variant the live one was built with) to write with."""
    if live_name is None or rebuild:
        return None, ChunkingSettings() if chunking is None else chunking, index_type, embedder
    live = root / live_name
    manifest = read_manifest(live, root)
    verify_checksums(live, manifest, root)
    embedder = matching_embedder(embedder, manifest, root, "pass --rebuild")
    chunking = ChunkingSettings(**manifest["chunking"])
    live_type = _index_type(manifest, root)
    if index_type not in ("auto", live_type):
        raise IndexMismatchError(
            f"index {root} uses the {live_type} vector index; pass --rebuild to rebuild it as {index_type}"
        )
    return live, chunking, live_type, embedder


def _index_type_chooser(index_type: str, flat_max: int, hnsw_max: int) -> Callable[[int], str]:
    """Chunk count -> vector index type: `index_type` itself, or for "auto" the pick of `choose_index_type`."""
    if index_type != "auto":
        return lambda n: index_type
    return lambda n: choose_index_type(n, flat_max=flat_max, hnsw_max=hnsw_max)


def _write_and_publish(root: Path, job: _GenerationJob, changes: _Changes, *,
                       keep: str | None, live_name: str | None) -> _WrittenGeneration:
    """Build the generation in `job.tmp` and make it live (unless nothing changed), then delete every generation
    but the new one and `keep`. Any failure removes `job.tmp`; one for lack of space is `IndexSpaceError`."""
    try:
        job.tmp.mkdir(parents=True)
        written = _write_generation(job, changes)
        if not written.report.changed:
            shutil.rmtree(job.tmp)
            return written
        _write_manifest(job.tmp, job.embedder.name, written.vectors.dimension, job.chunking, written.counts,
                        written.vectors)
        final = _publish(root, job.tmp)
    except BaseException as err:
        space_error = _space_error(root, err, job, live_name)  # measured before the partial generation goes
        shutil.rmtree(job.tmp, ignore_errors=True)
        if space_error is not None:
            raise space_error from err
        raise
    for old in _generations(root):
        if old.name not in (final.name, keep) and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
    return written


def _folder_bytes(folder: Path | None) -> int:
    if folder is None:
        return 0
    try:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    except OSError:
        return 0


def _mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path` (what `df` would name)."""
    path = path.resolve()
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return path


def _space_error(root: Path, err: BaseException, job: _GenerationJob, live_name: str | None) -> IndexSpaceError | None:
    """`IndexSpaceError` when a write failed for lack of disk space: an ENOSPC/EDQUOT `OSError`, or an I/O-like
    error (FAISS's RuntimeError, SQLite's, numpy's "requested and written") while almost no space is left."""
    if not isinstance(err, (OSError, RuntimeError, sqlite3.Error)) or isinstance(err, IndexFileError):
        return None
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = None
    out_of_space = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
    if not out_of_space and (free is None or free >= LOW_SPACE_BYTES):
        return None
    # the new generation is about the size of the live one, or what the failed write had already put down
    needed = max(_folder_bytes(job.tmp), _folder_bytes(job.live), _folder_bytes(root / live_name) if live_name else 0)
    needed_mb = max(1, math.ceil(needed * 1.1 / 1e6))
    free_text = f", {free / 1e6:.0f} MB free" if free is not None else ""
    state = f"{live_name} stays live" if live_name else "no index was created"
    return IndexSpaceError(
        f"no space left on {_mount_point(root)} (needed ~{needed_mb} MB{free_text}) while writing the index {root}: "
        f"nothing was changed ({state}, the partial generation was removed); free some space and run it again"
    )


def _publish(root: Path, tmp: Path) -> Path:
    """Fsync a built generation, rename it to its final name and atomically point `CURRENT` at it; returns it.
    If `CURRENT` cannot be replaced, the generation is renamed back to `tmp` (for the caller to remove)."""
    _fsync_tree(tmp)
    final = root / tmp.name[: -len(".tmp")]
    os.replace(tmp, final)
    try:
        _write_pointer(root, final.name)
    except BaseException:
        if _live_name(root) != final.name:
            os.replace(final, tmp)
        raise
    return final


def _write_pointer(root: Path, name: str) -> None:
    """Atomically make `CURRENT` name the generation `name` (written beside it, fsynced, renamed over it)."""
    pointer_tmp = root / (CURRENT + ".tmp")
    try:
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        with pointer_tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(pointer_tmp, root / CURRENT)
    except BaseException:
        pointer_tmp.unlink(missing_ok=True)
        raise
    _fsync_tree_dir(root)


def _fsync_tree_dir(folder: Path) -> None:
    """Fsync a folder itself (its entries: renames and new names in it), not what it holds."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_generation(job: _GenerationJob, changes: _Changes) -> _WrittenGeneration:
    """Write the database, vectors and BM25 of the new generation into `job.tmp` (all but the manifest)."""
    db = sqlite3.connect(job.tmp / DATABASE)
    try:
        vectors = _start_generation(db, job)
        if changes.strict:
            _check_removals(db, changes.remove, changes.remove_paths)
        removed = _remove_documents(db, vectors, list(changes.remove))
        old = [Origin(*row) for row in db.execute("SELECT doc_id, path, folder, source FROM origins ORDER BY rowid")]
        tracker = OriginTracker()
        additions = _add_documents(db, job, changes.add, changes.files, tracker)
        plan = plan_origins(old, tracker, mirror=changes.mirror, remove_paths=changes.remove_paths, keep=additions.plain)
        synced = _apply_origins(db, vectors, plan, tracker)
        removed += synced.removed
        duplicates = additions.duplicates + plan.duplicates
        if not (removed or additions.added or additions.alias_added or synced.changed):
            return _WrittenGeneration(UpdateReport(added=(), duplicates=duplicates, removed=(), chunks_embedded=0,
                                                   seconds=0.0, changed=False), synced.files, {})
        vectors = _add_vectors(job, vectors, additions)
        db.commit()
        counts = _save_search_files(db, job.tmp, vectors)
    finally:
        db.close()
    report = UpdateReport(added=additions.added, duplicates=duplicates, removed=tuple(removed),
                          chunks_embedded=additions.embedded, seconds=0.0, changed=True)
    return _WrittenGeneration(report, synced.files, tracker.embedded, counts, vectors)


def _check_removals(db: sqlite3.Connection, remove: Iterable[str], remove_paths: Iterable[str]) -> None:
    """`IndexRemoveError` naming every id the index lacks and every path no document came from."""
    missing = [d for d in dict.fromkeys(remove)
               if db.execute("SELECT 1 FROM documents WHERE doc_id = ?", (d,)).fetchone() is None]
    remove_paths = list(dict.fromkeys(remove_paths))
    if remove_paths:
        paths = [row[0] for row in db.execute("SELECT DISTINCT path FROM origins")]
        missing += [p for p in remove_paths if not any(is_under(q, p) for q in paths)]
    if missing:
        raise IndexRemoveError(f"not in the index: {', '.join(missing)}; nothing was changed")


@dataclass(frozen=True)
class _Synced:
    """What applying an `OriginPlan` did: the documents it removed, each file's outcome, whether anything changed."""

    removed: list[str]
    files: dict[str, str]
    changed: bool


def _apply_origins(db: sqlite3.Connection, vectors: FaissStore | None, plan: OriginPlan,
                   tracker: OriginTracker) -> _Synced:
    """Apply an origin plan: rows, documents left without an origin, stale aliases, and the metadata of each
    touched document from its first origin (a file whose documents only changed metadata is "replaced")."""
    db.executemany("DELETE FROM origins WHERE doc_id = ? AND path = ?", [(r.doc_id, r.path) for r in plan.delete])
    db.executemany("UPDATE origins SET folder = ?, source = ? WHERE doc_id = ? AND path = ?",
                   [(r.folder, r.source, r.doc_id, r.path) for r in plan.update])
    db.executemany("INSERT INTO origins VALUES (?, ?, ?, ?)", [(r.doc_id, r.path, r.folder, r.source) for r in plan.insert])
    removed = _remove_documents(db, vectors, list(plan.remove_documents))
    changed = bool(plan.delete or plan.update or plan.insert or removed)
    for doc_id, source in plan.stale_aliases:
        changed |= db.execute("DELETE FROM aliases WHERE doc_id = ? AND source = ?", (doc_id, source)).rowcount > 0
    files = dict(plan.files)
    for doc_id, origin in plan.first.items():
        row = db.execute("SELECT title, date, source, url, page_starts FROM documents WHERE doc_id = ?", (doc_id,)).fetchone()
        if row is None:
            continue
        stored = (*row[:4], tuple(json.loads(row[4])))
        wanted = tracker.wanted_metadata(stored, origin)
        if wanted == stored:
            continue
        db.execute("UPDATE documents SET title = ?, date = ?, source = ?, url = ?, page_starts = ? WHERE doc_id = ?",
                   (*wanted[:4], json.dumps(list(wanted[4])), doc_id))
        db.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (doc_id, wanted[2]))
        changed = True
        plan.edited(doc_id, files)
    return _Synced(removed, files, changed)


def _start_generation(db: sqlite3.Connection, job: _GenerationJob) -> FaissStore | None:
    """Copy the live generation's database and vectors, or create the schema (vectors come once chunks are counted)."""
    if job.live is None:
        db.executescript(SCHEMA)
        return None
    source = sqlite3.connect(f"file:{job.live / DATABASE}?mode=ro", uri=True)
    source.backup(db)
    source.close()
    db.executescript(SCHEMA)  # adds what an older generation lacks (the origins table); all IF NOT EXISTS
    with _NPY_LOAD_LOCK:
        return load_store(job.choose_type(0), job.live / VECTORS)  # an existing index: the chooser returns its own type


def _remove_documents(db: sqlite3.Connection, vectors: FaissStore | None, remove: list[str]) -> list[str]:
    """Delete documents with their aliases, chunks and chunk vectors; returns the ids that were there."""
    removed = []
    for doc_id in dict.fromkeys(remove):
        ids = [row[0] for row in db.execute("SELECT id FROM chunks WHERE doc_id = ?", (doc_id,))]
        if db.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount:
            removed.append(doc_id)
        db.execute("DELETE FROM chunks WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM aliases WHERE doc_id = ?", (doc_id,))
        db.execute("DELETE FROM origins WHERE doc_id = ?", (doc_id,))
        if vectors is not None:
            vectors.remove(np.asarray(ids, dtype=np.int64))
    return removed


def _add_documents(db: sqlite3.Connection, job: _GenerationJob, add: Iterable[Document],
                   files: Iterable[SourceFile] = (), tracker: OriginTracker | None = None) -> _Additions:
    """Insert new documents, aliases and chunks, embedding the chunks in batches as the documents come: the
    plain documents of `add`, then those of `files` (each one told to `tracker`, new or already held)."""
    known = {row[0] for row in db.execute("SELECT doc_id FROM documents")}
    added, duplicates, plain = [], [], set()
    alias_added = False
    now = time.time()
    next_id = (db.execute("SELECT MAX(id) FROM chunks").fetchone()[0] or 0) + 1
    batches = _EmbeddingBatches(job, None if files else _new_chunk_count(add, known, job.chunking))
    # Documents are taken one at a time (`add` and each file's documents may be streams): each is written and
    # its chunks embedded in batches, so only the vectors, never all texts, stay in memory.
    for document, file in _documents_with_files(add, files):
        if db.execute("INSERT OR IGNORE INTO aliases VALUES (?, ?)", (document.doc_id, document.source)).rowcount:
            alias_added = True
        if file is None:
            plain.add(document.doc_id)
        if document.doc_id in known:
            if file is None:
                duplicates.append((document.source, document.doc_id))
            else:
                tracker.see(file, document, new_chunks=None)
            continue
        known.add(document.doc_id)
        added.append(document.doc_id)
        chunks = _insert_document(db, document, now + len(added) * 1e-6, next_id, job.chunking)
        batches.add(chunks)
        next_id += len(chunks)
        if file is not None:
            tracker.see(file, document, new_chunks=len(chunks))
    batches.finish()
    return _Additions(tuple(added), tuple(duplicates), alias_added, batches.embedded, batches.parts, next_id,
                      frozenset(plain))


def _documents_with_files(add: Iterable[Document], files: Iterable[SourceFile]) -> Iterator[tuple[Document, SourceFile | None]]:
    """(document, the file it came from) for the plain documents (None) and then each file's documents."""
    for document in add:
        yield document, None
    for file in files:
        for document in file.documents:
            yield document, file


def _chunks_of(document: Document, chunking: ChunkingSettings) -> list[Chunk]:
    """A document's chunks under the index's chunking settings."""
    return chunk_document(document, max_words=chunking.max_words, overlap_sentences=chunking.overlap_sentences)


def _new_chunk_count(add: Iterable[Document], known: set[str], chunking: ChunkingSettings) -> int | None:
    """How many chunks the new documents make, when `add` is already in memory (a list or tuple), else None."""
    if not isinstance(add, (list, tuple)):
        return None
    return sum(len(_chunks_of(d, chunking)) for d in {d.doc_id: d for d in add if d.doc_id not in known}.values())


def _insert_document(db: sqlite3.Connection, document: Document, added_at: float, first_id: int,
                     chunking: ChunkingSettings) -> list[Chunk]:
    """Insert a document's row and its chunks' rows (row ids from `first_id`); returns the chunks."""
    db.execute(
        "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (document.doc_id, document.title, document.date, document.source, document.url,
         json.dumps(list(document.page_starts)), document.text, added_at),
    )
    chunks = _chunks_of(document, chunking)
    db.executemany("INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?)",
                   [(first_id + n, c.doc_id, c.chunk_id, c.start, c.end, c.text) for n, c in enumerate(chunks)])
    return chunks


class _EmbeddingBatches:
    """Embeds chunks in calls of `EMBED_CALL` as they come, keeping only the vectors, and reports progress."""

    def __init__(self, job: _GenerationJob, total: int | None):
        self._embedder = job.embedder
        self._on_progress = job.on_progress
        self._total = total
        self._progress = job.progress
        self._bar = None  # shown from the first embedder call: a write that embeds nothing prints nothing
        self._pending: list[Chunk] = []
        self.parts: list[np.ndarray] = []
        self.embedded = 0

    def add(self, chunks: list[Chunk]) -> None:
        """Queue chunks, embedding every full call's worth."""
        self._pending.extend(chunks)
        while len(self._pending) >= EMBED_CALL:
            call, self._pending = self._pending[:EMBED_CALL], self._pending[EMBED_CALL:]
            self._embed(call)

    def finish(self) -> None:
        """Embed the chunks still queued and close the progress bar."""
        if self._pending:
            call, self._pending = self._pending, []
            self._embed(call)
        if self._bar is not None:
            self._bar.close()

    def _embed(self, chunks: list[Chunk]) -> None:
        """One embedder call; counts the chunks and reports progress."""
        if self._bar is None:
            self._bar = _progress_bar(self._total, self._progress)
        self.parts.append(self._embedder.encode([c.text for c in chunks]))
        self.embedded += len(chunks)
        if self._bar is not None:
            self._bar.update(len(chunks))
        if self._on_progress is not None:
            self._on_progress(self.embedded, self.embedded if self._total is None else self._total)


def _add_vectors(job: _GenerationJob, vectors: FaissStore | None, additions: _Additions) -> FaissStore:
    """Add the new chunks' vectors under their row ids, first creating the store of a new index (type by chunk count)."""
    ids = np.arange(additions.next_id - additions.embedded, additions.next_id, dtype=np.int64)
    if vectors is None:
        vectors = create_store(job.choose_type(additions.embedded), job.embedder.dimension)
    if additions.parts:
        vectors.add(ids, np.concatenate(additions.parts))  # one add: an IVF trains on all of a new index's vectors
    return vectors


def _save_search_files(db: sqlite3.Connection, folder: Path, vectors: FaissStore) -> dict:
    """Write BM25 over all chunks, then the vectors, into `folder`; returns the document and chunk counts."""
    rows = db.execute("SELECT id, text FROM chunks ORDER BY id").fetchall()
    BM25Index.build([r[0] for r in rows], [r[1] for r in rows]).save(folder / BM25_DIR)
    vectors.save(folder / VECTORS)
    return {
        "documents": db.execute("SELECT COUNT(*) FROM documents").fetchone()[0],
        "chunks": len(rows),
    }


def _progress_bar(total: int | None, show: bool):
    """A chunk counter (with a total when known) while embedding, or None."""
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="embedding", unit="chunk")
