"""Sentence embeddings: batched, L2-normalised float32 vectors from a local sentence-transformers folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from embeddings.models import DEFAULT_EMBEDDING_NAME, default_embedding_model_path


def embedding_model_name(model_path: str | Path) -> str:
    """A readable, stable name for a model folder, recorded in index manifests."""
    path = Path(model_path).resolve()
    if path == default_embedding_model_path().resolve():
        return DEFAULT_EMBEDDING_NAME
    return path.name if path.name not in ("model", "models") else f"{path.parent.name}/{path.name}"


class Embedder:
    """Loads the model once, on first use; safe to share between threads."""

    def __init__(self, model_path: str | Path | None = None, *, batch_size: int = 64, device: str = "cpu"):
        self.model_path = Path(model_path) if model_path is not None else default_embedding_model_path()
        if not self.model_path.is_dir():
            raise FileNotFoundError(f"embedding model folder not found: {self.model_path}")
        self.name = embedding_model_name(self.model_path)
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    os.environ.setdefault("HF_HUB_OFFLINE", "1")
                    from sentence_transformers import SentenceTransformer

                    self._model = SentenceTransformer(str(self.model_path), device=self.device, local_files_only=True)
        return self._model

    @property
    def dimension(self) -> int:
        model = self.model
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, unit length; the model sorts by length to skip padding."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
