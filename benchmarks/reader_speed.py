"""Reader inference speed alone (no retrieval): windows/s and questions/s when reading k passages.

The k passages of each question are retrieved once (hybrid, bundled index); then every backend reads
them, timed interleaved question by question, reading all k (no early stop).

    python benchmarks/reader_speed.py [--reader DIR] [--k 5] [--repeat 10] [--threads 2] [--backends onnx,onnx-int8]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from answer_latency import QUESTIONS, percentile  # noqa: E402

from qa.answering.config import Config  # noqa: E402
from qa.answering.pipeline import Assistant, reader_from_config  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--reader", default=None)
    parser.add_argument("--backends", default="auto", help="comma-separated reader backends (e.g. onnx,onnx-int8)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the models")
    args = parser.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    config = Config(k=args.k, reader_model=args.reader)
    assistant = Assistant.from_config(config)
    passages = {q: assistant.retriever.search(q, args.k) for q in QUESTIONS}
    readers = {b: reader_from_config(assistant.config.with_changes(reader_backend=b)) for b in args.backends.split(",")}
    windows = {q: len(next(iter(readers.values())).windows(q, passages[q])[1]) for q in QUESTIONS}
    for reader in readers.values():  # load and warm up
        for q in QUESTIONS:
            reader.read(q, passages[q])
    timings: dict[str, list[float]] = {b: [] for b in readers}
    for _ in range(args.repeat):
        for q in QUESTIONS:
            for backend, reader in readers.items():
                started = time.perf_counter()
                reader.read(q, passages[q])
                timings[backend].append(time.perf_counter() - started)
    mean_windows = statistics.mean(windows.values())
    print(f"k={args.k}: {mean_windows:.2f} windows per question "
          f"({statistics.mean(len(p) for p in passages.values()):.1f} passages)")
    for backend, values in timings.items():
        total_windows = sum(windows[q] for q in QUESTIONS) * args.repeat
        print(f"reader {backend} ({readers[backend].backend}): n={len(values)} p50 {1000 * percentile(values, 0.5):.1f} ms, "
              f"p95 {1000 * percentile(values, 0.95):.1f} ms per question; {total_windows / sum(values):.1f} windows/s, "
              f"{len(values) / sum(values):.2f} questions/s")


if __name__ == "__main__":
    main()
