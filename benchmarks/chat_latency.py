"""The chat as a user meets it: seconds from `python ui.py` to the first answer, then the reply latency
of questions sent one at a time through the /chat endpoint with gradio_client.

    python benchmarks/chat_latency.py [--questions 20] [--cold] [--out benchmarks/results/chat.json]

`--cold` starts with an empty cache (`CITEQA_CACHE` in a temporary folder): the bundled index and the
ONNX files are built first, as on a fresh machine. Measure on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.answer_latency import QUESTIONS, percentile  # noqa: E402
from benchmarks.machine import machine_info  # noqa: E402

MORE_QUESTIONS = [
    "What did Musk call Sam Altman?",
    "How much does SoftBank have secured, according to Musk?",
    "Where did Musk and Trump watch the sixth Starship test flight?",
    "In what year did Musk co-found OpenAI with Altman?",
    "Which company will take on the venture's financial responsibility?",
    "Who will assume operational duties for Stargate?",
    "What did Altman call Stargate?",
    "Who does Musk call a liar?",
    "What did Trump call the deal a day before?",
    "Who took the photo of Musk and Trump in Brownsville?",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--cold", action="store_true", help="start from an empty cache (index and ONNX files built first)")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from gradio_client import Client

    questions = (QUESTIONS + MORE_QUESTIONS)[: args.questions]
    port = free_port()
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    cache = tempfile.TemporaryDirectory(prefix="citeqa-cold-") if args.cold else None
    if cache is not None:
        env["CITEQA_CACHE"] = cache.name
    url = f"http://127.0.0.1:{port}/"
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "ui.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        client = None
        while client is None:
            if server.poll() is not None:
                raise SystemExit(f"ui.py exited with {server.returncode}: {server.stderr.read()[-2000:]}")
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"no chat at {url} after {args.timeout:.0f} s")
            try:
                client = Client(url, verbose=False)
            except Exception:
                time.sleep(0.2)
        first_reply = client.predict(questions[0], api_name="/chat")
        to_first_answer = time.perf_counter() - started
        latencies, replies = [], []
        for question in questions:
            began = time.perf_counter()
            reply = client.predict(question, api_name="/chat")
            latencies.append(1000 * (time.perf_counter() - began))
            replies.append(reply if isinstance(reply, str) else json.dumps(reply))
    finally:
        server.terminate()
        server.wait(timeout=30)
        if cache is not None:
            cache.cleanup()
    result = {
        "cold_cache": args.cold,
        "seconds_to_first_answer": round(to_first_answer, 2),
        "questions": len(latencies),
        "reply_ms": {"p50": round(percentile(latencies, 0.5), 1), "p95": round(percentile(latencies, 0.95), 1),
                     "mean": round(statistics.mean(latencies), 1)},
        "first_reply": first_reply if isinstance(first_reply, str) else json.dumps(first_reply),
        "machine": machine_info(),
    }
    print(f"{'cold' if args.cold else 'warm'} cache: {to_first_answer:.1f} s from `python ui.py` to the first answer; "
          f"/chat reply p50 {result['reply_ms']['p50']} ms, p95 {result['reply_ms']['p95']} ms over {len(latencies)} questions")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        existing = json.loads(args.out.read_text()) if args.out.exists() else {}
        existing["cold" if args.cold else "warm"] = result
        args.out.write_text(json.dumps(existing, indent=2) + "\n")


if __name__ == "__main__":
    main()
