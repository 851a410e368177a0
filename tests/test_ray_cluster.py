"""`citeqa index --ray ADDRESS`: join a running two-node Ray cluster started the way operators do (`ray start`),
and write the same index as the plain path.

Both nodes run on this machine (two raylets, each `--num-cpus 1`), on free ports, with their own short temp dir,
no dashboard, and token authentication with their own token (`RAY_AUTH_MODE=token`, `RAY_AUTH_TOKEN_PATH`), so two
test runs cannot collide and `~/.ray/auth_token` is neither read nor written. Ray turns token auth on for a head
started where `~/.ray/auth_token` exists, but not for `ray start --address` or `ray.init(address=...)`: the nodes and
the `citeqa` driver get the mode and the token through the environment, as on a real cluster. Each `ray start` runs in a new session; the teardown ends
exactly the processes of those sessions (by process id, never `ray stop`, which ends every Ray process of the
user, a parallel run's included), even when the test fails, and checks that none is left.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data", reason='Ray indexing needs pip install "citeqa[ray]"')

from conftest import ARTICLES

from embeddings.index import DocumentIndex

pytestmark = pytest.mark.slow  # starting two Ray nodes takes tens of seconds

ROOT = Path(__file__).resolve().parent.parent
RAY = str(Path(sys.executable).with_name("ray"))


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _session_processes(sessions: set[int]) -> list[tuple[int, str]]:
    """(pid, command) of every live process in the given sessions, from ps."""
    out = subprocess.run(["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        pid, sid, stat, *args = line.split(None, 3)
        if int(sid) in sessions and int(pid) != os.getpid() and not stat.startswith("Z"):
            found.append((int(pid), " ".join(args)))
    return found


def _end_sessions(sessions: set[int], wait: float = 15.0) -> list[tuple[int, str]]:
    """SIGTERM, then SIGKILL, every process of the sessions by id; returns those still alive (should be none)."""
    for sig, grace in ((signal.SIGTERM, wait), (signal.SIGKILL, 5.0)):
        for pid, _ in _session_processes(sessions):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while _session_processes(sessions) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not _session_processes(sessions):
            break
    return _session_processes(sessions)


class Cluster:
    """Ray nodes started with `ray start` on this machine; `address` is the head's GCS address."""

    def __init__(self, temp_dir: str):
        self.temp_dir = temp_dir
        self.sessions: set[int] = set()
        self.address = ""
        token = Path(temp_dir) / "auth_token"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        self.env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                    "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                    # the worker image has citeqa installed; here the nodes' workers import it from the checkout
                    "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}

    def start(self, num_cpus: int, *, head: bool) -> None:
        ports = iter(_free_ports(8))
        command = [RAY, "start", "--num-cpus", str(num_cpus), "--node-ip-address", "127.0.0.1",
                   "--object-store-memory", str(200 * 1024 * 1024), "--disable-usage-stats",
                   "--node-manager-port", str(next(ports)), "--object-manager-port", str(next(ports)),
                   "--dashboard-agent-listen-port", str(next(ports)), "--dashboard-agent-grpc-port", str(next(ports)),
                   "--runtime-env-agent-port", str(next(ports)), "--metrics-export-port", str(next(ports)),
                   "--min-worker-port", "0", "--max-worker-port", "0"]
        if head:
            port = next(ports)
            self.address = f"127.0.0.1:{port}"
            command += ["--head", "--port", str(port), "--ray-client-server-port", str(next(ports)),
                        "--include-dashboard=false", "--temp-dir", self.temp_dir]
        else:
            command += ["--address", self.address]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env,
                                   cwd=self.temp_dir, start_new_session=True)
        self.sessions.add(process.pid)  # its daemons (GCS, raylet, workers) stay in this session after it exits
        out, _ = process.communicate(timeout=180)
        assert process.returncode == 0, f"{' '.join(command)} failed:\n{out[-3000:]}"

    def nodes(self) -> int:
        """How many alive nodes the cluster lists, asked from a separate driver process."""
        probe = (f"import ray; ray.init(address={self.address!r}, logging_level='error', log_to_driver=False); "
                 "print(sum(n['Alive'] for n in ray.nodes()))")
        run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=self.env, timeout=120,
                             check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        return int(run.stdout.strip().splitlines()[-1])


@pytest.fixture
def two_node_cluster():
    temp_dir = tempfile.mkdtemp(prefix="rt", dir="/tmp")  # short: Ray's socket paths live under it
    cluster = Cluster(temp_dir)
    try:
        cluster.start(1, head=True)
        cluster.start(1, head=False)
        yield cluster
    finally:
        left = _end_sessions(cluster.sessions)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"Ray processes left running: {left}"


def _contents(folder: Path) -> tuple[dict, dict]:
    """An index's documents, and per (doc_id, chunk_id) its chunk (text, offsets) and vector."""
    index = DocumentIndex.open(folder)
    try:
        ids = index.search_vectors(np.ones((1, index.vectors.dimension), dtype=np.float32), len(index)).ids[0].tolist()
        assert len(ids) == len(index)
        chunks = index.chunks(ids)
        by_key = {(c.doc_id, c.chunk_id): ((c.text, c.start, c.end), index.vectors._index.reconstruct(i))
                  for i, c in chunks.items()}
        documents = {doc_id: (d.title, d.date, d.source, d.url, d.page_starts, d.chunks)
                     for doc_id, d in index.documents().items()}
        return documents, by_key
    finally:
        index.close()


def test_cli_joins_a_running_two_node_cluster(two_node_cluster, tmp_path, embedder):
    from qa.cli.main import main

    assert two_node_cluster.nodes() == 2
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    for number, (title, text) in enumerate(ARTICLES.values()):
        (folder / ("sub" if number % 2 else "") / f"{number}.md").write_text(f"# {title}\n\n{text}\n")
    (folder / "notes.txt").write_text("Title: Notes\nDate: 2025-02-01\n\n" + " ".join(
        f"Sentence number {n} of the notes mentions item {n * 7}." for n in range(40)) + "\n")

    # the driver as an operator runs it: its own process, Ray's auth settings in its environment
    command = [sys.executable, "-m", "qa.cli", "index", str(folder), "--index", str(tmp_path / "ray"), "--chunk-words", "25",
               "--ray", two_node_cluster.address]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=two_node_cluster.env, timeout=300,
                         check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "added 4 documents" in run.stdout and "from 4 files, 0 failed" in run.stdout, run.stdout
    assert main(["index", str(folder), "--index", str(tmp_path / "plain"), "--chunk-words", "25"], embedder=embedder) == 0

    ray_documents, ray_chunks = _contents(tmp_path / "ray")
    plain_documents, plain_chunks = _contents(tmp_path / "plain")
    assert len(ray_documents) == 4 and ray_documents.keys() == plain_documents.keys()
    assert any("/" in source for _, _, source, *_ in plain_documents.values())  # a file in a subfolder: sub/1.md
    for doc_id, facts in plain_documents.items():
        assert ray_documents[doc_id] == facts  # the source too: the path under the folder, as the plain sync names it
    assert len(ray_chunks) > 8 and ray_chunks.keys() == plain_chunks.keys()
    for key, (chunk, vector) in plain_chunks.items():
        assert ray_chunks[key][0] == chunk
        np.testing.assert_allclose(ray_chunks[key][1], vector, atol=1e-5)
    assert two_node_cluster.nodes() == 2  # the driver left the cluster running, as it found it
