"""The ONNX embedder gives sentence-transformers' vectors; layouts it cannot reproduce stay on torch."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from embeddings.embedder import Embedder
from embeddings.onnx_encoder import SentenceLayout, sentence_layout

TEXTS = [
    "In which city is the Stargate data center being built?",
    "x",
    "   padded with spaces   ",
    "Ünïcödé — naïve café, 東京, emoji 🚀 and ﬁ ligatures.",
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
    "The new entity will start building a data center in Abilene, Texas.\n\nA second paragraph.",
    "Who funds it?",
]


@pytest.fixture(scope="module")
def torch_embedder(embedder):
    return Embedder(embedder.model_path, backend="torch")


def _copy_with_pooling(source, target, **pooling_modes):
    shutil.copytree(source, target)
    config_path = target / "1_Pooling" / "config.json"
    config = json.loads(config_path.read_text())
    config.update(pooling_modes)
    config_path.write_text(json.dumps(config))
    return target


def test_the_default_model_runs_on_onnx_int8_with_its_layout_one_text_per_run(embedder):
    assert (embedder.requested_backend, embedder.backend, embedder.variant) == ("auto", "onnx-int8", "int8")
    assert embedder.batch_size == 1 and Embedder(embedder.model_path, backend="onnx-int8", batch_size=64).batch_size == 1
    assert Embedder(embedder.model_path, backend="onnx").batch_size == 4
    assert sentence_layout(embedder.model_path) == SentenceLayout("mean", 256, False)
    assert embedder.max_tokens == 256 and embedder.dimension == 384


def test_onnx_vectors_equal_sentence_transformers_vectors_in_order(fp32_embedder, torch_embedder):
    small_batches = Embedder(fp32_embedder.model_path, backend="onnx", batch_size=2)  # several batches, mixed lengths
    big_batches = Embedder(fp32_embedder.model_path, backend="onnx", batch_size=64)
    reference = torch_embedder.encode(TEXTS)
    for vectors in (fp32_embedder.encode(TEXTS), small_batches.encode(TEXTS), big_batches.encode(TEXTS)):
        assert vectors.shape == reference.shape and vectors.dtype == np.float32
        assert np.abs(vectors - reference).max() < 1e-5
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_cls_pooling_is_reproduced(embedder, tmp_path):
    folder = _copy_with_pooling(embedder.model_path, tmp_path / "cls-model",
                                pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    assert sentence_layout(folder).pooling == "cls"
    onnx, reference = Embedder(folder, backend="onnx"), Embedder(folder, backend="torch")
    assert np.abs(onnx.encode(TEXTS[:4]) - reference.encode(TEXTS[:4])).max() < 1e-5
    assert np.abs(onnx.encode(TEXTS[:1]) - embedder.encode(TEXTS[:1])).max() > 1e-2  # really another pooling


@pytest.mark.parametrize("change", ["max_pooling", "no_modules", "dense_module", "transformer_in_subfolder"])
def test_layouts_the_onnx_graph_cannot_reproduce_stay_on_torch(embedder, tmp_path, change):
    folder = tmp_path / "model"
    if change == "max_pooling":
        _copy_with_pooling(embedder.model_path, folder, pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    else:
        shutil.copytree(embedder.model_path, folder)
        modules = json.loads((folder / "modules.json").read_text())
        if change == "no_modules":
            (folder / "modules.json").unlink()
        elif change == "dense_module":
            modules.insert(2, {"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"})
        else:
            modules[0]["path"] = "0_Transformer"
        if change != "no_modules":
            (folder / "modules.json").write_text(json.dumps(modules))
    assert sentence_layout(folder) is None
    assert Embedder(folder).backend == "torch"
    with pytest.raises(ValueError, match=f"ONNX backend cannot run {folder}"):
        Embedder(folder, backend="onnx")


def test_unknown_backend_is_named():
    with pytest.raises(ValueError, match="'tpu'.*auto, torch, onnx"):
        Embedder(backend="tpu")


def test_the_onnx_file_is_built_once_and_reused(embedder, tmp_path, monkeypatch):
    from embeddings.onnx_encoder import sentence_onnx_path

    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path))
    first = Embedder(embedder.model_path, backend="onnx")
    first.encode(["warm up"])
    path = sentence_onnx_path(embedder.model_path, sentence_layout(embedder.model_path))
    assert path.is_file() and path.is_relative_to(tmp_path)
    built = path.stat().st_mtime_ns
    assert [p.name for p in path.parent.iterdir()] == ["sentence.onnx"]  # no temporary files left behind
    Embedder(embedder.model_path, backend="onnx").encode(["again"])
    assert path.stat().st_mtime_ns == built


def test_config_names_a_bad_embedding_backend():
    from qa.answering.config import Config, embedder_from_config

    with pytest.raises(ValueError, match="embedding backend 'gpu'"):
        Config(embedding_backend="gpu")
    assert embedder_from_config(Config(embedding_backend="torch")).backend == "torch"


def test_int8_vectors_are_close_to_fp32_but_another_variant(fp32_embedder, int8_embedder):
    embedder = fp32_embedder
    fp32, int8 = embedder.encode(TEXTS), int8_embedder.encode(TEXTS)
    assert int8.shape == fp32.shape and int8.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    cosines = (fp32 * int8).sum(axis=1)
    assert cosines.min() > 0.98, cosines
    assert np.abs(fp32 - int8).max() > 1e-3  # really int8 weights, not the fp32 graph again
    assert (int8_embedder.variant, embedder.variant) == ("int8", "fp32")
    assert int8_embedder.name == f"{embedder.name} (int8)" and int8_embedder.model_name == embedder.name
    assert int8_embedder.dimension == 384 and int8_embedder.max_tokens == 256


def test_int8_graph_is_cached_beside_the_fp32_one_with_int8_weights(embedder, tmp_path, monkeypatch):
    import onnx

    from embeddings.onnx_encoder import sentence_onnx_path

    monkeypatch.setenv("CITEQA_CACHE", str(tmp_path))
    Embedder(embedder.model_path, backend="onnx-int8").encode(["warm up"])
    layout = sentence_layout(embedder.model_path)
    path = sentence_onnx_path(embedder.model_path, layout, quantize=True)
    assert path.is_file() and path.parent == sentence_onnx_path(embedder.model_path, layout).parent
    assert [p.name for p in path.parent.iterdir()] == ["sentence.int8.onnx"]  # the fp32 graph is not needed
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops


def test_int8_backend_is_refused_where_onnx_cannot_run(embedder, tmp_path):
    folder = _copy_with_pooling(embedder.model_path, tmp_path / "max-model",
                                pooling_mode_mean_tokens=False, pooling_mode_max_tokens=True)
    with pytest.raises(ValueError, match=f"ONNX backend cannot run {folder}"):
        Embedder(folder, backend="onnx-int8")


def test_an_int8_vector_is_the_texts_own_whatever_is_embedded_beside_it(int8_embedder):
    """One quantisation scale per model run: batching texts would make each vector depend on its neighbours."""
    together = int8_embedder.encode(TEXTS)
    alone = np.stack([int8_embedder.encode([text])[0] for text in TEXTS])
    reordered = int8_embedder.encode(TEXTS[::-1])[::-1]
    assert np.array_equal(together, alone) and np.array_equal(together, reordered)
