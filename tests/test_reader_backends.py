"""The fast reader paths (ONNX fp32, ONNX int8) against the PyTorch reference, on a real tiny model."""

import json
import shutil

import numpy as np
import pytest

from corpus.documents import Chunk
from embeddings.passage_index import StoredDocument
from qa.cli import main
from qa.answering.config import Config
from qa.answering.onnx_export import cached_onnx_path, export_onnx, narrowing_matmuls, reader_digest
from qa.answering.reader import ExtractiveReader, resolve_backend
from qa.answering.types import Passage

TEXTS = [
    "The Stargate data center is being built in Abilene, Texas, by OpenAI, Oracle and SoftBank.",
    "Marie Curie won the Nobel Prize in Physics in 1903 and in Chemistry in 1911.",
    "The river Thames flows through London and reaches the North Sea at its estuary.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen in plants.",
    "The first Olympic Games of the modern era were held in Athens in 1896.",
]
QUESTIONS = ["Where is the data center?", "When did Curie win?", "Where does the Thames flow?",
             "What does photosynthesis make?", "Where were the games held?", "Who built it?"]


def passages():
    document = StoredDocument("d", "Doc", None, "doc.txt", None, (0,), len(TEXTS), ("doc.txt",))
    return [Passage(chunk=Chunk("d", i, text, 0, len(text)), document=document, score=1.0, rank=i + 1)
            for i, text in enumerate(TEXTS)]


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture()
def reader_copy(tiny_reader_dir, tmp_path):
    folder = tmp_path / "reader"
    shutil.copytree(tiny_reader_dir, folder)
    return folder


def test_onnx_fp32_gives_the_reference_spans(tiny_reader_dir, cache):
    reference = ExtractiveReader(tiny_reader_dir, backend="torch")
    fast = ExtractiveReader(tiny_reader_dir, backend="onnx")
    for question in QUESTIONS:
        expected = reference.read(question, passages(), top_n=3)
        got = fast.read(question, passages(), top_n=3)
        assert [(s.passage.rank, s.start, s.end) for s in got[:5]] == [(s.passage.rank, s.start, s.end) for s in expected[:5]]
        np.testing.assert_allclose([s.score for s in got], [s.score for s in expected], atol=1e-4)
    assert cached_onnx_path(tiny_reader_dir, "onnx").is_file()
    assert cached_onnx_path(tiny_reader_dir, "onnx").is_relative_to(cache)


def test_int8_agrees_with_fp32_on_the_best_span(tiny_reader_dir, cache):
    reference = ExtractiveReader(tiny_reader_dir, backend="torch")
    int8 = ExtractiveReader(tiny_reader_dir, backend="onnx-int8")
    agree, diffs = 0, []
    for question in QUESTIONS:
        expected = reference.read(question, passages(), top_n=3)
        got = int8.read(question, passages(), top_n=3)
        agree += (got[0].passage.rank, got[0].start, got[0].end) == (expected[0].passage.rank, expected[0].start, expected[0].end)
        diffs.append(abs(got[0].score - expected[0].score))
        assert all(s.text == s.passage.chunk.text[s.start:s.end] for s in got)
    assert agree >= len(QUESTIONS) - 1
    assert max(diffs) < 0.05


def test_export_is_reproducible_and_int8_is_smaller(tiny_reader_dir, tmp_path):
    first = export_onnx(tiny_reader_dir, tmp_path / "a.onnx")
    second = export_onnx(tiny_reader_dir, tmp_path / "b.onnx")
    fp32 = export_onnx(tiny_reader_dir, tmp_path / "fp32.onnx", quantize=False)
    assert first.read_bytes() == second.read_bytes()
    assert first.stat().st_size < fp32.stat().st_size
    assert not list(tmp_path.glob(".onnx-*")), "the work folder is removed"


def test_int8_keeps_the_narrowing_matmuls_fp32(tiny_reader_dir, tmp_path):
    import onnx

    fp32 = onnx.load(str(export_onnx(tiny_reader_dir, tmp_path / "fp32.onnx", quantize=False)))
    narrowing = narrowing_matmuls(fp32)
    # 2 layers: each feed-forward down-projection (64 -> 32) and the span head (32 -> 2); not the
    # up-projections (32 -> 64) nor the attention output (32 -> 32)
    assert len(narrowing) == 3 and any("qa_outputs" in name for name in narrowing)
    int8 = onnx.load(str(export_onnx(tiny_reader_dir, tmp_path / "int8.onnx")))
    matmuls = {n.name: n.op_type for n in int8.graph.node if n.op_type.startswith("MatMul")}
    assert {name for name, op in matmuls.items() if op == "MatMul"} == set(narrowing)
    assert any(op == "MatMulInteger" for op in matmuls.values())


def test_cache_key_follows_the_weights(reader_copy):
    before = reader_digest(reader_copy)
    config = json.loads((reader_copy / "config.json").read_text())
    config["citeqa"]["no_answer_threshold"] = 1.5
    (reader_copy / "config.json").write_text(json.dumps(config))
    assert reader_digest(reader_copy) == before  # a refitted threshold is read beside the graph, not in it
    with (reader_copy / "model.safetensors").open("ab") as fh:
        fh.write(b"\0")
    assert reader_digest(reader_copy) != before


def test_auto_uses_the_backend_recorded_for_the_model(reader_copy, cache, capsys):
    assert resolve_backend(reader_copy, "auto") == "torch"
    assert main(["quantize-reader", "--reader", str(reader_copy), "--set-default"]) == 0
    assert "citeqa.backend = onnx-int8" in capsys.readouterr().out
    assert resolve_backend(reader_copy, "auto") == "onnx-int8"
    assert resolve_backend(reader_copy, "torch") == "torch"
    assert ExtractiveReader(reader_copy).backend == "onnx-int8"
    assert json.loads((reader_copy / "config.json").read_text())["citeqa"]["no_answer_threshold"] == -100.0


def test_a_model_shipping_its_onnx_file_uses_it(reader_copy, cache):
    export_onnx(reader_copy, reader_copy / "model.int8.onnx")
    assert cached_onnx_path(reader_copy, "onnx-int8") == reader_copy / "model.int8.onnx"
    spans = ExtractiveReader(reader_copy, backend="onnx-int8").read(QUESTIONS[0], passages())
    assert spans and not cache.exists()


def test_bad_backend_names_are_refused(tiny_reader_dir, capsys):
    with pytest.raises(ValueError, match="unknown reader backend 'gpu'"):
        ExtractiveReader(tiny_reader_dir, backend="gpu")
    with pytest.raises(ValueError, match="unknown reader backend 'fp8'"):
        Config(reader_backend="fp8")
    with pytest.raises(SystemExit):
        main(["ask", "question?", "--reader-backend", "fp8"])
    assert "invalid choice: 'fp8'" in capsys.readouterr().err
