"""The one translator from command-line flags to a `Config`, shared by every `citeqa` command, `citeqa serve`
and `python ui.py`. Choice lists come from the modules that own them."""

from __future__ import annotations

import argparse
import os
import unicodedata

from embeddings.embedder import EMBEDDING_BACKENDS
from embeddings.store import INDEX_TYPES
from qa.answering.reader import READER_BACKENDS
from qa.answering.retrievers import RETRIEVAL_MODES
from qa.cli.arg_types import positive_int, probability
from qa.indexing.stores import STORES

# Flag name (argparse dest) -> Config field, for the flags that set one.
CONFIG_FIELDS = {
    "index": "index_dir", "embedding_model": "embedding_model", "embedding_backend": "embedding_backend",
    "store": "store", "store_uri": "store_uri", "k": "k", "mode": "retrieval_mode", "reader": "reader_model",
    "threshold": "no_answer_threshold", "reader_backend": "reader_backend", "early_stop_score": "early_stop_score",
    "chunk_words": "chunk_words", "index_type": "index_type", "allow_uploads": "allow_uploads",
    "max_upload_chunks": "max_upload_chunks", "min_confidence": "min_confidence",
}


def terminal_text(text: str) -> str:
    """Text from a document, safe to print on one terminal line: control and format characters (newlines,
    escape sequences, the bidirectional overrides that reverse a line, U+202E) shown as \\uXXXX."""
    return "".join(ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else f"\\u{ord(ch):04x}" for ch in text)


class UsageError(ValueError):
    """A bad command-line value; printed as one line, exit status 2."""


def set_offline_environment() -> None:
    """Never reach for the Hugging Face Hub, and keep tokenizers from forking threads: set by the entry points
    (`citeqa`, `python ui.py`) before any model loads, never at import."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def add_index_flags(p: argparse.ArgumentParser) -> None:
    """Which index and embedding model: every command that opens an index."""
    p.add_argument("--index", default=None, metavar="DIR",
                   help="index folder (default: the bundled articles' index in ~/.cache/citeqa); with --store milvus, its name")
    p.add_argument("--embedding-model", default=None, metavar="DIR", help="sentence-transformers model folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--embedding-backend", choices=EMBEDDING_BACKENDS, default=None,
                   help="how the embedder runs: torch (sentence-transformers), onnx (the same vectors, faster) or onnx-int8 (int8 "
                        "weights: other vectors, faster still); default auto: an existing index's own variant, onnx-int8 for a new "
                        "index where the model allows (an index keeps the variant it was built with)")
    p.add_argument("--store", choices=STORES, default=None,
                   help="where the index lives: faiss (a folder, the default) or milvus (then --index names its collections)")
    p.add_argument("--store-uri", default=None, metavar="URI",
                   help="milvus: a Milvus Lite file (FILE.db) or http://host:19530 (default: ~/.cache/citeqa/milvus.db)")


def add_answer_flags(p: argparse.ArgumentParser) -> None:
    """How questions are answered: retrieval and the reader."""
    p.add_argument("--k", type=positive_int, default=None, help="passages the reader reads per question (default 5)")
    p.add_argument("--mode", choices=RETRIEVAL_MODES, default=None, help="retrieval (default hybrid)")
    p.add_argument("--reader", default=None, metavar="DIR", help="transformers question-answering model folder (default: the shipped reader)")
    p.add_argument("--threshold", type=float, default=None,
                   help="abstain below this score (default: the reader's calibrated threshold; --threshold=-inf never abstains)")
    p.add_argument("--min-confidence", type=probability, default=None, metavar="P",
                   help="answer only when at least this likely right, e.g. 0.7 or 70%% (default: the calibrator's "
                        "measured setting; needs a reader folder with calibrator.json, else --threshold decides)")
    p.add_argument("--reader-backend", choices=READER_BACKENDS, default=None,
                   help="how the reader runs: torch (fp32), onnx (fp32), onnx-int8; default: the one recorded for the model")
    p.add_argument("--early-stop-score", type=float, default=None, metavar="SCORE",
                   help="stop after the first 2 passages when an answer there scores this (default: the reader's "
                        "calibrated score; inf reads all k)")


def add_index_type_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index-type", choices=("auto", *INDEX_TYPES), default=None,
                   help="vector index of a new or rebuilt index: exact (flat), HNSW or IVF-PQ; auto (default) picks "
                        "by chunk count (flat up to 100k, hnsw up to 5M); an existing index keeps its type")


def config_from(args: argparse.Namespace, **overrides):
    """The `Config` the flags describe: each flag given sets its field, the rest keep the defaults; a value the
    Config refuses becomes a `UsageError` naming it."""
    from qa.answering.config import Config

    fields = {field: getattr(args, flag) for flag, field in CONFIG_FIELDS.items() if getattr(args, flag, None) is not None}
    fields.update(overrides)
    try:
        return Config(**fields)
    except ValueError as err:
        raise UsageError(str(err)) from err


class Models:
    """The models a command uses, loaded once (lazily): an embedder handed in by the caller, else the
    one the config names."""

    def __init__(self, embedder=None):
        self._embedder = embedder

    def embedder(self, config):
        if self._embedder is None:
            from qa.answering.config import embedder_from_config

            self._embedder = embedder_from_config(config)
        return self._embedder
