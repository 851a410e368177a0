"""Corpus stage: article files in, `Document`s out, and `Document`s cut into sentence-aligned `Chunk`s.

The first stage: imports nothing from embeddings, qa or ui."""

from corpus.chunking import chunk_document, chunk_documents
from corpus.documents import Chunk, Document
from corpus.errors import CorpusError, FileSkipped
from corpus.loaders import LoadReport, SkippedFile, load_default_corpus, load_file, load_path

__all__ = [
    "Chunk",
    "CorpusError",
    "Document",
    "FileSkipped",
    "LoadReport",
    "SkippedFile",
    "chunk_document",
    "chunk_documents",
    "load_default_corpus",
    "load_file",
    "load_path",
]
