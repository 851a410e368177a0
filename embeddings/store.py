"""Vector stores: the `VectorStore` protocol and its FAISS implementations.

Three index types, all inner product over unit vectors (= cosine), all with 64-bit ids that survive
removals:

- `flat` (`FaissStore`): exact search; the default up to `FLAT_MAX_CHUNKS` chunks.
- `hnsw` (`HnswStore`): an HNSW graph (M=32) over the full vectors; the default up to `HNSW_MAX_CHUNKS`.
- `ivfpq` (`IvfPqStore`): an inverted file of product-quantised codes whose candidates are re-ranked with
  the exact vectors (FAISS `IndexRefineFlat`); beyond `HNSW_MAX_CHUNKS`. Opened memory-mapped, only the
  coarse centroids and the codes it scans need RAM: the exact vectors stay on disk and are read for the
  few candidates re-ranked per query.

FAISS cannot remove ids from an HNSW graph, nor from an `IndexRefine`, so both approximate types keep
*tombstones*: removed ids stay in the index, are filtered out inside the search (a FAISS `IDSelector`, so
a query still gets k live hits without over-fetching) and are saved beside the index. When tombstones
exceed `compact_fraction` (20 %) of the stored vectors the index is rebuilt from its live vectors. We chose
tombstones over rebuilding on every removal because a rebuild costs minutes at a million chunks, while
removing one document should cost what it costs with the exact store (a fraction of a second).

`create_store(kind, dimension)` and `load_store(kind, path, mmap=...)` are the one
factory; `choose_index_type(n)` is the automatic choice by size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

INDEX_TYPES = ("flat", "hnsw", "ivfpq")
STORE_NAMES = {"flat": "faiss-flat-ip", "hnsw": "faiss-hnsw-ip", "ivfpq": "faiss-ivfpq-ip"}
FLAT_MAX_CHUNKS = 100_000
HNSW_MAX_CHUNKS = 5_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_NPROBE = 64  # recall@10 0.97 at 100k chunks (benchmarks/README.md); 32 gives 0.95
IVF_K_FACTOR = 8
IVF_REFINE_POOL = 100  # re-rank at least this many candidates exactly, however small k is
COMPACT_FRACTION = 0.2
REMOVED_SUFFIX = ".removed.npy"


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


def choose_index_type(count: int, *, flat_max: int = FLAT_MAX_CHUNKS, hnsw_max: int = HNSW_MAX_CHUNKS) -> str:
    """The index type for `count` chunks: exact up to `flat_max`, HNSW up to `hnsw_max`, IVF-PQ beyond."""
    if count <= flat_max:
        return "flat"
    return "hnsw" if count <= hnsw_max else "ivfpq"


def index_type_of(store_name: str) -> str:
    """The index type of a manifest's `vector_store` name ("faiss-flat-ip" -> "flat")."""
    for kind, name in STORE_NAMES.items():
        if store_name in (name, kind):
            return kind
    raise ValueError(f"unknown vector store {store_name!r}: this citeqa knows {', '.join(STORE_NAMES.values())}")


def create_store(kind: str, dimension: int, **params) -> "FaissStore":
    """An empty store of index type `kind` (an IVF is sized and trained on its first add: add all at once)."""
    if kind == "flat":
        return FaissStore(dimension)
    if kind == "hnsw":
        return HnswStore(dimension, **params)
    if kind == "ivfpq":
        return IvfPqStore(dimension, **params)
    raise ValueError(f"unknown index type {kind!r}: choose one of {', '.join(INDEX_TYPES)}")


def load_store(kind: str, path: Path, *, mmap: bool = False) -> "FaissStore":
    """Read a saved store; `mmap` maps the vectors from the file instead of reading them into RAM (read-only)."""
    classes = {"flat": FaissStore, "hnsw": HnswStore, "ivfpq": IvfPqStore}
    if kind not in classes:
        raise ValueError(f"unknown index type {kind!r}: choose one of {', '.join(INDEX_TYPES)}")
    return classes[kind].load(path, mmap=mmap)


