"""`citeqa index --ray` on a local Ray instance: the same index as the plain path, and every failed file reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("ray.data", reason='Ray indexing needs pip install "citeqa[ray]"')
pytest.importorskip("pymilvus", reason='the Milvus store needs pip install "citeqa[milvus]"')

from conftest import ARTICLES  # noqa: E402

from qa.answering.config import Config  # noqa: E402
from qa.indexing.stores import open_index, write_index  # noqa: E402

pytestmark = pytest.mark.slow  # starting Ray takes tens of seconds


@pytest.fixture(scope="module")
def local_ray():
    import ray

    from qa.indexing.ray_indexing import _local_runtime_env

    ray.init(num_cpus=3, include_dashboard=False, runtime_env=_local_runtime_env(), log_to_driver=False, logging_level="warning")
    yield ray
    ray.shutdown()


@pytest.fixture
def corpus(tmp_path):
    """Three articles (two as text files, one as a JSONL record), a copy, a broken JSON file and a bad JSONL record."""
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (stargate_title, stargate), (volcano_title, volcano), (chess_title, chess) = ARTICLES.values()
    (folder / "stargate.txt").write_text(f"Title: {stargate_title}\nDate: 2025-01-24\n\n{stargate}\n")
    (folder / "sub" / "volcano.md").write_text(f"# {volcano_title}\n\n{volcano}\n")
    (folder / "records.jsonl").write_text(json.dumps({"title": chess_title, "text": chess}) + "\n" + json.dumps({"title": "no text"}) + "\n")
    (folder / "copy.txt").write_text(f"Title: {stargate_title}\nDate: 2025-01-24\n\n{stargate}\n")
    (folder / "broken.json").write_text("{not json")
    return folder


@pytest.mark.parametrize("store", ["faiss", "milvus"])
def test_ray_index_equals_the_plain_path(local_ray, corpus, tmp_path, embedder, store):
    from corpus.loaders import load_path
    from qa.indexing.ray_indexing import index_with_ray

    def config(name):
        if store == "faiss":
            return Config(index_dir=str(tmp_path / name), chunk_words=25)
        return Config(store="milvus", store_uri=str(tmp_path / "m.db"), index_dir=name, chunk_words=25)

    result = index_with_ray(config("ray").index_target, [str(corpus)], workers=2, embedder=embedder, documents_per_batch=1)
    assert (result.files, result.documents, result.workers) == (5, 3, 2)
    failed = dict(result.failed)
    assert set(failed) == {str(corpus / "broken.json"), f"{corpus / 'records.jsonl'}:2"}
    assert "invalid JSON" in failed[str(corpus / "broken.json")]
    assert len(result.duplicates) == 1 and result.duplicates[0][0] in ("copy.txt", "stargate.txt")  # whichever came second

    write_index(config("plain").index_target, embedder, add=load_path(corpus).documents)
    ray_index, plain_index = open_index(config("ray").index_target, embedder), open_index(config("plain").index_target, embedder)
    assert result.chunks == len(ray_index) == len(plain_index)
    assert ray_index.documents().keys() == plain_index.documents().keys()
    for question in ("Which town was evacuated?", "How much money will be invested?", "Who won the final game?"):
        vector = embedder.encode([question])
        ray_hits, plain_hits = ray_index.search_vectors(vector, 5), plain_index.search_vectors(vector, 5)
        ray_chunks, plain_chunks = ray_index.chunks(ray_hits.ids[0].tolist()), plain_index.chunks(plain_hits.ids[0].tolist())
        assert [ray_chunks[i] for i in ray_hits.ids[0]] == [plain_chunks[i] for i in plain_hits.ids[0]]
        np.testing.assert_allclose(ray_hits.scores, plain_hits.scores, atol=1e-4)


def test_cli_index_ray_reports_failures(local_ray, corpus, tmp_path, capsys):
    from qa.cli import main

    code = main(["index", str(corpus), "--ray", "--workers", "1", "--index", str(tmp_path / "idx"), "--chunk-words", "25"])
    out, err = capsys.readouterr()
    assert code == 0
    assert "added 3 documents" in out and "from 5 files, 2 failed" in out
    assert f"failed {corpus / 'broken.json'}: invalid JSON" in err
    assert main(["index", str(corpus), "--workers", "2", "--index", str(tmp_path / "idx")]) == 2
    assert "--workers is for --ray" in capsys.readouterr().err


def test_a_file_in_a_subfolder_keeps_its_path_as_source(local_ray, tmp_path, embedder):
    from corpus.loaders import load_path
    from qa.indexing.ray_indexing import index_with_ray, listed_files

    folder = tmp_path / "notes"
    (folder / "2024" / "march").mkdir(parents=True)
    (folder / "top.txt").write_text("The harbour opened in spring. Ships came from the north.\n", encoding="utf-8")
    (folder / "2024" / "march" / "budget.txt").write_text("The budget grew by four percent this year.\n", encoding="utf-8")
    alone = tmp_path / "alone.txt"
    alone.write_text("A file given on its own keeps its own name.\n", encoding="utf-8")
    assert list(listed_files([folder, alone]).values()) == [folder.resolve(), folder.resolve(), None]
    target = Config(index_dir=str(tmp_path / "idx"), chunk_words=25).index_target
    index_with_ray(target, [str(folder), str(alone)], workers=1, embedder=embedder)
    sources = sorted(d.source for d in open_index(target, embedder).documents().values())
    assert sources == ["2024/march/budget.txt", "alone.txt", "top.txt"]
    assert sources == sorted(d.source for d in load_path(folder, alone).documents)  # as the plain path names them
