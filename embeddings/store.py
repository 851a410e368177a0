"""Vector stores: the `VectorStore` protocol and its FAISS implementation (exact inner product)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np


class VectorHits(NamedTuple):
    """Search results per query row: scores (higher is closer) and ids, -1 where fewer than k exist."""

    scores: np.ndarray
    ids: np.ndarray


@runtime_checkable
class VectorStore(Protocol):
    """What the index needs from a vector backend; a new backend is one class with these methods."""

    dimension: int

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None: ...

    def remove(self, ids: np.ndarray) -> int: ...

    def search(self, vectors: np.ndarray, k: int) -> VectorHits: ...

    def save(self, path: Path) -> None: ...


class FaissStore:
    """Exact inner-product search over unit vectors (= cosine), with 64-bit ids that survive removals."""

    def __init__(self, dimension: int, index=None):
        import faiss

        self.dimension = int(dimension)
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        import faiss

        if len(ids) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))))

    def search(self, vectors: np.ndarray, k: int) -> VectorHits:
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            n = vectors.shape[0]
            return VectorHits(np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64))
        scores, ids = self._index.search(vectors, min(k, len(self)))
        return VectorHits(scores, ids)

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> "FaissStore":
        import faiss

        index = faiss.read_index(str(path))
        return cls(index.d, index)