def _read_index(path: Path, mmap: bool):
    """(index, mapped): memory-mapped where this FAISS build can map the type, else read into RAM."""
    import faiss

    if mmap:
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC), True
        except RuntimeError:
            pass  # a type FAISS cannot map: read it whole (damage raises again below)
    return faiss.read_index(str(path)), False


class FaissStore:
    """Exact inner-product search over unit vectors (= cosine), with 64-bit ids that survive removals."""

    kind = "flat"

    def __init__(self, dimension: int, index=None, *, mapped: bool = False):
        import faiss

        self.dimension = int(dimension)
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(self.dimension))
        self.mapped = mapped

    @property
    def name(self) -> str:
        """The manifest's `vector_store` value."""
        return STORE_NAMES[self.kind]

    def settings(self) -> dict:
        """The index type and its parameters, as recorded in the manifest."""
        return {"type": self.kind}

    def search_setting(self) -> int | None:
        """The speed/recall knob (HNSW efSearch, IVF nprobe); None for exact search."""
        return None

    def set_search_setting(self, value: int) -> None:
        raise ValueError("exact search has no speed/recall setting")

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def _writable(self) -> None:
        if self.mapped:
            raise RuntimeError("this vector store is memory-mapped (read-only); load it with mmap=False to change it")

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._writable()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"expected vectors of shape (n, {self.dimension}), got {vectors.shape}")
        self._index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> int:
        import faiss

        if len(ids) == 0:
            return 0
        self._writable()
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
    def load(cls, path: Path, *, mmap: bool = False) -> "FaissStore":
        index, mapped = _read_index(path, mmap)
        return cls(index.d, index, mapped=mapped)


class _TombstoneStore(FaissStore):
    """An approximate FAISS index that cannot remove ids: removed ids become tombstones (see module doc)."""

    def __init__(self, dimension: int, index=None, *, removed=(), mapped: bool = False,
                 compact_fraction: float = COMPACT_FRACTION):
        self.dimension = int(dimension)
        self.mapped = mapped
        self.compact_fraction = compact_fraction
        self._index = index if index is not None else self._new_index(0)
        self._removed = np.unique(np.asarray(removed, dtype=np.int64))
        self._params = self._positions_selector = None

    # subclasses: the empty index for about n vectors, its search parameters, its stored vectors
    def _new_index(self, n: int, like=None): ...

    def _search_params(self, k: int): ...

    def _stored_vectors(self) -> np.ndarray: ...

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._removed)

    @property
    def tombstones(self) -> int:
        return len(self._removed)

    def _stored_ids(self) -> np.ndarray:
        import faiss

        return faiss.vector_to_array(self._index.id_map).astype(np.int64, copy=False)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._writable()
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(self._removed) and np.isin(ids, self._removed).any():
            self.compact()  # a removed id comes back: drop its old vector first
        super().add(ids, vectors)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        if len(ids) == 0:
            return 0
        self._writable()
        present = ids[np.isin(ids, self._stored_ids()) & ~np.isin(ids, self._removed)]
        if len(present):
            self._removed = np.union1d(self._removed, present)
            self._params = self._positions_selector = None
            if len(self._removed) > self.compact_fraction * self._index.ntotal:
                self.compact()
        return int(len(present))

    def compact(self) -> None:
        """Rebuild the index from its live vectors, dropping the tombstones."""
        self._writable()
        ids = self._stored_ids()
        live = ~np.isin(ids, self._removed)
        ids, vectors = ids[live], self._stored_vectors()[live]
        self._index = self._new_index(len(ids), like=self._index)
        self._removed = np.zeros(0, dtype=np.int64)
        self._params = self._positions_selector = None
        if len(ids):
            self._train(vectors)
            self._index.add_with_ids(vectors, ids)

    def _train(self, vectors: np.ndarray) -> None:
        pass

    def search(self, vectors: np.ndarray, k: int) -> VectorHits:
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        if len(self) == 0 or k <= 0:
            n = vectors.shape[0]
            return VectorHits(np.zeros((n, 0), np.float32), np.zeros((n, 0), np.int64))
        k = min(k, len(self))
        scores, ids = self._index.search(vectors, k, params=self._search_params(k))
        return VectorHits(scores, ids)

    def _keep_selector(self, ids: np.ndarray):
        """An IDSelector that accepts every id but `ids` (kept alive with the parameters that use it)."""
        import faiss

        batch = faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64))
        keep = faiss.IDSelectorNot(batch)
        keep.referenced = batch
        return keep

    def _sidecar(self, path: Path) -> Path:
        return Path(path).with_name(Path(path).name + REMOVED_SUFFIX)

    def save(self, path: Path) -> None:
        super().save(path)
        sidecar = self._sidecar(path)
        if len(self._removed):
            with sidecar.open("wb") as fh:
                np.save(fh, self._removed)
        elif sidecar.exists():
            sidecar.unlink()

    @classmethod
    def load(cls, path: Path, *, mmap: bool = False):
        index, mapped = _read_index(path, mmap)
        sidecar = Path(path).with_name(Path(path).name + REMOVED_SUFFIX)
        removed = np.load(sidecar) if sidecar.exists() else ()
        return cls(index.d, index, removed=removed, mapped=mapped)


