"""Sentence embeddings: batched, L2-normalised float32 vectors from a local sentence-transformers folder."""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np

from embeddings.models import DEFAULT_EMBEDDING_NAME, default_embedding_model_path

EMBEDDING_BACKENDS = ("auto", "torch", "onnx", "onnx-int8")
# backend -> the variant of the vectors it gives: torch and onnx give the same (fp32) vectors, onnx-int8 others
BACKEND_VARIANTS = {"torch": "fp32", "onnx": "fp32", "onnx-int8": "int8"}
EMBEDDING_VARIANTS = ("fp32", "int8")
VARIANT_BACKENDS = {"fp32": "onnx", "int8": "onnx-int8"}  # variant -> the ONNX backend that gives it
ONNX_BACKENDS = ("onnx", "onnx-int8")
# what `auto` picks on a CPU for a new index: int8 embeds 1.8x faster at recall@5 within 0.3 points of fp32
# (benchmarks/README.md#indexing-speed-and-peak-memory); an existing index keeps the variant it was built with
AUTO_CPU_BACKEND = "onnx-int8"
# texts per model run, measured on 2 cores (benchmarks/README.md#indexing-speed-and-peak-memory): small ONNX
# batches beat big ones there; int8 runs one text at a time, since its activations are quantised with one scale
# per run, which would make a text's vector depend on the texts beside it (an incremental index would then
# differ from a fresh build, and a query from its indexed copy)
DEFAULT_BATCH_SIZES = {"torch": 64, "onnx": 4, "onnx-int8": 1}


def embedding_model_name(model_path: str | Path) -> str:
    """A readable, stable name for a model folder, recorded in index manifests."""
    path = Path(model_path).resolve()
    if path == default_embedding_model_path().resolve():
        return DEFAULT_EMBEDDING_NAME
    return path.name if path.name not in ("model", "models") else f"{path.parent.name}/{path.name}"


def variant_name(model_name: str, variant: str) -> str:
    """The name of an embedder variant: the model's name for fp32 (what every index before variants recorded),
    `NAME (int8)` for another; indexes and caches key on it, so vectors of two variants never mix."""
    if variant not in EMBEDDING_VARIANTS:
        raise ValueError(f"unknown embedding variant {variant!r}: choose one of {', '.join(EMBEDDING_VARIANTS)}")
    return model_name if variant == "fp32" else f"{model_name} ({variant})"


def split_variant(name: str) -> tuple[str, str]:
    """(model name, variant) of an embedder variant's name: `variant_name` undone."""
    for variant in EMBEDDING_VARIANTS[1:]:
        if name.endswith(f" ({variant})"):
            return name[: -len(f" ({variant})")], variant
    return name, "fp32"


def mismatch_message(location, built_with: str, given: str, remedy: str) -> str:
    """Why an index refuses an embedder, naming both; when only the variant differs, the backend that gives
    the index's variant. `remedy`: the other way out, e.g. "rebuild the index"."""
    message = f"index {location} was built with embedding model {built_with!r}, but {given!r} was given"
    (built_model, variant), (given_model, _) = split_variant(built_with), split_variant(given)
    if built_model != given_model:
        return f"{message}; use that model or {remedy}"
    backends = " or ".join(b for b, v in BACKEND_VARIANTS.items() if v == variant)
    return f"{message}; use the variant it was built with (--embedding-backend {backends}) or {remedy}"


