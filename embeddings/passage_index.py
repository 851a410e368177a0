"""What every index offers its readers, whichever store holds it (a FAISS folder or Milvus): the
`PassageIndex` protocol, the optional `HybridSearch` capability, and the records they return."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from corpus.chunking import ChunkingSettings
from corpus.documents import Chunk, page_number
from embeddings.embedder import Embedder
from embeddings.store import VectorHits


@dataclass(frozen=True)
class StoredDocument:
    """A document's metadata as indexed; `sources` lists every file name its text came under."""

    doc_id: str
    title: str
    date: str | None
    source: str
    url: str | None
    page_starts: tuple[int, ...]
    chunks: int
    sources: tuple[str, ...]

    def page_of(self, offset: int) -> int | None:
        return page_number(self.page_starts, offset)


@dataclass(frozen=True)
class UpdateReport:
    """What one write did."""

    added: tuple[str, ...]
    duplicates: tuple[tuple[str, str], ...]
    removed: tuple[str, ...]
    chunks_embedded: int
    seconds: float
    changed: bool


class KeywordSearch(Protocol):
    """BM25 over an index's chunks: (chunk id, score) pairs, best first."""

    def search(self, query: str, k: int) -> list[tuple[int, float]]: ...


@runtime_checkable
class PassageIndex(Protocol):
    """An opened index, read-only: what retrieval, the chat and `citeqa info` use.

    `name` is the folder's or the collections' name; `location` is where it lives (a folder path, or
    `URI#name` for Milvus). `description()` is what `citeqa info` prints about the store."""

    name: str
    location: str
    bm25: KeywordSearch

    @property
    def chunking(self) -> ChunkingSettings: ...

    def __len__(self) -> int: ...

    def embedder_for(self, embedder: Embedder) -> Embedder: ...

    def search_vectors(self, vectors: np.ndarray, k: int) -> VectorHits: ...

    def chunks(self, ids: list[int]) -> dict[int, Chunk]: ...

    def documents(self, doc_ids: Iterable[str] | None = None) -> dict[str, StoredDocument]: ...

    def document_text(self, doc_id: str) -> str: ...

    def is_current(self) -> bool:
        """False once a write has replaced what this object reads (then open the index again)."""
        ...

    def description(self) -> dict:
        """Embedding model, chunking, creation time and vector index, as the manifest records them."""
        ...


@runtime_checkable
class HybridSearch(Protocol):
    """An index whose engine fuses dense and keyword search itself (Milvus `hybrid_search`): one round trip."""

    def hybrid_ranked_ids(self, vector: np.ndarray, question: str, k: int, *, pool: int = 100,
                          rrf_k: int = 60) -> list[tuple[int, float]]: ...