class HnswStore(_TombstoneStore):
    """HNSW graph (faiss IndexHNSWFlat, inner product) over the full vectors, inside an IndexIDMap2."""

    kind = "hnsw"

    def __init__(self, dimension: int, index=None, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
                 ef_search: int = HNSW_EF_SEARCH, **kwargs):
        self._m, self._ef_construction, self._ef_search = m, ef_construction, ef_search
        super().__init__(dimension, index, **kwargs)

    def _hnsw(self):
        import faiss

        return faiss.downcast_index(self._index.index).hnsw

    def _new_index(self, n: int, like=None):
        import faiss

        if like is not None:
            hnsw = faiss.downcast_index(like.index).hnsw
            self._m, self._ef_construction, self._ef_search = hnsw.nb_neighbors(1), hnsw.efConstruction, hnsw.efSearch
        index = faiss.index_factory(self.dimension, f"IDMap2,HNSW{self._m}", faiss.METRIC_INNER_PRODUCT)
        hnsw = faiss.downcast_index(index.index).hnsw
        hnsw.efConstruction = self._ef_construction
        hnsw.efSearch = self._ef_search
        return index

    def settings(self) -> dict:
        hnsw = self._hnsw()
        return {"type": self.kind, "M": int(hnsw.nb_neighbors(1)), "ef_construction": int(hnsw.efConstruction),
                "ef_search": int(hnsw.efSearch), "tombstones": self.tombstones}

    def search_setting(self) -> int:
        return int(self._hnsw().efSearch)

    def set_search_setting(self, value: int) -> None:
        self._hnsw().efSearch = int(value)
        self._params = None

    def _search_params(self, k: int):
        import faiss

        ef = max(int(self._hnsw().efSearch), k)
        if self._params is None or self._params.efSearch != ef:
            params = faiss.SearchParametersHNSW()
            params.efSearch = ef
            if len(self._removed):
                params.sel = self._keep_selector(self._removed)  # external ids: IndexIDMap2 translates them
                params.referenced = params.sel
            self._params = params
        return self._params

    def _stored_vectors(self) -> np.ndarray:
        import faiss

        storage = faiss.downcast_index(faiss.downcast_index(self._index.index).storage)
        return faiss.vector_to_array(storage.codes).view(np.float32).reshape(-1, self.dimension)


