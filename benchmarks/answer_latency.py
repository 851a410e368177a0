"""`answer()` latency on the bundled articles: p50/p95 over repeated questions at a given k.

    python benchmarks/answer_latency.py --k 5 --repeat 5 [--reader DIR] [--backends torch,onnx,onnx-int8]
        [--early-stop-scores inf,4.5] [--embedding-backend torch|onnx]

Every combination of reader backend and early-stop score is timed interleaved, question by question,
over the same index and embedder (inf: read all k passages; "auto": the reader's calibrated score).
"""

from __future__ import annotations

import argparse
import statistics
import time

from qa.answering.config import Config, embedder_from_config
from qa.answering.pipeline import Assistant, reader_from_config

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
    parser.add_argument("--early-stop-scores", default="auto",
                        help="comma-separated early-stop scores (inf: read all k; auto: the reader's calibrated one)")
    parser.add_argument("--embedding-backend", default="auto", choices=("auto", "torch", "onnx"))
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for the models")
    parser.add_argument("--calibrator", default="on", choices=("on", "off", "both"),
                        help="rank and decide with the reader folder's answer calibrator (on), without it (off), or time both")
    args = parser.parse_args()
    if args.threads is not None:
        import torch

        torch.set_num_threads(args.threads)
    backends = args.backends.split(",")
    stops = [None if s == "auto" else float(s) for s in args.early_stop_scores.split(",")]
    config = Config(k=args.k, reader_model=args.reader, retrieval_mode=args.mode, reader_backend=backends[0],
                    embedding_backend=args.embedding_backend)
    embedder = embedder_from_config(config)
    first = Assistant.from_config(config, embedder=embedder)
    readers = {backends[0]: first.reader}
    for backend in backends[1:]:  # same index and embedder, another reader
        readers[backend] = reader_from_config(first.config.with_changes(reader_backend=backend))
    assistants = {}
    calibrators = {"on": [first.calibrator], "off": [None], "both": [first.calibrator, None]}[args.calibrator]
    for backend, reader in readers.items():
        for stop in stops:
            for calibrator in calibrators:
                config = first.config.with_changes(reader_backend=backend, early_stop_score=stop)
                name = f"{backend}/stop={'auto' if stop is None else stop}/calibrator={'on' if calibrator else 'off'}"
                assistants[name] = Assistant(first.index, first.retriever, reader, config, first.embedder, calibrator)
    answers = {}
    for name, assistant in assistants.items():
        answers[name] = [assistant.answer(q).text for q in QUESTIONS]  # loads models, warms up
    timings = {name: [] for name in assistants}
    read = {name: [] for name in assistants}
    for _ in range(args.repeat):
        for question in QUESTIONS:
            for name, assistant in assistants.items():
                started = time.perf_counter()
                answer = assistant.answer(question)
                timings[name].append(1000 * (time.perf_counter() - started))
                read[name].append(answer.passages_read)
    reference = next(iter(assistants))
    print(f"embedder backend: {embedder.backend}")
    for name, values in timings.items():
        same = sum(a == b for a, b in zip(answers[name], answers[reference]))
        ratio = percentile(timings[reference], 0.5) / percentile(values, 0.5)
        print(f"answer() k={args.k} mode={args.mode} reader={name} ({assistants[name].reader.backend}, "
              f"early stop {assistants[name].early_stop_score}): n={len(values)} p50 {percentile(values, 0.5):.1f} ms, "
              f"p95 {percentile(values, 0.95):.1f} ms, mean {statistics.mean(values):.1f} ms, "
              f"passages read {statistics.mean(read[name]):.2f}; {reference} p50 / this p50 = {ratio:.2f}x; "
              f"same answer as {reference}: {same}/{len(QUESTIONS)}")


if __name__ == "__main__":
    main()
