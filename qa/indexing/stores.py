"""Which store an index lives in: open it and write to it, FAISS folder or Milvus alike; and the files and
folders a write reads, each document with the file it came from (`SourceFiles`), for `sync_index`."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from corpus.chunking import ChunkingSettings
from corpus.documents import Document
from embeddings.cache import cache_root
from embeddings.embedder import Embedder
from embeddings.passage_index import PassageIndex, UpdateReport
from embeddings.store import INDEX_TYPES

if TYPE_CHECKING:  # the FAISS index module loads when a write or a read needs it
    from embeddings.index import SourceFile, SyncReport

STORES = ("faiss", "milvus")
DEFAULT_MILVUS_FILE = "milvus.db"


@dataclass(frozen=True)
class IndexTarget:
    """Which index to open or write: the store, its folder (faiss) or collection name (milvus), the Milvus URI,
    and the chunking and vector index type a new index gets. `location` None means the bundled articles' index."""

    store: str = "faiss"
    location: str | None = None
    uri: str | None = None
    chunking: ChunkingSettings = field(default_factory=ChunkingSettings)
    index_type: str = "auto"

    def __post_init__(self) -> None:
        if self.store not in STORES:
            raise ValueError(f"unknown store {self.store!r}: choose one of {', '.join(STORES)}")
        if self.uri is not None and self.store != "milvus":
            raise ValueError(f"a store URI ({self.uri}) is only for --store milvus")
        if self.index_type not in ("auto", *INDEX_TYPES):
            raise ValueError(f"unknown index type {self.index_type!r}: choose one of auto, {', '.join(INDEX_TYPES)}")

    @property
    def bundled(self) -> bool:
        return self.location is None


def resolved(target: IndexTarget, embedder: Embedder) -> IndexTarget:
    """The same target with its defaults spelled out: the bundled index's folder or collection name, and the
    Milvus URI (`milvus.db` in the cache). Writes go to a resolved target, so they land where reads look."""
    from qa.indexing.bundled import bundled_index_dir, bundled_index_key

    if target.store == "faiss":
        location = target.location if target.location is not None else str(bundled_index_dir(embedder, target.chunking))
        return replace(target, location=location)
    uri = target.uri if target.uri is not None else str(cache_root() / DEFAULT_MILVUS_FILE)
    name = target.location if target.location is not None else f"citeqa_default_{bundled_index_key(embedder, target.chunking)}"
    return replace(target, location=name, uri=uri)


def open_index(target: IndexTarget, embedder: Embedder, *, check_model: bool = True) -> PassageIndex:
    """The index a target names: a `DocumentIndex` folder (faiss) or a `MilvusIndex` (milvus); the bundled
    articles' index is built on first use. `check_model` False opens an index built with another embedding
    model (to describe it, not to search it)."""
    where = resolved(target, embedder)
    if where.store == "faiss":
        from embeddings.index import DocumentIndex

        if target.bundled:
            ensure_bundled_index(target, embedder)
        return DocumentIndex.open(where.location, embedder=embedder if check_model else None)
    from embeddings.milvus_index import MilvusIndex
    from embeddings.milvus_store import connect

    client = connect(where.uri)  # one engine connection for the build and the reads
    if target.bundled:
        ensure_bundled_index(target, embedder, client=client)
    return MilvusIndex.open(where.uri, where.location, embedder=embedder if check_model else None, client=client)


def ensure_bundled_index(target: IndexTarget, embedder: Embedder, *, client=None) -> None:
    """Build the bundled articles' index of this store, model and chunking if it does not exist yet."""
    from corpus.loaders import load_default_corpus

    where = resolved(replace(target, location=None), embedder)
    if where.store == "faiss":
        from embeddings.index import CURRENT, update_index

        if not (Path(where.location) / CURRENT).exists():
            update_index(where.location, embedder, add=load_default_corpus(), chunking=where.chunking, wait_seconds=300)
        return
    from embeddings.milvus_index import Collections, read_manifest, update_milvus_index
    from embeddings.milvus_store import connect

    client = connect(where.uri) if client is None else client
    if read_manifest(client, Collections(where.location)) is None:
        update_milvus_index(where.uri, embedder, name=where.location, add=load_default_corpus(), chunking=where.chunking,
                            client=client)


def describe(target: IndexTarget) -> str:
    """Where a resolved target's index lives, as messages show it."""
    return target.location if target.store == "faiss" else f"{target.uri}#{target.location}"


def write_index(target: IndexTarget, embedder: Embedder, *, add: Iterable[Document] = (), remove: Iterable[str] = (),
                rebuild: bool = False, wait_seconds: float = 0.0, progress: bool = False,
                on_progress: Callable[[int, int], None] | None = None) -> tuple[UpdateReport, str]:
    """Add and remove documents in the index a target names (`sync_index` with no files behind them); returns
    the write's report and where the index is."""
    sync, where = sync_index(target, embedder, add=add, remove=remove, rebuild=rebuild, wait_seconds=wait_seconds,
                             progress=progress, on_progress=on_progress)
    return sync.update, where


