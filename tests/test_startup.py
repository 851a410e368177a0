"""Fast start: tokenizers loaded without torch (the same ones AutoTokenizer loads), ONNX Runtime's thread count
without torch, what a first run builds and says, gradio imported without rewriting its stubs, the chat's models
loading while its page is built, and the memory an upload's embedding leaves handed back."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ui
from embeddings.fast_tokenizer import load_tokenizer, loads_without_torch
from embeddings.models import default_embedding_model_path
from embeddings.onnx_graph import torch_thread_count
from qa.answering.reader import SHIPPED_READER
from qa.cli import first_run

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "In which city is the Stargate data center being built?"
PASSAGE = ("Earlier this week, the president publicized a new Stargate venture. The new entity will start building "
           "a data center in Abilene, Texas, with an initial investment of $100 billion. Ünïcödé — 東京 ✓ ") * 6


# -- tokenizers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["shipped reader", "embedding model", "tiny reader"])
def test_the_tokenizer_is_the_one_autotokenizer_loads(which, tiny_reader_dir):
    from transformers import AutoTokenizer

    folder = {"shipped reader": SHIPPED_READER, "embedding model": default_embedding_model_path(),
              "tiny reader": tiny_reader_dir}[which]
    assert loads_without_torch(folder)
    mine, auto = load_tokenizer(folder), AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    assert type(mine) is type(auto) and mine.is_fast
    settings = {"truncation": "only_second", "max_length": 64, "stride": 16, "return_overflowing_tokens": True,
                "return_offsets_mapping": True, "padding": False}
    pairs = ([QUESTION, "Who?"], [PASSAGE, "SoftBank funds it."])
    a, b = mine(*pairs, **settings), auto(*pairs, **settings)
    assert {k: a[k] for k in a} == {k: b[k] for k in b}
    assert [a.sequence_ids(i) for i in range(len(a["input_ids"]))] == [b.sequence_ids(i) for i in range(len(b["input_ids"]))]
    assert mine([PASSAGE.lower()], truncation=True, max_length=128)["input_ids"] == \
        auto([PASSAGE.lower()], truncation=True, max_length=128)["input_ids"]


@pytest.mark.parametrize("tokenizer_config, config", [
    ({}, {"model_type": "bert"}),  # no class named: AutoTokenizer decides
    ({"tokenizer_class": "RobertaTokenizer"}, {"model_type": "roberta"}),
    ({"tokenizer_class": "BertTokenizer"}, {"model_type": "roberta"}),  # not a BERT-family model
    ({"tokenizer_class": "BertTokenizer", "auto_map": {"AutoTokenizer": ["x.Y", None]}}, {"model_type": "bert"}),
    ({"tokenizer_class": "BertTokenizer"}, {"model_type": "bert", "auto_map": {"AutoConfig": "x.Y"}}),
    ({"tokenizer_class": "BertTokenizer"}, None),  # no config.json
])
def test_other_folders_go_through_autotokenizer(tmp_path, tokenizer_config, config):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    assert not loads_without_torch(tmp_path)


def test_bert_fast_and_bert_family_folders_load_without_torch(tmp_path):
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizerFast"}))
    for model_type in ("bert", "distilbert", "electra"):
        (tmp_path / "config.json").write_text(json.dumps({"model_type": model_type}))
        assert loads_without_torch(tmp_path)


def test_onnx_runtime_threads_follow_torch_without_importing_it(monkeypatch):
    import torch

    assert torch_thread_count() == torch.get_num_threads()
    monkeypatch.setitem(sys.modules, "torch", None)  # as in a process that never imported torch
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert torch_thread_count() == 3
    monkeypatch.delenv("OMP_NUM_THREADS")
    monkeypatch.setenv("MKL_NUM_THREADS", "2")
    assert torch_thread_count() == 2
    monkeypatch.delenv("MKL_NUM_THREADS")
    assert 1 <= torch_thread_count() <= (os.cpu_count() or 1)


@pytest.mark.slow
def test_answering_with_onnx_models_imports_no_torch(tmp_path):
    """The shipped reader (onnx-int8) and the embedder (onnx): a warm process answers without torch."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-m", "qa.cli", "ask", QUESTION], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # builds what the cache may lack (with torch), in its own process
    script = (f"import sys; from qa import answer; a = answer({QUESTION!r}); "
              "print(a.text, sorted(m for m in ('torch', 'sentence_transformers') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    assert done.stdout.strip() == "Abilene, Texas []"


# -- what a first run builds --------------------------------------------------------------------------


def test_a_step_is_one_line_with_its_time():
    out = io.StringIO()
    seconds = first_run.run_step("building the thing (once)", lambda: None, out)
    assert out.getvalue() == f"citeqa: building the thing (once)… {seconds:.1f} s\n"
    out = io.StringIO()
    with pytest.raises(RuntimeError, match="disk full"):
        first_run.run_step("building the thing", lambda: (_ for _ in ()).throw(RuntimeError("disk full")), out)
    assert out.getvalue() == "citeqa: building the thing… failed\n"


def test_prepare_builds_only_what_is_missing_in_order(monkeypatch):
    from qa.answering import onnx_export
    from qa.answering.config import Config
    from qa.indexing import stores

    done = []

    class FakeEmbedder:
        @property
        def onnx_encoder(self):
            done.append("embedder graph")

    class FakeReader:
        backend, model_dir = "onnx-int8", Path("reader")

    monkeypatch.setattr(stores, "ensure_bundled_index", lambda target, embedder: done.append("bundled index"))
    monkeypatch.setattr(onnx_export, "ensure_onnx", lambda model_dir, backend: done.append(f"reader {backend}"))
    for name, missing in (("embedder_graph_missing", True), ("bundled_index_missing", True), ("reader_graph_missing", True)):
        monkeypatch.setattr(first_run, name, lambda *args, missing=missing: missing)
    out = io.StringIO()
    steps = first_run.prepare(Config(), FakeEmbedder(), FakeReader(), out)
    assert done == ["embedder graph", "bundled index", "reader onnx-int8"]
    lines = out.getvalue().splitlines()
    assert [line.rsplit("… ", 1)[0] for line in lines] == [
        "citeqa: building the embedding model's ONNX graph (once)",
        "citeqa: building the bundled articles' index (2 documents)",
        "citeqa: building the reader's onnx-int8 graph (once)",
    ]
    assert all(line.endswith(" s") for line in lines) and [s for s, _ in steps] == [line[8:].rsplit("… ", 1)[0] for line in lines]
    monkeypatch.setattr(first_run, "bundled_index_missing", lambda *args: False)
    monkeypatch.setattr(first_run, "embedder_graph_missing", lambda *args: False)
    monkeypatch.setattr(first_run, "reader_graph_missing", lambda *args: False)
    out = io.StringIO()
    assert first_run.prepare(Config(), FakeEmbedder(), FakeReader(), out) == [] and out.getvalue() == ""


def test_nothing_is_built_for_an_index_folder_that_is_not_there(tmp_path, monkeypatch):
    from qa.answering.config import Config

    monkeypatch.setattr(first_run, "embedder_graph_missing", lambda *args: pytest.fail("nothing should be checked"))
    out = io.StringIO()
    assert first_run.prepare(Config(index_dir=str(tmp_path / "nowhere")), object(), object(), out) == []
    assert out.getvalue() == ""


def test_a_warm_cache_needs_nothing(embedder, built_index, tiny_reader_dir, tmp_path, monkeypatch):
    from qa.answering.config import Config
    from qa.answering.pipeline import reader_from_config

    embedder.encode(["loaded"])
    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path / "empty-cache"))  # a loaded embedder needs no file
    config = Config(index_dir=str(built_index), reader_model=str(tiny_reader_dir))  # not the bundled index
    reader = reader_from_config(config)  # the tiny reader runs in torch: no graph to build
    assert not first_run.embedder_graph_missing(embedder)
    assert not first_run.bundled_index_missing(config, embedder)
    assert not first_run.reader_graph_missing(reader)
    out = io.StringIO()
    assert first_run.prepare(config, embedder, reader, out) == [] and out.getvalue() == ""
    assert first_run.bundled_index_missing(Config(), embedder)  # an empty cache has no bundled index


