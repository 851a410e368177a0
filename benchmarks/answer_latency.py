"""`answer()` latency on the bundled articles: p50/p95 over repeated questions at a given k.

    python benchmarks/answer_latency.py --k 5 --repeat 5 [--reader DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time

from qa.config import Config
from qa.pipeline import Assistant

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
    args = parser.parse_args()
    assistant = Assistant.from_config(Config(k=args.k, reader_model=args.reader, retrieval_mode=args.mode))
    assistant.answer(QUESTIONS[0])  # load models
    timings = []
    for _ in range(args.repeat):
        for question in QUESTIONS:
            started = time.perf_counter()
            assistant.answer(question)
            timings.append(1000 * (time.perf_counter() - started))
    print(f"answer() k={args.k} mode={args.mode}: n={len(timings)} p50 {percentile(timings, 0.5):.1f} ms, "
          f"p95 {percentile(timings, 0.95):.1f} ms, mean {statistics.mean(timings):.1f} ms")


if __name__ == "__main__":
    main()