def index_exists(target: IndexTarget, embedder: Embedder) -> bool:
    """Whether the index a target names is there already (the bundled one always is: it is built on first use)."""
    if target.bundled:
        return True
    where = resolved(target, embedder)
    if where.store == "faiss":
        from embeddings.index import CURRENT, GENERATION_NAME

        root = Path(where.location)
        return (root / CURRENT).exists() or any(GENERATION_NAME.fullmatch(p.name) for p in root.glob("gen-??????"))
    from embeddings.milvus_index import Collections, read_manifest
    from embeddings.milvus_store import connect

    return read_manifest(connect(where.uri), Collections(where.location)) is not None


def sync_index(target: IndexTarget, embedder: Embedder, *, files: Iterable[SourceFile] = (), mirror: Iterable[str] = (),
               add: Iterable[Document] = (), remove: Iterable[str] = (), remove_paths: Iterable[str] = (),
               strict: bool = False, rebuild: bool = False, wait_seconds: float = 0.0, progress: bool = False,
               on_progress: Callable[[int, int], None] | None = None) -> tuple[SyncReport, str]:
    """`write_index` knowing which file each document came from (`embeddings.index.sync_index`): files under the
    `mirror` folders that gave nothing are dropped, `remove_paths` (absolute files or folders) remove what came
    from them; `strict` makes an unknown id or path an `IndexRemoveError`. Returns the report and where the index is."""
    if target.bundled:
        ensure_bundled_index(target, embedder)
    where = resolved(target, embedder)
    options = dict(add=add, remove=remove, files=files, mirror=mirror, remove_paths=remove_paths, strict=strict,
                   chunking=where.chunking, rebuild=rebuild, progress=progress, on_progress=on_progress)
    if where.store == "faiss":
        from embeddings.index import sync_index as sync_folder_index

        report = sync_folder_index(where.location, embedder, wait_seconds=wait_seconds, index_type=where.index_type,
                                   **options)
        return report, describe(where)
    from embeddings.milvus_index import sync_milvus_index

    return sync_milvus_index(where.uri, embedder, name=where.location, **options), describe(where)


class SourceFiles:
    """The files of the given paths as `SourceFile`s, read one at a time (huge files stream in parts).

    A folder gives its files (recursively, hidden names skipped), each document's source its path relative to
    that folder (unless the file states one or has a URL); a file given alone gives itself, shown by its name.
    File paths are absolute, under the folder as given (a symlinked file keeps its place in the folder); a file
    reached twice is read once. `folders` are the folders given (absolute, resolved: the ones a sync mirrors);
    `skipped` (`corpus.loaders.SkippedFile`) and `duplicates` (label, doc_id, file path: a text repeated inside
    one file) and `notes` fill in as the files are read.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]]):
        from corpus.errors import CorpusError

        self.paths = [Path(p) for p in paths]
        for path in self.paths:
            if not path.exists():
                raise CorpusError(f"no such file or folder: {path}")
        self.folders = [str(p.resolve()) for p in self.paths if p.is_dir()]
        self.skipped: list = []
        self.notes: list = []  # `corpus.loaders.FileNote`: files that loaded with a remark (e.g. an HTML fallback)
        self.duplicates: list[tuple[str, str, str]] = []

    def __iter__(self) -> Iterator[SourceFile]:
        from corpus.files import files_under
        from embeddings.index import SourceFile

        seen: set[Path] = set()
        for given in self.paths:
            if given.is_dir():
                folder = given.resolve()
                entries = [(file, folder / file.relative_to(given), folder, given) for file in files_under(given)]
            else:
                folder = given.absolute().parent.resolve()
                entries = [(given, folder / given.name, folder, None)]
            for file, path, folder, relative_to in entries:
                if path in seen:
                    continue
                seen.add(path)
                yield SourceFile(str(path), str(folder), self._documents(file, str(path), relative_to))

    def _documents(self, file: Path, path: str, relative_to: Path | None) -> Iterator[Document]:
        from corpus.loaders import stream_path

        stream = stream_path(file, relative_to=relative_to)
        yield from stream
        self.skipped.extend(stream.skipped)
        self.notes.extend(stream.notes)
        self.duplicates.extend((label, doc_id, path) for label, doc_id in stream.duplicates)

    def peeked(self) -> tuple[bool, Iterator[SourceFile]]:
        """(whether any file gives a document, the files to write): reads up to the first document, and the
        files before it (which gave none) are left out."""
        files = iter(self)
        for file in files:
            documents = iter(file.documents)
            first = next(documents, None)
            if first is not None:
                head = replace(file, documents=itertools.chain([first], documents))
                return True, itertools.chain([head], files)
        return False, iter(())
