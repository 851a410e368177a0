"""One place for every tunable; the CLI and the UI only translate their arguments into a `Config`."""

from __future__ import annotations

from dataclasses import dataclass, replace

from corpus.chunking import ChunkingSettings
from embeddings.embedder import EMBEDDING_BACKENDS, Embedder
from qa.answering.reader import READER_BACKENDS
from qa.answering.retrievers import RETRIEVAL_MODES
from qa.indexing.stores import IndexTarget


@dataclass(frozen=True)
class Config:
    """Settings of an `Assistant`. None means "the packaged default" for models and the index."""

    embedding_model: str | None = None
    embedding_backend: str = "auto"  # torch (sentence-transformers) or onnx (same vectors, faster); auto: onnx on CPU
    reader_model: str | None = None
    index_dir: str | None = None
    k: int = 5
    retrieval_mode: str = "hybrid"
    rrf_k: int = 60
    fusion_pool: int = 100
    chunk_words: int = 120
    chunk_overlap_sentences: int = 1
    no_answer_threshold: float | None = None
    early_stop_passages: int = 2  # passages read first; the rest only if no span there scores early_stop_score
    early_stop_score: float | None = None  # None: the reader's calibrated value (none recorded: read all k); inf: read all
    max_answer_tokens: int = 30
    spans_per_window: int = 5
    reader_max_length: int | None = None
    reader_stride: int | None = None
    reader_batch_size: int = 16
    reader_backend: str = "auto"
    max_windows_per_passage: int = 8
    max_question_chars: int = 2000
    alternatives: int = 3
    index_type: str = "auto"  # vector index of a new faiss index: auto (by chunk count), flat, hnsw, ivfpq
    store: str = "faiss"  # faiss: index_dir is a folder; milvus: index_dir names the collections
    store_uri: str | None = None  # milvus: a Milvus Lite .db file or http://host:19530 (default: cache milvus.db)

    def __post_init__(self) -> None:
        self.index_target  # validates the store, its URI and the index type
        if self.retrieval_mode not in RETRIEVAL_MODES:
            raise ValueError(f"unknown retrieval mode {self.retrieval_mode!r}: choose one of {', '.join(RETRIEVAL_MODES)}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ValueError(f"unknown embedding backend {self.embedding_backend!r}: choose one of {', '.join(EMBEDDING_BACKENDS)}")
        if self.reader_backend not in READER_BACKENDS:
            raise ValueError(f"unknown reader backend {self.reader_backend!r}: choose one of {', '.join(READER_BACKENDS)}")
        if self.early_stop_score is not None and (not isinstance(self.early_stop_score, (int, float))
                                                  or self.early_stop_score != self.early_stop_score):
            raise ValueError(f"early_stop_score must be a number or None, got {self.early_stop_score!r}")
        for name in ("k", "rrf_k", "fusion_pool", "chunk_words", "max_answer_tokens", "spans_per_window", "early_stop_passages",
                     "reader_batch_size", "max_windows_per_passage", "max_question_chars"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def with_changes(self, **changes) -> "Config":
        return replace(self, **changes)

    @property
    def chunking(self) -> ChunkingSettings:
        """How a new index cuts documents (an existing index keeps the chunking it was built with)."""
        return ChunkingSettings(self.chunk_words, self.chunk_overlap_sentences)

    @property
    def index_target(self) -> IndexTarget:
        """The index these settings name, for `qa.indexing.stores`."""
        return IndexTarget(store=self.store, location=self.index_dir, uri=self.store_uri, chunking=self.chunking,
                           index_type=self.index_type)


def embedder_from_config(config: Config) -> Embedder:
    """The sentence embedder a config names (loaded lazily, on first use)."""
    return Embedder(config.embedding_model, backend=config.embedding_backend)
