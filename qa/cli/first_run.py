"""What a first run builds before it can answer, said on stderr one line per step with its time:

    citeqa: building the embedding model's ONNX graph (once)… 9.4 s
    citeqa: building the bundled articles' index (2 documents)… 3.1 s
    citeqa: building the reader's onnx-int8 graph (once)… 14.2 s

Each step runs only when its file is missing from the cache (`~/.cache/citeqa`, or `$CITEQA_CACHE`); with a warm
cache nothing is built or said and no model is loaded here (the caller loads them when it wants). The steps build
with PyTorch, which a warm run never imports when both models run in ONNX Runtime; afterwards the memory the
builds freed is handed back to the system (PyTorch itself stays loaded in that process).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path

# Library notes that say the same as a step's own line, or nothing a user can act on, while it runs.
_QUIET_LOGGERS = ("qa.answering.onnx_export", "embeddings.onnx_encoder")
_QUIET_PREFIXES = ("Please consider to run pre-processing before quantization",)


class _DropNotes(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(_QUIET_PREFIXES)


@contextlib.contextmanager
def _quiet_build():
    """While a step runs: no progress bars of transformers and none of the notes above (errors still show)."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    notes = _DropNotes()
    logging.getLogger().addFilter(notes)
    bars = None
    try:
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
    except ImportError:
        pass
    try:
        yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        logging.getLogger().removeFilter(notes)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def run_step(description: str, build: Callable[[], object], out=None) -> float:
    """Say `description`, run `build`, then say how long it took on the same line; returns the seconds."""
    out = sys.stderr if out is None else out
    print(f"citeqa: {description}… ", end="", file=out, flush=True)
    started = time.perf_counter()
    try:
        with _quiet_build():
            build()
    except BaseException:
        print("failed", file=out, flush=True)
        raise
    seconds = time.perf_counter() - started
    print(f"{seconds:.1f} s", file=out, flush=True)
    return seconds


def release_freed_memory() -> None:
    """Hand memory that Python freed back to the system (glibc keeps freed heap otherwise); a no-op elsewhere."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def embedder_graph_missing(embedder) -> bool:
    """Whether the embedder runs in ONNX Runtime, has not loaded its graph and the graph is not in the cache yet."""
    if not str(embedder.backend).startswith("onnx") or embedder.onnx_loaded:
        return False
    from embeddings.onnx_encoder import sentence_layout, sentence_onnx_path

    layout = sentence_layout(embedder.model_path)
    if layout is None:
        return False
    extra = {"quantize": True} if embedder.backend == "onnx-int8" else {}
    return not sentence_onnx_path(embedder.model_path, layout, **extra).is_file()


def searching_embedder(target, embedder):
    """The embedder that will search an existing FAISS index: `embedder`, or (for `auto`) its sibling of the
    variant the index records, so an fp32 index warms the fp32 graph. An unreadable index gives `embedder`:
    opening it says what is wrong, as it always did."""
    from embeddings.index import IndexFileError, current_generation, read_manifest
    from qa.indexing.stores import resolved

    root = Path(resolved(target, embedder).location)
    try:
        return embedder.following(read_manifest(current_generation(root), root)["embedding_model"]["name"])
    except IndexFileError:
        return embedder


def bundled_index_missing(config, embedder) -> bool:
    """Whether the config reads the bundled articles' FAISS index and it is not built yet."""
    target = config.index_target
    if not target.bundled or target.store != "faiss":
        return False
    from embeddings.index import CURRENT
    from qa.indexing.bundled import bundled_index_dir

    return not (Path(bundled_index_dir(embedder, target.chunking)) / CURRENT).exists()


def reader_graph_missing(reader) -> bool:
    """Whether the reader runs in ONNX Runtime and its graph is not built yet."""
    from qa.answering.onnx_export import ONNX_BACKENDS, cached_onnx_path

    backend = getattr(reader, "backend", None)
    return backend in ONNX_BACKENDS and not cached_onnx_path(reader.model_dir, backend).is_file()


def prepare(config, embedder, reader, out=None) -> list[tuple[str, float]]:
    """Build what the cache lacks for `config` (the embedder's ONNX graph, the bundled articles' index, the
    reader's ONNX graph), one line per step on `out` (stderr); returns (step, seconds) of the steps run. Nothing
    for an index folder that is not there: opening it fails as it always did, before anything is built."""
    target = config.index_target
    if target.store == "faiss" and not target.bundled:
        from qa.indexing.stores import index_exists

        if not index_exists(target, embedder):
            return []
        embedder = searching_embedder(target, embedder)
    steps = []
    if embedder_graph_missing(embedder):
        steps.append(("building the embedding model's ONNX graph (once)", lambda: embedder.onnx_encoder))
    if bundled_index_missing(config, embedder):
        from corpus.loaders import load_default_corpus
        from qa.indexing.stores import ensure_bundled_index

        count = len(load_default_corpus())
        steps.append((f"building the bundled articles' index ({count} document{'' if count == 1 else 's'})",
                      lambda: ensure_bundled_index(config.index_target, embedder)))
    if reader_graph_missing(reader):
        from qa.answering.onnx_export import ensure_onnx

        steps.append((f"building the reader's {reader.backend} graph (once)",
                      lambda: ensure_onnx(reader.model_dir, reader.backend)))
    done = [(description, run_step(description, build, out)) for description, build in steps]
    if done:
        release_freed_memory()
    return done
