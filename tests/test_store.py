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
