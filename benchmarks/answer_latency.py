"""`answer()` latency on the bundled articles: p50/p95 over repeated questions at a given k.

    python benchmarks/answer_latency.py --k 5 --repeat 5 [--reader DIR] [--backends torch,onnx,onnx-int8]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qa.config import Config
from qa.pipeline import Assistant, reader_from_config

QUESTIONS = [
    "In which city is the Stargate data center being built?",
    "How much is the initial investment in Stargate?",
    "How much could be poured into Stargate in the coming years?",
    "Which companies stood alongside Trump during the announcement?",
    "Who is the CEO of OpenAI?",
    "What did Musk claim about OpenAI?",
    "Who told Politico that Musk overstepped?",
    "On what platform did Musk dunk on the deal?",
    "When did Trump speak to reporters at the White House?",
    "What is the name of the new AI venture?",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = int(position), min(int(position) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reader", default=None)
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--backends", default="auto",
                        help="comma-separated reader backends, timed interleaved question by question (e.g. torch,onnx-int8)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the models")
    args = parser.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    backends = args.backends.split(",")
    first = Assistant.from_config(Config(k=args.k, reader_model=args.reader, retrieval_mode=args.mode,
                                         reader_backend=backends[0]))
    assistants = {backends[0]: first}
    for backend in backends[1:]:  # same index and embedder, another reader
        config = first.config.with_changes(reader_backend=backend)
        assistants[backend] = Assistant(first.index, first.retriever, reader_from_config(config), config)
    answers = {}
    for backend, assistant in assistants.items():
        answers[backend] = [assistant.answer(q).text for q in QUESTIONS]  # loads models, warms up
    timings = {backend: [] for backend in assistants}
    for _ in range(args.repeat):
        for question in QUESTIONS:
            for backend, assistant in assistants.items():
                started = time.perf_counter()
                assistant.answer(question)
                timings[backend].append(1000 * (time.perf_counter() - started))
    reference = backends[0]
    for backend, values in timings.items():
        same = sum(a == b for a, b in zip(answers[backend], answers[reference]))
        ratio = percentile(timings[reference], 0.5) / percentile(values, 0.5)
        print(f"answer() k={args.k} mode={args.mode} reader={backend} ({assistants[backend].reader.backend}): "
              f"n={len(values)} p50 {percentile(values, 0.5):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
              f"mean {statistics.mean(values):.1f} ms; {reference} p50 / this p50 = {ratio:.2f}x; "
              f"same answer as {reference}: {same}/{len(QUESTIONS)}")


if __name__ == "__main__":
    main()
