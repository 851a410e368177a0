"""Which store an index lives in: open it and write to it, FAISS folder or Milvus alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from corpus.chunking import ChunkingSettings
from corpus.documents import Document
from embeddings.cache import cache_root
from embeddings.embedder import Embedder
from embeddings.passage_index import PassageIndex, UpdateReport
from embeddings.store import INDEX_TYPES

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
    """Add and remove documents in the index a target names; returns the report and where the index is."""
    if target.bundled:
        ensure_bundled_index(target, embedder)  # the bundled articles first, then the change
    where = resolved(target, embedder)
    if where.store == "faiss":
        from embeddings.index import update_index

        report = update_index(where.location, embedder, add=add, remove=remove, chunking=where.chunking,
                              rebuild=rebuild, wait_seconds=wait_seconds, progress=progress, on_progress=on_progress,
                              index_type=where.index_type)
        return report, describe(where)
    from embeddings.milvus_index import update_milvus_index

    report = update_milvus_index(where.uri, embedder, name=where.location, add=add, remove=remove,
                                 chunking=where.chunking, rebuild=rebuild, progress=progress, on_progress=on_progress)
    return report, describe(where)
