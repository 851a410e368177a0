"""Start-up time and memory of the chat and of `citeqa ask`, each in a fresh process, as a user meets them.

    python benchmarks/startup.py [--runs 3] [--cold-runs 1] [--only ui|ask] [--label NAME]
                                 [--baseline DIR --baseline-label NAME] [--out benchmarks/results/startup.json]

For `python ui.py`: seconds until the server answers HTTP (`ready`), seconds until the first answer comes
back through gradio_client's `/ask` (`first_answer`, both from the process start), the CPU seconds the server
had used at both points (`cpu_…`: what a busy machine does not inflate), its peak resident memory (VmHWM) and its
resident memory after that answer (VmRSS). For `citeqa ask QUESTION`: seconds until it has printed the answer and
exited, its CPU seconds, and its peak resident memory.

Every run uses its own cache folder (`CITEQA_CACHE` in a temporary folder): a cold run starts with it empty (the
bundled index and the ONNX graphs are built first, as on a fresh machine; what the process prints on stderr
while preparing is kept in the results), and the warm runs reuse a cache one untimed `citeqa ask` has filled.
Medians over the runs are reported with every run and the load average before each, since a busy machine times
slower. Measure on an otherwise idle machine where you can. `--baseline DIR` measures another checkout too (e.g. the
commit before a change: `git archive COMMIT | tar -x -C DIR`), each of its runs right after the same run here, so
both meet the same load; its figures are stored under `--baseline-label`.
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
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_info  # noqa: E402

QUESTION = "In which city is the Stargate data center being built?"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def status_kib(pid: int, key: str) -> int | None:
    """A memory field of /proc/PID/status (VmRSS, VmHWM) in KiB; None once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def children(pid: int) -> list[int]:
    """The process's children (a server that starts helpers counts their memory too)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            pass
    return found


class MemoryWatch:
    """Samples the resident memory of a process and its children every 50 ms; `peak_mib` is the largest sum seen
    (at least the process's own VmHWM)."""

    def __init__(self, pid: int):
        self.pid, self.peak_kib, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def rss_kib(self) -> int:
        return sum(status_kib(p, "VmRSS") or 0 for p in [self.pid, *children(self.pid)])

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kib = max(self.peak_kib, self.rss_kib())

    def stop(self) -> float:
        own_peak = status_kib(self.pid, "VmHWM") or 0
        self._stop.set()
        self._thread.join()
        return round(max(self.peak_kib, own_peak) / 1024, 1)


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds a running process has used (/proc/PID/stat); None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's reaped children so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def base_env(cache: str) -> dict[str, str]:
    return {**os.environ, "CITEQA_CACHE": cache, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}


def citeqa_command() -> list[str]:
    """`citeqa` as `python -m qa.cli` (the same program), so it runs the code of the checkout it starts in."""
    return [sys.executable, "-m", "qa.cli"]


def stderr_lines(path: Path) -> list[str]:
    text = path.read_text(errors="replace") if path.exists() else ""
    return [line for line in text.splitlines() if line.strip()][-40:]


def run_ask(root: Path, cache: str, timeout: float) -> dict:
    """`citeqa ask QUESTION` in a fresh process: seconds to its exit and its peak resident memory."""
    with tempfile.TemporaryFile("w+") as err:
        before, cpu_before = load(), children_cpu_seconds()
        started = time.perf_counter()
        proc = subprocess.Popen([*citeqa_command(), "ask", QUESTION], cwd=root, env=base_env(cache),
                                stdout=subprocess.PIPE, stderr=err, text=True)
        watch = MemoryWatch(proc.pid)
        try:
            out, _ = proc.communicate(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
        seconds = time.perf_counter() - started
        peak = watch.stop()
        cpu = children_cpu_seconds() - cpu_before
        err.seek(0)
        errors = [line for line in err.read().splitlines() if line.strip()]
    if proc.returncode != 0:
        raise SystemExit(f"citeqa ask exited with {proc.returncode}: {errors[-5:]}")
    return {"seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "peak_rss_mib": peak, "answer": out.strip().splitlines()[0] if out.strip() else "",
            "stderr": errors[-40:], "load_average_before": before}


def run_ui(root: Path, cache: str, timeout: float) -> dict:
    """`python ui.py` in a fresh process: seconds until it answers HTTP, until the first /ask answer; memory."""
    from gradio_client import Client  # imported before the clock starts

    port = free_port()
    env = {**base_env(cache), "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    url = f"http://127.0.0.1:{port}/"
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as err_file:
        before = load()
        started = time.perf_counter()
        server = subprocess.Popen([sys.executable, "ui.py"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                  stderr=err_file, text=True)
        watch = MemoryWatch(server.pid)
        try:
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"ui.py exited with {server.returncode}: {stderr_lines(Path(err_file.name))[-5:]}")
                if time.perf_counter() - started > timeout:
                    raise SystemExit(f"no chat at {url} after {timeout:.0f} s")
                try:
                    with urllib.request.urlopen(url, timeout=5) as response:
                        if response.status == 200:
                            break
                except OSError:
                    time.sleep(0.05)
            ready = time.perf_counter() - started
            cpu_ready = cpu_seconds(server.pid)
            answer = Client(url, verbose=False).predict(QUESTION, api_name="/ask")
            first_answer = time.perf_counter() - started
            cpu_answer = cpu_seconds(server.pid)
            time.sleep(0.5)  # let the request's buffers go
            after = watch.rss_kib()
            peak = watch.stop()
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        lines = stderr_lines(Path(err_file.name))
    return {"ready_s": round(ready, 2), "first_answer_s": round(first_answer, 2), "cpu_ready_s": cpu_ready,
            "cpu_first_answer_s": cpu_answer, "peak_rss_mib": peak,
            "rss_after_answer_mib": mib(after), "answer": answer.get("text") if isinstance(answer, dict) else answer,
            "stderr": lines, "load_average_before": before}


def summary(runs: list[dict], keys: list[str]) -> dict:
    return {key: round(statistics.median(r[key] for r in runs), 2) for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="warm runs of each (default 3)")
    parser.add_argument("--cold-runs", type=int, default=1, help="cold runs of each, empty cache (default 1; 0: none)")
    parser.add_argument("--only", choices=["ui", "ask"], default=None, help="measure only the chat or only citeqa ask")
    parser.add_argument("--label", default="current", help="the key this checkout's figures are stored under in --out")
    parser.add_argument("--baseline", type=Path, default=None, help="another checkout, measured in turn with this one")
    parser.add_argument("--baseline-label", default="baseline", help="the key of the baseline's figures")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "startup.json")
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["ui", "ask"]
    checkouts = {args.label: ROOT}
    if args.baseline is not None:
        if not (args.baseline / "ui.py").is_file():
            raise SystemExit(f"--baseline {args.baseline}: not a citeqa checkout (no ui.py)")
        checkouts[args.baseline_label] = args.baseline.resolve()
    measure = {"ui": run_ui, "ask": run_ask}
    keys = {"ui": ["ready_s", "first_answer_s", "cpu_ready_s", "cpu_first_answer_s", "peak_rss_mib", "rss_after_answer_mib"],
            "ask": ["seconds", "cpu_s", "peak_rss_mib"]}
    runs = {label: {kind: {"warm": [], "cold": []} for kind in kinds} for label in checkouts}
    machine_before = machine_info()

    def one(label: str, kind: str, cache_kind: str, cache: str) -> None:
        result = measure[kind](checkouts[label], cache, args.timeout)
        runs[label][kind][cache_kind].append(result)
        print(f"{label} {kind} {cache_kind}: " + ", ".join(f"{k} {result[k]}" for k in keys[kind]), flush=True)

    with tempfile.TemporaryDirectory(prefix="citeqa-startup-") as work:
        for kind in kinds:
            for n in range(args.cold_runs):
                for label in checkouts:
                    one(label, kind, "cold", str(Path(work) / f"cold-{label}-{kind}-{n}"))
        for label, root in checkouts.items():  # each checkout's warm cache, filled once, untimed
            subprocess.run([*citeqa_command(), "ask", QUESTION], cwd=root, env=base_env(str(Path(work) / f"warm-{label}")),
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(args.runs):
            for kind in kinds:
                for label in checkouts:
                    one(label, kind, "warm", str(Path(work) / f"warm-{label}"))
    machine_after = machine_info()
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    for label in checkouts:
        result: dict = {"question": QUESTION, "checkout": str(checkouts[label]), "machine_before": machine_before,
                        "machine_after": machine_after}
        for kind in kinds:
            result[kind] = {cache: {"median": summary(found, keys[kind]) if found else {}, "runs": found}
                            for cache, found in runs[label][kind].items()}
            for cache in ("warm", "cold"):
                if result[kind][cache]["median"]:
                    print(f"{label} {kind} {cache} median: "
                          + ", ".join(f"{k} {v}" for k, v in result[kind][cache]["median"].items()))
        existing[label] = result
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(existing, indent=2, ensure_ascii=False) + "\n")
    print(f"written to {args.out} under {', '.join(repr(label) for label in checkouts)}")


if __name__ == "__main__":
    main()
