"""One place for every tunable; the CLI and the UI only translate their arguments into a `Config`."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from corpus.chunking import ChunkingSettings
from embeddings.embedder import EMBEDDING_BACKENDS, Embedder
from qa.answering.reader import READER_BACKENDS
from qa.answering.retrievers import RETRIEVAL_MODES
from qa.indexing.stores import IndexTarget


POSITIVE_INTS = ("k", "rrf_k", "fusion_pool", "chunk_words", "max_answer_tokens", "spans_per_window", "early_stop_passages",
                 "reader_batch_size", "max_windows_per_passage", "max_question_chars", "max_upload_chunks")


def check_count(name: str, value, *, minimum: int = 1) -> int:
    """`value` if it is an int of at least `minimum` (True and False are refused: they are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_probability(name: str, value) -> float:
    """`value` as a float if it is a number in [0, 1] (True, False and NaN are refused); None is the caller's to allow."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be a probability in [0, 1] or None, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Config:
    """Settings of an `Assistant`. None means "the packaged default" for models and the index."""

    embedding_model: str | None = None
    # torch (sentence-transformers), onnx (same vectors, faster), onnx-int8 (another variant, faster still);
    # auto: an existing index's own variant, onnx-int8 for a new one
    embedding_backend: str = "auto"
    reader_model: str | None = None
    index_dir: str | None = None
    k: int = 5
    retrieval_mode: str = "hybrid"
    rrf_k: int = 60
    fusion_pool: int = 100
    chunk_words: int = 120
    chunk_overlap_sentences: int = 1
    no_answer_threshold: float | None = None  # abstain below this span score (only without an answer calibrator)
    min_confidence: float | None = None  # answer only when at least this likely right (None: the calibrator's default)
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
    prefer_newer: bool = True  # time-sensitive questions: a newer document's differing strong answer wins
    allow_uploads: bool = False  # the chat: whether its users may add and remove documents (off: read-only)
    max_upload_chunks: int = 2000  # the chat: a bigger upload is refused (use `citeqa index`); ~20 s of embedding

    def __post_init__(self) -> None:
        for name in POSITIVE_INTS:
            check_count(name, getattr(self, name))
        check_count("chunk_overlap_sentences", self.chunk_overlap_sentences, minimum=0)
        check_count("alternatives", self.alternatives, minimum=0)
        for name in ("reader_max_length", "reader_stride"):
            if getattr(self, name) is not None:
                check_count(name, getattr(self, name), minimum=0 if name == "reader_stride" else 16)
        if self.reader_max_length is not None and self.reader_stride is not None and self.reader_stride >= self.reader_max_length:
            raise ValueError(f"reader_stride ({self.reader_stride}) must be smaller than reader_max_length "
                             f"({self.reader_max_length}): windows overlap by the stride")
        for name in ("embedding_model", "reader_model", "index_dir", "store_uri"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string or None, got {value!r}")
        for name in ("no_answer_threshold", "early_stop_score"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value)):
                raise ValueError(f"{name} must be a number (inf and -inf allowed) or None, got {value!r}")
        if self.min_confidence is not None:
            check_probability("min_confidence", self.min_confidence)
        for name in ("allow_uploads", "prefer_newer"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        self.index_target  # validates the store, its URI and the index type
        if self.retrieval_mode not in RETRIEVAL_MODES:
            raise ValueError(f"unknown retrieval mode {self.retrieval_mode!r}: choose one of {', '.join(RETRIEVAL_MODES)}")
        if self.embedding_backend not in EMBEDDING_BACKENDS:
            raise ValueError(f"unknown embedding backend {self.embedding_backend!r}: choose one of {', '.join(EMBEDDING_BACKENDS)}")
        if self.reader_backend not in READER_BACKENDS:
            raise ValueError(f"unknown reader backend {self.reader_backend!r}: choose one of {', '.join(READER_BACKENDS)}")

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
