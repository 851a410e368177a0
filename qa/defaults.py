"""The bundled default index: built on first use into the user cache, keyed by model, corpus and settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

from embeddings.cache import cache_root
from embeddings.embedder import Embedder
from embeddings.index import CURRENT, FORMAT_VERSION, ChunkingSettings, update_index


def default_corpus_key(embedder: Embedder, config) -> str:
    """12 hex digits naming the bundled articles' index for this model and chunking."""
    from corpus.loaders import default_corpus_dir

    chunking = ChunkingSettings(config.chunk_words, config.chunk_overlap_sentences)
    digest = hashlib.sha256()
    for path in sorted(default_corpus_dir().glob("*")):
        if path.is_file():
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    digest.update(f"{embedder.name}|{chunking}|{FORMAT_VERSION}".encode())
    return digest.hexdigest()[:12]


def default_index_dir(embedder: Embedder, config) -> Path:
    """Folder of the index over the bundled articles for this model and chunking; built if missing."""
    from corpus.loaders import load_default_corpus

    chunking = ChunkingSettings(config.chunk_words, config.chunk_overlap_sentences)
    folder = cache_root() / "indexes" / f"default-{default_corpus_key(embedder, config)}"
    if not (folder / CURRENT).exists():
        update_index(folder, embedder, add=load_default_corpus(), chunking=chunking, wait_seconds=300)
    return folder