def _pq_subquantizers(dimension: int) -> int:
    """The number of PQ sub-vectors: about 8 dimensions each (48 for 384-d), a divisor of the dimension."""
    for m in range(max(1, dimension // 8), 0, -1):
        if dimension % m == 0:
            return m
    return 1


class IvfPqStore(_TombstoneStore):
    """IVF with product quantisation, candidates re-ranked exactly (IndexIDMap2(IndexRefineFlat(IndexIVFPQ)))."""

    kind = "ivfpq"

    def __init__(self, dimension: int, index=None, *, nprobe: int = IVF_NPROBE, k_factor: int = IVF_K_FACTOR, **kwargs):
        self._nprobe, self._k_factor = nprobe, k_factor
        super().__init__(dimension, index, **kwargs)

    def _refine(self):
        import faiss

        return faiss.downcast_index(self._index.index)

    def _ivf(self):
        import faiss

        return faiss.downcast_index(faiss.extract_index_ivf(self._refine().base_index))

    @staticmethod
    def layout(n: int, dimension: int) -> tuple[int, int, int]:
        """(nlist, PQ sub-vectors, bits per code) for n vectors: nlist ~ 4 sqrt(n), >= 39 training points per centroid."""
        nlist = max(1, min(int(round(4 * math.sqrt(max(n, 1)))), n // 39))
        nbits = int(min(8, max(1, math.floor(math.log2(max(n, 2) / 39))) if n >= 78 else 1))
        return nlist, _pq_subquantizers(dimension), nbits

    def _new_index(self, n: int, like=None):
        import faiss

        if like is not None:
            old = faiss.extract_index_ivf(faiss.downcast_index(like.index).base_index)
            self._nprobe, self._k_factor = old.nprobe, int(faiss.downcast_index(like.index).k_factor)
        nlist, m, nbits = self.layout(n, self.dimension)
        index = faiss.index_factory(self.dimension, f"IDMap2,IVF{nlist},PQ{m}x{nbits},RFlat", faiss.METRIC_INNER_PRODUCT)
        refine = faiss.downcast_index(index.index)
        refine.k_factor = float(self._k_factor)
        ivf = faiss.downcast_index(faiss.extract_index_ivf(refine.base_index))
        ivf.nprobe = min(self._nprobe, nlist)
        ivf.cp.niter = 20
        ivf.do_polysemous_training = False  # the factory turns it on; it costs minutes and we never use Hamming filtering
        return index

    def _train(self, vectors: np.ndarray) -> None:
        if self._index.is_trained:
            return
        nlist = self._ivf().nlist
        sample = vectors
        if len(vectors) > 64 * nlist:  # k-means needs ~40-256 points per centroid; more only costs time
            rows = np.random.default_rng(0).choice(len(vectors), size=64 * nlist, replace=False)
            sample = vectors[np.sort(rows)]
        self._index.train(np.ascontiguousarray(sample))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._writable()
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if not self._index.is_trained and len(vectors):
            self._index = self._new_index(len(vectors))  # size the IVF for the vectors it is trained on
            self._params = self._positions_selector = None
            self._train(vectors)
        super().add(ids, vectors)

    def settings(self) -> dict:
        ivf = self._ivf()
        pq = ivf.pq if hasattr(ivf, "pq") else None
        return {"type": self.kind, "nlist": int(ivf.nlist), "pq_m": int(pq.M) if pq else None,
                "pq_bits": int(pq.nbits) if pq else None, "nprobe": int(ivf.nprobe),
                "k_factor": int(self._refine().k_factor), "tombstones": self.tombstones}

    def search_setting(self) -> int:
        return int(self._ivf().nprobe)

    def set_search_setting(self, value: int) -> None:
        self._ivf().nprobe = int(value)
        self._params = None

    def _search_params(self, k: int):
        import faiss

        k_factor = max(float(self._refine().k_factor), math.ceil(IVF_REFINE_POOL / k))
        if self._params is None or self._params.k_factor != k_factor:
            base = faiss.SearchParametersIVF()
            base.nprobe = int(self._ivf().nprobe)
            if len(self._removed):
                # IndexIDMap2 translates only a top-level selector, and IndexRefine passes only the base
                # index's parameters on; so filter the IVF by internal positions (cached until a removal)
                if self._positions_selector is None:
                    self._positions_selector = self._keep_selector(np.flatnonzero(np.isin(self._stored_ids(), self._removed)))
                base.sel = self._positions_selector
                base.referenced = base.sel
            params = faiss.IndexRefineSearchParameters()
            params.k_factor = k_factor
            params.base_index_params = base
            params.referenced = base
            self._params = params
        return self._params

    def _stored_vectors(self) -> np.ndarray:
        import faiss

        flat = faiss.downcast_index(self._refine().refine_index)
        return faiss.vector_to_array(flat.codes).view(np.float32).reshape(-1, self.dimension)