class Embedder:
    """Loads the model once, on first use; safe to share between threads.

    Backends: `torch` (sentence-transformers, the reference), `onnx` (the same vectors through a fused ONNX
    graph, ~5x faster for a one-line query), `onnx-int8` (that graph with int8 weights: vectors close to
    fp32's but not equal, so another `variant`: `name` then says so, and an index built with one variant
    refuses the other), `auto` (onnx-int8 on CPU where the model's layout allows it, else torch; for an
    existing index, `following` gives the variant it was built with).
    """

    def __init__(self, model_path: str | Path | None = None, *, batch_size: int | None = None, device: str = "cpu",
                 backend: str = "auto"):
        if backend not in EMBEDDING_BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}: choose one of {', '.join(EMBEDDING_BACKENDS)}")
        self.model_path = Path(model_path) if model_path is not None else default_embedding_model_path()
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"embedding model folder not found: {self.model_path}")
        self.model_name = embedding_model_name(self.model_path)
        self.device = device
        self.requested_backend = backend
        self._layout = None
        self.backend = self._resolve_backend(backend)
        if self.backend == "onnx-int8":
            batch_size = 1  # see DEFAULT_BATCH_SIZES: anything else ties a vector to its batch
        self.batch_size = DEFAULT_BATCH_SIZES[self.backend] if batch_size is None else batch_size
        self.variant = BACKEND_VARIANTS[self.backend]
        self.name = variant_name(self.model_name, self.variant)
        self._model = None
        self._onnx = None
        self._variants: dict[str, Embedder] = {}
        self._lock = threading.Lock()

    def _resolve_backend(self, backend: str) -> str:
        from embeddings.onnx_encoder import sentence_layout

        if backend == "torch" or (backend == "auto" and self.device != "cpu"):
            return "torch"
        layout = sentence_layout(self.model_path)
        if layout is None or importlib.util.find_spec("onnxruntime") is None:
            if backend in ONNX_BACKENDS:
                raise ValueError(f"the ONNX backend cannot run {self.model_path}: it needs onnxruntime and a "
                                 "Transformer → Pooling (mean or CLS) → Normalize model; use backend torch")
            return "torch"
        self._layout = layout
        return AUTO_CPU_BACKEND if backend == "auto" else backend

    def following(self, built_with: str) -> "Embedder":
        """The embedder whose vectors compare with an index built by `built_with` (an embedder `name`): this
        one, or for `auto` the same model's variant the index records (made once and kept), so `auto` never
        refuses an index of its own model. An explicit backend or another model gives this one back, and the
        index's check then names the mismatch."""
        model, variant = split_variant(built_with)
        if variant == self.variant or model != self.model_name or self.requested_backend != "auto":
            return self
        with self._lock:
            if variant not in self._variants:
                try:
                    self._variants[variant] = Embedder(self.model_path, device=self.device,
                                                       backend=VARIANT_BACKENDS[variant])
                except ValueError:  # no ONNX for this model: it cannot give that variant
                    self._variants[variant] = self
            return self._variants[variant]

    @property
    def model(self):
        """The sentence-transformers model (the torch backend; loaded on first use)."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        return self._model

    def _new_onnx_encoder(self):
        from embeddings.onnx_encoder import OnnxSentenceEncoder

        return OnnxSentenceEncoder(self.model_path, self._layout, quantize=self.backend == "onnx-int8")

    @property
    def onnx_encoder(self):
        """The ONNX encoder (the onnx backend; exported into the cache on first use)."""
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    self._onnx = self._new_onnx_encoder()
        return self._onnx

    @property
    def onnx_loaded(self) -> bool:
        """Whether the ONNX encoder is loaded (False for the torch backend or before first use)."""
        return self._onnx is not None

    def reload_onnx_session(self) -> bool:
        """Swap in a freshly loaded ONNX session, handing back the buffers ONNX Runtime keeps from the largest
        batch it ran (an encode in flight finishes on the old one). False when no ONNX encoder is loaded."""
        if self._onnx is None:
            return False
        fresh = self._new_onnx_encoder()
        with self._lock:
            self._onnx = fresh
        return True

    @property
    def dimension(self) -> int:
        if self.backend in ONNX_BACKENDS:
            return self.onnx_encoder.dimension
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        if self.backend in ONNX_BACKENDS:
            return self._layout.max_seq_length
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, unit length; batched by length to skip padding."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self.backend in ONNX_BACKENDS:
            return self.onnx_encoder.encode(list(texts), self.batch_size, show_progress=show_progress)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
