"""Retrievers: dense (FAISS), sparse (BM25) and hybrid (reciprocal rank fusion), one `search` each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from embeddings.embedder import Embedder
from embeddings.passage_index import HybridSearch, PassageIndex
from qa.answering.types import Passage

RETRIEVAL_MODES = ("hybrid", "dense", "bm25")


@runtime_checkable
class Retriever(Protocol):
    """Finds the k passages most likely to hold the answer, best first."""

    def search(self, question: str, k: int) -> list[Passage]: ...


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Fuse ranked id lists by sum of 1 / (k + rank), rank from 1; ties keep first-seen order."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: -pair[1])


def ranked_signals(name: str, ranked: Sequence[tuple[int, float]]) -> dict[int, dict]:
    """One retriever's score and 1-based rank of each chunk id, as `Passage` fields (`dense_score`, `dense_rank`)."""
    return {chunk_id: {f"{name}_score": float(score), f"{name}_rank": rank}
            for rank, (chunk_id, score) in enumerate(ranked, start=1)}


def merged_signals(*signals: dict[int, dict]) -> dict[int, dict]:
    merged: dict[int, dict] = {}
    for table in signals:
        for chunk_id, fields in table.items():
            merged.setdefault(chunk_id, {}).update(fields)
    return merged


def passages_for(index: PassageIndex, scored_ids: Sequence[tuple[int, float]],
                 signals: dict[int, dict] | None = None) -> list[Passage]:
    """Turn (chunk id, score) pairs into ranked passages with their documents' metadata (and each retriever's
    own score and rank from `signals`, keyed by chunk id)."""
    chunks = index.chunks([i for i, _ in scored_ids])
    documents = index.documents({c.doc_id for c in chunks.values()})
    passages = []
    for chunk_id, score in scored_ids:
        chunk = chunks.get(chunk_id)
        if chunk is None:
            continue
        extra = signals.get(chunk_id, {}) if signals is not None else {}
        passages.append(Passage(chunk=chunk, document=documents[chunk.doc_id], score=float(score), rank=len(passages) + 1,
                                **extra))
    return passages


class DenseRetriever:
    """Cosine similarity of the question's embedding to every chunk's (exact FAISS inner product)."""

    def __init__(self, index: PassageIndex, embedder: Embedder):
        self.index = index
        self.embedder = index.embedder_for(embedder)

    def ranked_ids(self, question: str, k: int) -> list[tuple[int, float]]:
        hits = self.index.search_vectors(self.embedder.encode([question]), k)
        return [(int(i), float(s)) for i, s in zip(hits.ids[0], hits.scores[0]) if i >= 0]

    def search(self, question: str, k: int) -> list[Passage]:
        ranked = self.ranked_ids(question, k)
        return passages_for(self.index, ranked, ranked_signals("dense", ranked))


class BM25Retriever:
    """Keyword match (BM25 with stemming): strong on names and rare words."""

    def __init__(self, index: PassageIndex):
        self.index = index

    def ranked_ids(self, question: str, k: int) -> list[tuple[int, float]]:
        return self.index.bm25.search(question, k)

    def search(self, question: str, k: int) -> list[Passage]:
        ranked = self.ranked_ids(question, k)
        return passages_for(self.index, ranked, ranked_signals("bm25", ranked))


class HybridRetriever:
    """Reciprocal rank fusion of the dense and BM25 top `pool` lists (k = 60, as in Cormack et al. 2009)."""

    def __init__(self, dense: DenseRetriever, sparse: BM25Retriever, *, rrf_k: int = 60, pool: int = 100):
        self.dense = dense
        self.sparse = sparse
        self.rrf_k = rrf_k
        self.pool = pool
        self.index = dense.index

    def search(self, question: str, k: int) -> list[Passage]:
        pool = max(self.pool, k)
        dense, sparse = self.dense.ranked_ids(question, pool), self.sparse.ranked_ids(question, pool)
        fused = reciprocal_rank_fusion([[i for i, _ in dense], [i for i, _ in sparse]], self.rrf_k)[:k]
        return passages_for(self.index, fused, merged_signals(ranked_signals("dense", dense), ranked_signals("bm25", sparse)))


class EngineHybridRetriever:
    """The same fusion run inside the store's engine (Milvus `hybrid_search` with its RRF ranker): one round trip."""

    def __init__(self, index: HybridSearch, embedder: Embedder, *, rrf_k: int = 60, pool: int = 100):
        self.index = index
        self.embedder = index.embedder_for(embedder)
        self.rrf_k = rrf_k
        self.pool = pool

    def search(self, question: str, k: int) -> list[Passage]:
        vector = self.embedder.encode([question])[0]
        ranked = self.index.hybrid_ranked_ids(vector, question, k, pool=max(self.pool, k), rrf_k=self.rrf_k)
        return passages_for(self.index, ranked)


def make_retriever(mode: str, index: PassageIndex, embedder: Embedder, *, rrf_k: int = 60, pool: int = 100) -> Retriever:
    """The retriever for a mode name: hybrid, dense or bm25. Hybrid runs inside the store when it can (Milvus)."""
    if mode == "dense":
        return DenseRetriever(index, embedder)
    if mode == "bm25":
        return BM25Retriever(index)
    if mode == "hybrid" and isinstance(index, HybridSearch):
        return EngineHybridRetriever(index, embedder, rrf_k=rrf_k, pool=pool)
    if mode == "hybrid":
        return HybridRetriever(DenseRetriever(index, embedder), BM25Retriever(index), rrf_k=rrf_k, pool=pool)
    raise ValueError(f"unknown retrieval mode {mode!r}: choose one of {', '.join(RETRIEVAL_MODES)}")
