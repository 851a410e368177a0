"""ONNX graphs: cache keys that follow every input of the graph, and exact int8 products on any x86 CPU."""

from __future__ import annotations

import pytest

from embeddings import onnx_graph
from embeddings.onnx_graph import graph_key, inference_session, int8_path, needs_exact_int8, this_cpu


@pytest.mark.parametrize("machine, flags, exact, path", [
    ("x86_64", {"avx2", "fma"}, True, "u8u8-exact"),                       # AVX2 only (AMD Zen 2/3, Haswell)
    ("x86_64", {"avx2", "avx512f", "avx512bw"}, True, "u8u8-exact"),       # AVX-512 without VNNI (Skylake-SP)
    ("x86_64", {"avx2", "avx512f", "avx512_vnni"}, False, "vnni"),        # Cascade Lake, Zen 4
    ("x86_64", {"avx2", "avx_vnni"}, False, "vnni"),                       # Alder Lake
    ("AMD64", None, True, "u8u8-exact"),                                   # flags unknown: assume no VNNI
    ("aarch64", {"asimd"}, False, "native"),
    ("arm64", None, False, "native"),
])
def test_exact_int8_only_where_the_cpu_lacks_vnni(machine, flags, exact, path):
    assert needs_exact_int8(machine, flags) is exact
    assert int8_path(machine, flags) == path


def test_cpu_flags_of_this_machine_are_read():
    machine, flags = this_cpu()
    assert machine and (flags is None or flags & {"fpu", "fp", "asimd"})


def _session_entry(session) -> str | None:
    try:
        return session.get_session_options().get_session_config_entry("session.x64quantprecision")
    except RuntimeError:  # not set
        return None


def test_the_session_asks_for_exact_int8_when_told(tiny_reader_dir, tmp_path):
    from qa.answering.onnx_export import export_onnx

    graph = export_onnx(tiny_reader_dir, tmp_path / "int8.onnx")
    assert _session_entry(inference_session(graph, exact_int8=True)) == "1"
    assert _session_entry(inference_session(graph, exact_int8=False)) is None
    assert (_session_entry(inference_session(graph)) == "1") is needs_exact_int8(*this_cpu())


def test_the_graph_key_follows_library_versions_and_int8_settings(tiny_reader_dir, monkeypatch):
    before = graph_key(tiny_reader_dir, "recipe 2")
    assert graph_key(tiny_reader_dir, "recipe 2") == before and graph_key(tiny_reader_dir, "recipe 3") != before
    versions = onnx_graph.library_versions()
    assert set(versions) == {"torch", "transformers", "onnx", "onnxruntime"} and all(versions.values())
    monkeypatch.setattr(onnx_graph, "library_versions", lambda: {**versions, "onnxruntime": "0.0.1"})
    assert graph_key(tiny_reader_dir, "recipe 2") != before
    monkeypatch.undo()
    monkeypatch.setitem(onnx_graph.INT8_SETTINGS, "reduce_range", True)
    assert graph_key(tiny_reader_dir, "recipe 2") != before


def test_the_graph_key_ignores_fitted_settings_and_the_calibrator_but_not_the_model_config(tiny_reader_dir, tmp_path):
    import json
    import shutil

    folder = shutil.copytree(tiny_reader_dir, tmp_path / "reader")
    before = graph_key(folder, "recipe 2")
    config_path = folder / "config.json"
    config = json.loads(config_path.read_text())
    config["citeqa"] = {**config.get("citeqa", {}), "no_answer_threshold": 1.25, "early_stop_score": 4.5}
    config_path.write_text(json.dumps(config, indent=4))
    (folder / "calibrator.json").write_text("{}")
    assert graph_key(folder, "recipe 2") == before  # refitting a threshold or the calibrator rebuilds no graph
    config["layer_norm_eps"] = 1e-5 if config.get("layer_norm_eps") != 1e-5 else 1e-6
    config_path.write_text(json.dumps(config))
    assert graph_key(folder, "recipe 2") != before


def test_the_reader_and_sentence_caches_use_the_graph_key(tiny_reader_dir, embedder, monkeypatch):
    from embeddings.onnx_encoder import sentence_layout, sentence_onnx_path
    from qa.answering.onnx_export import cached_onnx_path

    layout = sentence_layout(embedder.model_path)
    before = cached_onnx_path(tiny_reader_dir, "onnx-int8"), sentence_onnx_path(embedder.model_path, layout)
    versions = onnx_graph.library_versions()
    monkeypatch.setattr(onnx_graph, "library_versions", lambda: {**versions, "torch": "9.9"})
    after = cached_onnx_path(tiny_reader_dir, "onnx-int8"), sentence_onnx_path(embedder.model_path, layout)
    assert before[0].parent != after[0].parent and before[1].parent != after[1].parent


def test_reports_record_the_onnx_libraries_and_the_int8_kernel():
    from importlib import metadata

    from qa.evaluation.run import versions

    found = versions()
    assert found["onnx"] == metadata.version("onnx") and found["onnxruntime"] == metadata.version("onnxruntime")
    assert found["int8_matmul"] == int8_path(*this_cpu()) and found["int8_matmul"] in {"vnni", "u8u8-exact", "native"}
