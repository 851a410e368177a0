"""The FAISS vector store behind the `VectorStore` protocol."""

import numpy as np
import pytest

from embeddings.store import FaissStore, VectorStore


def unit(rows):
    rows = np.asarray(rows, dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_protocol_and_exact_search():
    store = FaissStore(3)
    assert isinstance(store, VectorStore)
    store.add(np.array([10, 20, 30]), unit([[1, 0, 0], [0, 1, 0], [1, 1, 0]]))
    hits = store.search(unit([[1, 0.1, 0]]), 2)
    assert list(hits.ids[0]) == [10, 30]
    assert hits.scores[0][0] == pytest.approx(1 / np.sqrt(1.01), rel=1e-5)


def test_remove_and_k_larger_than_store(tmp_path):
    store = FaissStore(2)
    store.add(np.array([1, 2, 3]), unit([[1, 0], [0, 1], [1, 1]]))
    assert store.remove(np.array([2, 99])) == 1
    assert len(store) == 2
    hits = store.search(unit([[0, 1]]), 10)
    assert sorted(hits.ids[0]) == [1, 3]
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss")
    assert len(loaded) == 2 and loaded.dimension == 2
    assert list(loaded.search(unit([[0, 1]]), 1).ids[0]) == [3]


def test_empty_store_and_bad_shape():
    store = FaissStore(4)
    assert store.search(np.zeros((1, 4), np.float32), 5).ids.shape == (1, 0)
    with pytest.raises(ValueError, match="shape"):
        store.add(np.array([1]), np.zeros((1, 3), np.float32))


# ---------------------------------------------------------------- index types (exact, HNSW, IVF-PQ)

from embeddings.store import (  # noqa: E402
    INDEX_TYPES,
    HnswStore,
    IvfPqStore,
    choose_index_type,
    create_store,
    index_type_of,
    load_store,
)

DIM = 64


@pytest.fixture(autouse=True, scope="module")
def one_faiss_thread():
    """Answers do not depend on threads; one avoids OpenMP spin-waits on a busy CI machine."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def clustered():
    """2,000 unit vectors in 40 clusters (like real embeddings, unlike uniform noise), ids 1000.., and
    100 queries near stored vectors."""
    rng = np.random.default_rng(7)
    centres = unit(rng.standard_normal((40, DIM)))
    vectors = unit(centres[rng.integers(0, 40, 2000)] + 0.35 * rng.standard_normal((2000, DIM)) / np.sqrt(DIM) * 4)
    queries = unit(vectors[rng.choice(2000, 100, replace=False)] + 0.1 * rng.standard_normal((100, DIM)) / np.sqrt(DIM) * 4)
    return np.arange(1000, 3000, dtype=np.int64), vectors.astype(np.float32), queries.astype(np.float32)


def built(kind, ids, vectors):
    store = create_store(kind, DIM)
    store.add(ids, vectors)
    return store


@pytest.mark.parametrize("kind", INDEX_TYPES)
def test_each_type_returns_the_exact_top_hit(kind, clustered):
    ids, vectors, queries = clustered
    exact = built("flat", ids, vectors).search(queries, 10)
    store = built(kind, ids, vectors)
    assert isinstance(store, VectorStore) and store.kind == kind and len(store) == 2000
    hits = store.search(queries, 10)
    assert hits.ids.shape == (100, 10)
    assert list(hits.ids[:, 0]) == list(exact.ids[:, 0])
    np.testing.assert_allclose(hits.scores[:, 0], exact.scores[:, 0], rtol=1e-5, atol=1e-5)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(hits.ids, exact.ids)])
    assert recall >= 0.9


@pytest.mark.parametrize("kind", INDEX_TYPES)
@pytest.mark.parametrize("mmap", [False, True])
def test_add_remove_save_load_round_trip(kind, mmap, clustered, tmp_path):
    ids, vectors, queries = clustered
    store = built(kind, ids, vectors)
    gone = ids[:300:3]  # 100 ids: below the compaction fraction, so approximate types keep tombstones
    assert store.remove(np.concatenate([gone, [99_999]])) == 100
    assert store.remove(gone) == 0  # already removed
    assert len(store) == 1900
    own = store.search(vectors[:300:3], 5)
    assert not np.isin(own.ids, gone).any()
    path = tmp_path / "vectors.faiss"
    store.save(path)
    loaded = load_store(kind, path, mmap=mmap)
    assert loaded.mapped == mmap and len(loaded) == 1900 and loaded.dimension == DIM
    np.testing.assert_array_equal(loaded.search(queries, 10).ids, store.search(queries, 10).ids)
    assert not np.isin(loaded.search(vectors[:300:3], 5).ids, gone).any()
    if mmap:
        with pytest.raises(RuntimeError, match="memory-mapped"):
            loaded.add(np.array([5]), vectors[:1])
        return
    # a removed id can come back with a new vector; a live one is found again
    loaded.add(gone[:2], vectors[1:3])
    assert len(loaded) == 1902
    assert list(loaded.search(vectors[1:2], 1).ids[0]) in ([gone[0]], [ids[1]])
    assert gone[1] in loaded.search(vectors[2:3], 3).ids[0]


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_tombstones_are_compacted_past_the_fraction(kind, clustered, tmp_path):
    ids, vectors, queries = clustered
    store = built(kind, ids, vectors)
    store.remove(ids[:300])
    assert store.tombstones == 300 and len(store) == 1700
    path = tmp_path / "v.faiss"
    store.save(path)
    assert (tmp_path / "v.faiss.removed.npy").exists()
    store.remove(ids[300:500])  # 500 of 2,000 > 20 %: rebuilt from the live vectors
    assert store.tombstones == 0 and len(store) == 1500 and store._index.ntotal == 1500
    store.save(path)
    assert not (tmp_path / "v.faiss.removed.npy").exists()
    exact = built("flat", ids[500:], vectors[500:]).search(queries, 1)
    assert list(store.search(queries, 1).ids[:, 0]) == list(exact.ids[:, 0])


def test_search_settings_and_manifest_names(clustered):
    ids, vectors, _ = clustered
    hnsw, ivf = built("hnsw", ids, vectors), built("ivfpq", ids, vectors)
    assert isinstance(hnsw, HnswStore) and hnsw.settings()["M"] == 32
    hnsw.set_search_setting(200)
    assert hnsw.search_setting() == 200 and hnsw.settings()["ef_search"] == 200
    assert isinstance(ivf, IvfPqStore)
    settings = ivf.settings()
    assert settings["nlist"] == 2000 // 39 and settings["pq_m"] == DIM // 8 and settings["k_factor"] >= 1
    assert [index_type_of(s.name) for s in (create_store("flat", DIM), hnsw, ivf)] == ["flat", "hnsw", "ivfpq"]
    assert index_type_of("faiss-flat-ip") == "flat"
    with pytest.raises(ValueError, match="unknown vector store"):
        index_type_of("annoy")
    with pytest.raises(ValueError, match="unknown index type"):
        create_store("lsh", DIM)


def test_automatic_choice_by_size():
    assert [choose_index_type(n) for n in (10, 100_000, 100_001, 5_000_000, 5_000_001)] == [
        "flat", "flat", "hnsw", "hnsw", "ivfpq"]
    assert [choose_index_type(n, flat_max=5, hnsw_max=50) for n in (5, 6, 50, 51)] == ["flat", "hnsw", "hnsw", "ivfpq"]


def test_ivfpq_trains_on_its_first_add_even_when_tiny():
    store = create_store("ivfpq", 8)
    assert len(store) == 0 and store.search(np.ones((1, 8), np.float32), 3).ids.shape == (1, 0)
    rng = np.random.default_rng(0)
    vectors = unit(rng.standard_normal((20, 8)))
    store.add(np.arange(20), vectors)
    assert list(store.search(vectors[:5], 1).ids[:, 0]) == [0, 1, 2, 3, 4]
