"""What every system runner shares (standard library only: it is imported from each peer's own venv).

A runner is `python run_<system>.py --chunks C --questions Q --embedding-model E --reader R --index-dir D
--out O [--k 5] [--threads 2] [--prepare | --time-indexing]`. With --prepare it only builds its index of the
chunks into D and loads what its timed runs load (once; untimed). Without it, it loads the models and the
index from D, answers one warm-up question, then answers every question one at a time and writes O:

    {"system", "config", "versions", "load_seconds", "seconds", "peak_rss_mb",
     "questions": [{"id", "prediction", "latency_s", "retrieved": [chunk id, ...], "passages_read"}, ...]}

`retrieved` holds the ids (the `id` field of the chunks file) of the passages handed to the reader, best
first; `passages_read` how many of them it read (fewer than k when a system stops reading early).

With --time-indexing it indexes the chunks its own way into a fresh temporary folder instead (D untouched),
times it without the model loading, deletes the folder and writes O:

    {"system", "variant", "chunks", "seconds", "chunks_per_s", "load_seconds", "peak_rss_mb", "config",
     "versions", "date"}
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[2]))  # last, so nothing of the project shadows a peer's modules
from benchmarks.machine import peak_rss_kib  # noqa: E402  (standard library only)

# The same environment for every system: offline, and the same thread count for torch, OpenMP and the
# tokenizers. Set before torch is imported (the runners import this module first).
ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HAYSTACK_TELEMETRY_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
}


def setup_environment(threads: int) -> None:
    os.environ.update(ENVIRONMENT)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[name] = str(threads)


def parse_args(description: str, extra=None) -> argparse.Namespace:
    """The common arguments; `extra(parser)` adds a runner's own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--chunks", type=Path, required=True, help="JSONL: id, doc_id, chunk_id, title, text")
    parser.add_argument("--questions", type=Path, required=True, help="JSONL: id, question")
    parser.add_argument("--embedding-model", type=Path, required=True, help="sentence-transformers folder")
    parser.add_argument("--reader", type=Path, required=True, help="transformers question-answering folder")
    parser.add_argument("--index-dir", type=Path, required=True, help="where this system keeps its index")
    parser.add_argument("--out", type=Path, help="results JSON (not with --prepare)")
    parser.add_argument("--k", type=int, default=5, help="passages the reader reads")
    parser.add_argument("--pool", type=int, default=100, help="candidates each retriever gives the fusion")
    parser.add_argument("--max-length", type=int, default=256, help="reader window, tokens")
    parser.add_argument("--stride", type=int, default=128, help="reader window overlap, tokens")
    parser.add_argument("--threads", type=int, default=2)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--prepare", action="store_true", help="only build the index and warm what the timed runs load")
    mode.add_argument("--time-indexing", action="store_true",
                      help="time indexing the chunks into a temporary folder instead of answering")
    if extra is not None:
        extra(parser)
    args = parser.parse_args()
    setup_environment(args.threads)
    if not args.prepare and args.out is None:
        parser.error("--out is required unless --prepare")
    return args


def set_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def versions(*names: str) -> dict:
    found = {"python": sys.version.split()[0]}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def peak_rss_mb() -> float:
    """The process's own peak resident set, in MB (10^6 bytes)."""
    return peak_rss_kib() * 1024 / 1e6


def write_result(path: Path, result: dict) -> None:
    """Write a runner's results file atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_indexing(args: argparse.Namespace, system: str, *, variant: str, chunks: int, seconds: float,
                   load_seconds: float, config: dict, version_names: tuple[str, ...], **extra) -> None:
    """Write one timed indexing run (see the module docstring); peak RSS is this process's so far."""
    result = {"system": system, "variant": variant, "chunks": chunks, "seconds": seconds,
              "chunks_per_s": chunks / seconds, "load_seconds": load_seconds, **extra, "peak_rss_mb": peak_rss_mb(),
              "config": {**config, "threads": args.threads, "embedding_model_path": str(args.embedding_model),
                         "chunks": str(args.chunks)},
              "versions": versions(*version_names), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    write_result(args.out, result)
    print(f"{system} ({variant}): {chunks} chunks indexed in {seconds:.1f} s ({chunks / seconds:.1f} chunks/s), "
          f"peak RSS {result['peak_rss_mb']:.0f} MB -> {args.out}", file=sys.stderr)


def time_indexing(args: argparse.Namespace, system: str, load, build, save, *, variant: str, config: dict,
                  version_names: tuple[str, ...]) -> None:
    """Index the chunks as a peer does, in this fresh process: `load()` the models (timed apart), `build(models,
    chunks)` the index and `save(index, path)` it to a new path in a fresh temporary folder (both timed:
    `seconds`; the save alone: `save_seconds`), then delete the folder and write --out."""
    chunks = read_jsonl(args.chunks)
    started = time.perf_counter()
    models = load()
    loaded = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix=f"peers-index-{system}-"))
    try:
        index = build(models, chunks)
        built = time.perf_counter()
        save(index, folder / "index")
        done = time.perf_counter()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    write_indexing(args, system, variant=variant, chunks=len(chunks), seconds=done - loaded,
                   load_seconds=loaded - started, save_seconds=done - built, config=config, version_names=version_names)


def run_questions(args: argparse.Namespace, system: str, load, *, config: dict, version_names: tuple[str, ...]) -> None:
    """Time `load()` (returns answer(question) -> (prediction, [chunk ids]) or (prediction, [chunk ids],
    passages read) when the system may stop before the last passage), warm up on the first
    question, then answer each question one at a time and write the results file."""
    questions = read_jsonl(args.questions)
    started = time.perf_counter()
    answer = load()
    answer(questions[0]["question"])  # warm-up: models loaded and first-call costs paid before the clock
    load_seconds = time.perf_counter() - started
    records = []
    loop_started = time.perf_counter()
    for q in questions:
        began = time.perf_counter()
        prediction, retrieved, *read = answer(q["question"])
        latency = time.perf_counter() - began
        records.append({"id": q["id"], "prediction": prediction or "", "latency_s": latency,
                        "retrieved": [str(i) for i in retrieved],
                        "passages_read": read[0] if read else len(retrieved)})
    seconds = time.perf_counter() - loop_started
    result = {
        "system": system,
        "config": {**config, "k": args.k, "threads": args.threads, "embedding_model_path": str(args.embedding_model),
                   "reader_path": str(args.reader), "chunks": str(args.chunks)},
        "versions": versions(*version_names),
        "load_seconds": load_seconds,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "questions": records,
    }
    write_result(args.out, result)
    print(f"{system}: {len(records)} questions in {seconds:.1f} s ({len(records) / seconds:.2f} q/s), "
          f"peak RSS {result['peak_rss_mb']:.0f} MB -> {args.out}", file=sys.stderr)
