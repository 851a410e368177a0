"""Distributed indexing with Ray Data: parallel tasks read and chunk files, a pool of actors embeds (each loads
the model once), and this process writes the chosen store in batches. Ray is an optional extra:
`pip install "citeqa[ray]"`.

Every file ends up indexed, a duplicate, or in `failed` with its reason; nothing is dropped silently.
A FAISS index is written as one new generation through `update_index` (so it stays atomic), with the
vectors the actors computed; a Milvus index is written batch by batch as results arrive.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.documents import Chunk, Document
from corpus.chunking import ChunkingSettings, chunk_document
from corpus.files import files_under
from embeddings.embedder import Embedder
from qa.indexing.stores import IndexTarget, describe, ensure_bundled_index, resolved

INSTALL_HINT = 'pip install "citeqa[ray]"'
DOCUMENTS_PER_BATCH = 64
FIELDS = ("path", "doc_id", "title", "date", "source", "url", "page_starts", "text", "spans", "duplicate_of", "error")


class RayUnavailableError(RuntimeError):
    """Ray (with Ray Data) is not installed."""


@dataclass(frozen=True)
class RayIndexResult:
    """What one distributed indexing run did; `failed` pairs each file (or record) with its reason."""

    where: str
    files: int
    documents: int
    chunks: int
    failed: tuple[tuple[str, str], ...]
    duplicates: tuple[tuple[str, str], ...]
    workers: int
    seconds: float
    ray_start_seconds: float

    @property
    def chunks_per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


def ray_module():
    """The ray module with Ray Data, or one clear line on how to install it."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RayUnavailableError(f"--ray needs Ray Data: {INSTALL_HINT}") from None
    return ray


def listed_files(paths: Sequence[str | os.PathLike[str]]) -> dict[Path, Path | None]:
    """The files under the given paths as `load_path` walks them (folders recursively, hidden names skipped),
    each with the folder it was found in (None for a file given alone): its source is its path from there."""
    files: dict[Path, Path | None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if path.is_dir():
            # sorted top-down walk order (each folder's files by name, then its subfolders), which is not
            # the order of files_under (by path parts): key each folder name (1, name), the file name (0, name)
            for file in sorted(files_under(path), key=lambda file: (
                    *((1, folder) for folder in file.relative_to(path).parts[:-1]), (0, file.name))):
                files.setdefault(file.resolve(), path.resolve())
        else:
            files.setdefault(path.resolve(), None)
    return files



def _row(path: str, **values) -> dict:
    return {name: values.get(name, "") for name in FIELDS} | {"path": path}


def read_and_chunk(item: dict, *, max_words: int, overlap_sentences: int) -> list[dict]:
    """One file into rows: a row per document (text, metadata, chunk spans), per duplicate, per failure."""
    from corpus.loaders import load_path

    path = item["path"]
    try:  # a file found in a folder shows its path from that folder as its source, as a plain folder index does
        report = load_path(path, relative_to=item.get("root") or None)
    except Exception as err:  # an unreadable file is a failed row, never an exception that stops the run
        return [_row(path, error=f"{type(err).__name__}: {err}")]
    rows = [_row(skip.path, error=skip.reason) for skip in report.skipped]
    rows += [_row(label, duplicate_of=doc_id) for label, doc_id in report.duplicates]
    for document in report.documents:
        try:
            chunks = chunk_document(document, max_words=max_words, overlap_sentences=overlap_sentences)
        except Exception as err:
            rows.append(_row(report.path_of(document.doc_id) or path, error=f"chunking failed: {err}"))
            continue
        rows.append(_row(
            report.path_of(document.doc_id) or path, doc_id=document.doc_id, title=document.title,
            date=document.date or "", source=document.source, url=document.url or "",
            page_starts=json.dumps(list(document.page_starts)), text=document.text,
            spans=json.dumps([[c.chunk_id, c.start, c.end] for c in chunks]),
        ))
    return rows


class EmbedChunks:
    """A Ray actor: loads the embedding model once, then embeds the chunks of each batch of documents."""

    def __init__(self, model_path: str, threads: int, backend: str = "auto"):
        import torch

        torch.set_num_threads(threads)
        self.embedder = Embedder(model_path, backend=backend)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["path"])
        texts, owners = [], []
        for row in range(n):
            if batch["doc_id"][row] and not batch["error"][row]:
                text = batch["text"][row]
                for _, start, end in json.loads(batch["spans"][row]):
                    texts.append(text[start:end])
                    owners.append(row)
        vectors = [b""] * n
        errors = list(batch["error"])
        try:
            matrix = self.embedder.encode(texts)
        except Exception as err:  # the batch's documents are reported as failed
            for row in set(owners):
                errors[row] = f"embedding failed: {type(err).__name__}: {err}"
        else:
            owners_array = np.asarray(owners, dtype=np.int64)
            for row in set(owners):
                vectors[row] = np.ascontiguousarray(matrix[owners_array == row], dtype=np.float32).tobytes()
        out = dict(batch)
        out["vectors"] = np.array(vectors, dtype=object)
        out["error"] = np.array(errors, dtype=object)
        return out