def test_an_fp32_index_warms_the_fp32_graph_it_will_be_searched_with(fp32_embedder, documents, tmp_path):
    """`auto` embeds new indexes in int8 but searches an fp32 index in fp32: that graph is the one to build."""
    from embeddings.embedder import Embedder
    from embeddings.index import update_index
    from qa.answering.config import Config

    folder = tmp_path / "fp32-index"
    update_index(folder, fp32_embedder, add=documents[:1])
    auto = Embedder(fp32_embedder.model_path)
    searching = first_run.searching_embedder(Config(index_dir=str(folder)).index_target, auto)
    assert auto.backend == "onnx-int8" and searching.backend == "onnx" and searching.name == fp32_embedder.name
    (folder / "CURRENT").write_text("gen-nonsense\n")  # unreadable: opening it will say so, not the warm-up
    assert first_run.searching_embedder(Config(index_dir=str(folder)).index_target, auto) is auto


# -- the chat's start ---------------------------------------------------------------------------------


def test_gradio_is_imported_without_rewriting_its_stubs():
    script = ("import ui, sys; gr = ui.import_gradio(); import gradio.component_meta as meta; "
              "print(gr is sys.modules['gradio'], meta.create_or_modify_pyi.__name__, "
              "any(type(f).__name__ == '_NoStubRewrite' for f in sys.meta_path)); "
              "b = gr.Blocks(); print(type(b).__name__)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
                          env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
    assert done.stdout.split() == ["True", "<lambda>", "False", "Blocks"]


def test_in_background_returns_the_result_or_raises_the_error():
    assert ui.in_background(lambda a, b: a + b, 2, 3)() == 5
    with pytest.raises(ValueError, match="nope"):
        ui.in_background(lambda: (_ for _ in ()).throw(ValueError("nope")))()


def test_an_upload_s_embedding_memory_is_handed_back(embedder):
    if not embedder.backend.startswith("onnx"):
        pytest.skip("the ONNX embedder holds its batches' buffers; torch frees them itself")
    texts = ["The harbour master counted ships in the bay."] * 3
    before = embedder.encode(texts)
    session = embedder.onnx_encoder
    ui.release_indexing_memory(embedder)
    assert embedder.onnx_encoder is not session  # a fresh session, loaded at once
    np.testing.assert_array_equal(embedder.encode(texts), before)
