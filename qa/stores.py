"""Which store an index lives in (`Config.store`): open it and write to it, FAISS folder or Milvus alike."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from corpus.documents import Document
from embeddings.embedder import Embedder
from embeddings.index import ChunkingSettings, UpdateReport

STORES = ("faiss", "milvus")
DEFAULT_MILVUS_FILE = "milvus.db"


@dataclass(frozen=True)
class MilvusTarget:
    """Where a Milvus index lives: the URI (Lite file or server) and the collection prefix."""

    uri: str
    name: str
    bundled: bool  # the default index over the bundled articles, built on first use


def milvus_target(config, embedder: Embedder) -> MilvusTarget:
    """The URI is `store_uri`, else `milvus.db` in the cache; the name is `index_dir`, else the bundled articles' one."""
    from qa.defaults import cache_root, default_corpus_key

    uri = config.store_uri if config.store_uri is not None else str(cache_root() / DEFAULT_MILVUS_FILE)
    if config.index_dir is not None:
        return MilvusTarget(uri, config.index_dir, False)
    return MilvusTarget(uri, f"citeqa_default_{default_corpus_key(embedder, config)}", True)


def chunking_of(config) -> ChunkingSettings:
    return ChunkingSettings(config.chunk_words, config.chunk_overlap_sentences)


def open_index(config, embedder: Embedder):
    """The index a config names: a `DocumentIndex` folder (faiss) or a `MilvusIndex` (milvus)."""
    if config.store == "faiss":
        from embeddings.index import DocumentIndex
        from qa.defaults import default_index_dir

        index_dir = config.index_dir if config.index_dir is not None else default_index_dir(embedder, config)
        return DocumentIndex.open(index_dir, embedder=embedder)
    from embeddings.milvus_index import MilvusIndex, read_manifest, Collections, update_milvus_index
    from embeddings.milvus_store import connect

    target = milvus_target(config, embedder)
    client = connect(target.uri)
    if target.bundled and read_manifest(client, Collections(target.name)) is None:
        from corpus.loaders import load_default_corpus

        update_milvus_index(target.uri, embedder, name=target.name, add=load_default_corpus(),
                            chunking=chunking_of(config), client=client)
    return MilvusIndex.open(target.uri, target.name, embedder=embedder, client=client)


def update_store(config, embedder: Embedder, *, add: Iterable[Document] = (), remove: Iterable[str] = (),
                 rebuild: bool = False, wait_seconds: float = 0.0, progress: bool = False,
                 on_progress: Callable[[int, int], None] | None = None) -> tuple[UpdateReport, str]:
    """Add and remove documents in the index a config names; returns the report and where the index is."""
    if config.store == "faiss":
        from embeddings.index import update_index
        from qa.defaults import default_index_dir

        index_dir = Path(config.index_dir) if config.index_dir is not None else default_index_dir(embedder, config)
        report = update_index(index_dir, embedder, add=add, remove=remove, chunking=chunking_of(config),
                              rebuild=rebuild, wait_seconds=wait_seconds, progress=progress, on_progress=on_progress,
                              index_type=config.index_type)
        return report, str(index_dir)
    from embeddings.milvus_index import update_milvus_index

    target = milvus_target(config, embedder)
    if target.bundled:
        open_index(config, embedder)  # the bundled articles first, as the faiss default index holds them
    report = update_milvus_index(target.uri, embedder, name=target.name, add=add, remove=remove,
                                 chunking=chunking_of(config), rebuild=rebuild, progress=progress, on_progress=on_progress)
    return report, f"{target.uri}#{target.name}"
