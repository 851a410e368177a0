"""`citeqa index --ray --store milvus` as a user runs it: a fresh process that starts Ray itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray.data", reason='Ray indexing needs pip install "citeqa[ray]"')
pytest.importorskip("pymilvus", reason='the Milvus store needs pip install "citeqa[milvus]"')

from conftest import ARTICLES  # noqa: E402

from qa.answering.config import Config  # noqa: E402
from qa.indexing.stores import open_index  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_cli_starts_ray_and_writes_milvus(tmp_path, embedder):
    """The whole user path in one process: Ray started by the command, chunks written to Milvus Lite."""
    folder = tmp_path / "corpus"
    folder.mkdir()
    for number, (title, text) in enumerate(ARTICLES.values()):
        (folder / f"{number}.md").write_text(f"# {title}\n\n{text}\n")
    uri = str(tmp_path / "m.db")
    command = [sys.executable, "-m", "qa.cli", "index", str(folder), "--ray", "--workers", "1",
               "--store", "milvus", "--store-uri", uri, "--index", "news", "--chunk-words", "25"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "added 3 documents" in run.stdout and "by 1 Ray worker," in run.stdout
    index = open_index(Config(store="milvus", store_uri=uri, index_dir="news", chunk_words=25).index_target, embedder)
    assert sorted(d.title for d in index.documents().values()) == sorted(t for t, _ in ARTICLES.values())