class LookupEmbedder:
    """Hands `update_index` the vectors the Ray actors computed, by chunk text; never runs a model."""

    def __init__(self, name: str, dimension: int, vectors: dict[str, np.ndarray]):
        self.name = name
        self.dimension = dimension
        self._vectors = vectors

    def following(self, built_with: str) -> "LookupEmbedder":
        """Itself: the workers already embedded with the variant the index keeps (`FaissSink`)."""
        return self

    def encode(self, texts: list[str], *, show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        missing = [t for t in texts if t not in self._vectors]
        if missing:
            raise KeyError(f"no vector from the Ray workers for a chunk starting {missing[0][:60]!r}: chunking differed")
        return np.stack([self._vectors[t] for t in texts])


class FaissSink:
    """Collects the embedded documents, then writes one FAISS generation atomically."""

    def __init__(self, index_dir: Path, embedder: Embedder, *, chunking: ChunkingSettings, rebuild: bool, wait_seconds: float):
        from embeddings.index import CURRENT, current_generation, read_manifest

        self.index_dir, self.embedder, self.rebuild, self.wait_seconds = index_dir, embedder, rebuild, wait_seconds
        self.chunking = chunking
        if (index_dir / CURRENT).exists() and not rebuild:
            manifest = read_manifest(current_generation(index_dir), index_dir)
            self.chunking = ChunkingSettings(**manifest["chunking"])
            self.embedder = embedder.following(manifest["embedding_model"]["name"])  # the index keeps its variant
        self.documents: list[Document] = []
        self.vectors: dict[str, np.ndarray] = {}
        self.duplicates: list[tuple[str, str]] = []
        self.added = self.chunks = 0

    def add(self, documents: list[Document], chunks: list[list[Chunk]], vectors: list[np.ndarray]) -> int:
        self.documents += documents
        for own, matrix in zip(chunks, vectors):
            for chunk, vector in zip(own, matrix):
                self.vectors[chunk.text] = vector
        return sum(len(c) for c in chunks)

    def finish(self) -> None:
        from embeddings.index import update_index

        lookup = LookupEmbedder(self.embedder.name, self.embedder.dimension, self.vectors)
        report = update_index(self.index_dir, lookup, add=self.documents, chunking=self.chunking,
                              rebuild=self.rebuild, wait_seconds=self.wait_seconds)
        self.duplicates += list(report.duplicates)
        self.added, self.chunks = len(report.added), report.chunks_embedded


class MilvusSink:
    """Writes each batch of embedded documents into a Milvus index as it arrives."""

    def __init__(self, uri: str, name: str, embedder: Embedder, *, chunking: ChunkingSettings, rebuild: bool):
        from embeddings.milvus_index import MilvusIndexWriter, writing_embedder
        from embeddings.milvus_store import connect

        client = connect(uri)
        self.embedder = writing_embedder(client, name, embedder, rebuild)  # the index keeps its variant
        self.writer = MilvusIndexWriter(client, uri, name, self.embedder.name, self.embedder.dimension,
                                        chunking=chunking, rebuild=rebuild)
        self.chunking = self.writer.chunking
        self.duplicates: list[tuple[str, str]] = []
        self.added = self.chunks = 0

    def add(self, documents: list[Document], chunks: list[list[Chunk]], vectors: list[np.ndarray]) -> int:
        fresh, duplicates, _ = self.writer.split_known(documents)
        self.duplicates += duplicates
        keep = {d.doc_id for d in fresh}
        chosen = [i for i, d in enumerate(documents) if d.doc_id in keep]
        self.added += len(fresh)
        written = self.writer.write([documents[i] for i in chosen], [chunks[i] for i in chosen], [vectors[i] for i in chosen])
        self.chunks += written
        return written

    def finish(self) -> None:
        self.writer.flush()


def _decode(batch: dict[str, np.ndarray], row: int, dimension: int) -> tuple[Document, list[Chunk], np.ndarray]:
    text = batch["text"][row]
    document = Document(
        doc_id=batch["doc_id"][row], title=batch["title"][row], date=batch["date"][row] or None,
        source=batch["source"][row], text=text, url=batch["url"][row] or None,
        page_starts=tuple(json.loads(batch["page_starts"][row])),
    )
    chunks = [Chunk(document.doc_id, cid, text[start:end], start, end) for cid, start, end in json.loads(batch["spans"][row])]
    vectors = np.frombuffer(batch["vectors"][row], dtype=np.float32).reshape(-1, dimension)
    return document, chunks, vectors


def _local_runtime_env() -> dict:
    """Workers of a local Ray instance import citeqa from where this process does."""
    here = str(Path(__file__).resolve().parents[2])  # the folder holding corpus/, embeddings/ and qa/
    path = os.pathsep.join(p for p in (here, os.environ.get("PYTHONPATH", "")) if p)
    return {"env_vars": {"PYTHONPATH": path, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}}


def index_with_ray(target: IndexTarget, paths: Sequence[str], *, embedder: Embedder, address: str | None = None,
                   workers: int | None = None, rebuild: bool = False, wait_seconds: float = 0.0,
                   threads_per_worker: int = 1, progress: bool = False,
                   documents_per_batch: int = DOCUMENTS_PER_BATCH) -> RayIndexResult:
    """Index files with Ray Data into the store `target` names; `address` None starts a local Ray instance."""
    ray = ray_module()
    files = listed_files(paths)
    begun = time.monotonic()
    started_here = _start_ray(ray, address, workers, progress)
    try:
        ray_start = time.monotonic() - begun
        # after ray.init: Ray forks its local processes, and forking while Milvus's gRPC threads run is unsupported
        # (gRPC skips its fork handlers; a local start timed out that way once, under load)
        sink, where = _sink(target, embedder, rebuild, wait_seconds)
        if workers is None:
            workers = max(1, int(ray.cluster_resources().get("CPU", 2)) - 1)
        ray.data.DataContext.get_current().enable_progress_bars = progress
        began = time.monotonic()
        dataset = _embedded_dataset(ray, files, sink.chunking, sink.embedder, workers, threads_per_worker,
                                    documents_per_batch)
        failed, duplicates = _write_batches(dataset, sink, sink.embedder.dimension, documents_per_batch, progress)
        sink.finish()
        seconds = time.monotonic() - began
    finally:
        if started_here:
            ray.shutdown()
    return RayIndexResult(where=where, files=len(files), documents=sink.added, chunks=sink.chunks, failed=tuple(failed),
                          duplicates=tuple(duplicates + sink.duplicates), workers=workers, seconds=seconds,
                          ray_start_seconds=ray_start)


def _start_ray(ray, address: str | None, workers: int | None, progress: bool) -> bool:
    """Join the cluster at `address`, or start a local instance; False when Ray already runs in this process."""
    if ray.is_initialized():
        return False
    if address is None:
        cpus = max(os.cpu_count() or 1, (workers if workers is not None else 1) + 1)
        ray.init(num_cpus=cpus, include_dashboard=False, runtime_env=_local_runtime_env(), log_to_driver=progress,
                 logging_level="warning")
    else:
        ray.init(address=address, log_to_driver=progress, logging_level="warning")
    return True


def _embedded_dataset(ray, files: dict[Path, Path | None], chunking: ChunkingSettings, embedder: Embedder, workers: int,
                      threads_per_worker: int, documents_per_batch: int):
    """The lazy Ray dataset: files read and chunked by tasks, embedded by a pool of `workers` actors."""
    items = [{"path": str(f), "root": "" if root is None else str(root)} for f, root in files.items()]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, min(len(files), 8 * workers)))
    dataset = dataset.flat_map(read_and_chunk, fn_kwargs={"max_words": chunking.max_words,
                                                         "overlap_sentences": chunking.overlap_sentences}, num_cpus=0.25)
    return dataset.map_batches(
        EmbedChunks, fn_constructor_kwargs={"model_path": str(embedder.model_path), "threads": threads_per_worker,
                                            "backend": embedder.backend},
        compute=ray.data.ActorPoolStrategy(size=workers), batch_size=documents_per_batch, batch_format="numpy", num_cpus=1,
    )


