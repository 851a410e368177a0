"""Indexing speed and peak memory: every paragraph of a SQuAD file indexed as one document, as `citeqa
eval` does for open SQuAD (default chunking: 120 words, 1 sentence overlap; the packaged MiniLM).

Each file is indexed in a fresh child process into a temporary folder, so the peak resident memory
(VmHWM, in MB of 10^6 bytes) is that run's alone, models included.

    python benchmarks/index_speed.py ../shared/qa-data/squad-v1.1/dev-v1.1.json ../shared/qa-data/squad-v1.1/train-v1.1.json \
        --out benchmarks/results/index-speed.json

`--embedding-backend onnx` times the fp32 embedding graph instead of the default (auto: int8 ONNX for a new index).
Measure on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info, peak_rss_kib  # noqa: E402
from embeddings.embedder import EMBEDDING_BACKENDS  # noqa: E402


def measure(path: Path, embedding_backend: str = "auto") -> dict:
    """Index `path`'s paragraphs once with the embedder of `embedding_backend` (runs in the child process)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    from embeddings.index import DocumentIndex, update_index
    from qa.answering.config import Config, embedder_from_config
    from qa.evaluation.datasets import load_squad_paragraphs
    from qa.evaluation.run import paragraph_documents

    config = Config(embedding_backend=embedding_backend)
    paragraphs = len(load_squad_paragraphs(path))
    documents = paragraph_documents(path)
    embedder = embedder_from_config(config)
    embedder.dimension  # load the model before the clock starts
    loaded = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="citeqa-index-speed-"))
    try:
        update = update_index(folder / "idx", embedder, add=documents, chunking=config.chunking)
        seconds = time.perf_counter() - loaded
        index = DocumentIndex.open(folder / "idx")
        size = sum(p.stat().st_size for p in index.generation.rglob("*") if p.is_file())
        chunks = len(index)
        index.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    from embeddings.onnx_graph import torch_thread_count  # importing torch here would add to the peak

    return {
        "file": str(path), "paragraphs": paragraphs, "documents": len(documents), "chunks": chunks,
        "chunks_embedded": update.chunks_embedded, "seconds": seconds, "chunks_per_s": chunks / seconds,
        "paragraphs_per_s": len(documents) / seconds, "model_load_seconds": loaded - started,
        "peak_rss_mb": peak_rss_kib() * 1024 / 1e6, "batch_size": embedder.batch_size,
        "index_mb": size / 1e6, "embedding_model": embedder.name,
        "embedding_backend": embedder.backend, "threads": torch_thread_count(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path, help="SQuAD JSON files")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--embedding-backend", choices=EMBEDDING_BACKENDS, default="auto",
                        help="the embedder to time (default auto: int8 ONNX for a new index; onnx: the fp32 graph)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.files[0], args.embedding_backend)))
        return 0
    results = []
    for path in args.files:
        child = subprocess.run([sys.executable, __file__, "--child", str(path), "--embedding-backend", args.embedding_backend],
                               capture_output=True, text=True, cwd=ROOT)
        if child.returncode != 0:
            print(child.stderr, file=sys.stderr)
            print(f"{path}: indexing failed (exit {child.returncode})", file=sys.stderr)
            return 1
        row = json.loads(child.stdout.strip().splitlines()[-1])
        results.append(row)
        print(f"{path.name}: {row['documents']} paragraphs, {row['chunks']} chunks in {row['seconds']:.1f} s "
              f"({row['chunks_per_s']:.0f} chunks/s), peak RSS {row['peak_rss_mb']:.0f} MB, index {row['index_mb']:.1f} MB",
              flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                  "machine": machine_info(),
                  "command": " ".join(["python", "benchmarks/index_speed.py", *map(str, args.files),
                                       *(["--embedding-backend", args.embedding_backend]
                                         if args.embedding_backend != "auto" else [])]),
                  "runs": results}
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
