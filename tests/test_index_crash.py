"""SIGKILL `citeqa index` at several moments of a write: the previous index stays whole, the next run succeeds."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.chunking import ChunkingSettings

from embeddings.index import DocumentIndex, update_index

ROOT = Path(__file__).resolve().parent.parent


def wait_for(condition, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.002)
    return False


def tmp_generation_has(root: Path, name: str | None):
    def check():
        for folder in root.glob("gen-*.tmp"):
            if name is None or (folder / name).exists():
                return True
        return False

    return check


STAGES = {
    "at start": lambda root: (lambda: True),
    "while embedding": lambda root: tmp_generation_has(root, "chunks.sqlite"),
    "while writing vectors": lambda root: tmp_generation_has(root, "vectors.faiss"),
    "while writing the manifest": lambda root: tmp_generation_has(root, "manifest.json"),
}


@pytest.mark.slow
def test_sigkill_at_any_stage_keeps_the_previous_index(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=ChunkingSettings(max_words=20))
    before = DocumentIndex.open(root)
    expected_docs, expected_chunks = set(before.documents()), len(before)
    before.close()

    folder = tmp_path / "new-docs"
    folder.mkdir()
    for n in range(60):  # enough text that the write takes a moment
        (folder / f"doc{n:02d}.txt").write_text(
            f" date 2025-01-{n % 28 + 1:02d}\n" + " ".join(f"Article {n} sentence {i} about topic {n * i}." for i in range(40)),
            encoding="utf-8",
        )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    stages_hit = []
    for stage, condition in STAGES.items():
        process = subprocess.Popen([sys.executable, "-m", "qa.cli", "index", str(folder), "--index", str(root)],
                                   env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_for(condition(root)) and process.poll() is None:
            stages_hit.append(stage)
        process.send_signal(signal.SIGKILL)
        process.wait()
        index = DocumentIndex.open(root)  # verifies every checksum
        assert set(index.documents()) == expected_docs, stage
        assert len(index) == expected_chunks, stage
        index.close()
    assert len(stages_hit) >= 3, stages_hit

    finished = subprocess.run([sys.executable, "-m", "qa.cli", "index", str(folder), "--index", str(root)],
                              env=env, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    index = DocumentIndex.open(root)
    assert len(index.documents()) == 61
    assert not list(root.glob("gen-*.tmp")) and len(list(root.glob("gen-*"))) == 2  # the live generation and the one before it