def _write_batches(dataset, sink, dimension: int, documents_per_batch: int, progress: bool):
    """Hand each embedded batch to the sink; returns the failed files and the duplicates, each with its reason."""
    failed, duplicates, seen = [], [], set()
    bar = _bar(progress)
    for batch in dataset.iter_batches(batch_size=documents_per_batch, batch_format="numpy"):
        documents, chunks, vectors = [], [], []
        for row in range(len(batch["path"])):
            if batch["error"][row]:
                failed.append((str(batch["path"][row]), str(batch["error"][row])))
            elif batch["duplicate_of"][row]:
                duplicates.append((str(batch["path"][row]), str(batch["duplicate_of"][row])))
            elif batch["doc_id"][row] in seen:  # the same text in two files read by different tasks
                duplicates.append((str(batch["source"][row]), str(batch["doc_id"][row])))
            else:
                seen.add(batch["doc_id"][row])
                document, own, matrix = _decode(batch, row, dimension)
                documents.append(document)
                chunks.append(own)
                vectors.append(matrix)
        written = sink.add(documents, chunks, vectors)
        if bar is not None:
            bar.update(written)
    if bar is not None:
        bar.close()
    return failed, duplicates


def _sink(target: IndexTarget, embedder: Embedder, rebuild: bool, wait_seconds: float):
    if target.bundled:
        ensure_bundled_index(target, embedder)  # the bundled articles first, as `write_index` does
    where = resolved(target, embedder)
    if where.store == "faiss":
        sink = FaissSink(Path(where.location), embedder, chunking=where.chunking, rebuild=rebuild, wait_seconds=wait_seconds)
    else:
        sink = MilvusSink(where.uri, where.location, embedder, chunking=where.chunking, rebuild=rebuild)
    return sink, describe(where)


def _bar(show: bool):
    if not show:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="indexed", unit="chunk")
