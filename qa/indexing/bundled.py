"""The bundled articles' index: keyed by the articles, the embedding model and the chunking, kept in the cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

from corpus.chunking import ChunkingSettings
from corpus.loaders import default_corpus_dir
from embeddings.cache import cache_root
from embeddings.embedder import Embedder
from embeddings.index import FORMAT_VERSION


def bundled_index_key(embedder: Embedder, chunking: ChunkingSettings) -> str:
    """12 hex digits naming the bundled articles' index for this model and chunking."""
    digest = hashlib.sha256()
    for path in sorted(default_corpus_dir().glob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(f"{embedder.name}|{chunking}|{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:12]


def bundled_index_dir(embedder: Embedder, chunking: ChunkingSettings) -> Path:
    """The folder of the bundled articles' FAISS index for this model and chunking (it may not exist yet)."""
    return cache_root() / "indexes" / f"default-{bundled_index_key(embedder, chunking)}"
