"""An index keeps the embedder variant (fp32 or int8) that built it: `auto` follows it, an explicit other
variant is refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embeddings.embedder import mismatch_message, split_variant, variant_name
from embeddings.index import (
    ChunkingSettings,
    DocumentIndex,
    IndexCorruptError,
    IndexMismatchError,
    current_generation,
    update_index,
)
from tests.conftest import make_document

SETTINGS = ChunkingSettings(max_words=25, overlap_sentences=1)
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def int8_index(tmp_path_factory, int8_embedder, documents):
    root = tmp_path_factory.mktemp("int8") / "idx"
    update_index(root, int8_embedder, add=documents, chunking=SETTINGS)
    return root


@pytest.fixture(scope="module")
def fp32_index(tmp_path_factory, fp32_embedder, documents):
    root = tmp_path_factory.mktemp("fp32") / "idx"
    update_index(root, fp32_embedder, add=documents, chunking=SETTINGS)
    return root


def _manifest_path(root):
    return current_generation(root) / "manifest.json"


def test_variant_names_round_trip_and_refuse_unknown_variants():
    assert variant_name(MODEL, "fp32") == MODEL
    assert variant_name(MODEL, "int8") == f"{MODEL} (int8)"
    assert split_variant(f"{MODEL} (int8)") == (MODEL, "int8") and split_variant(MODEL) == (MODEL, "fp32")
    with pytest.raises(ValueError, match="unknown embedding variant 'int4'"):
        variant_name(MODEL, "int4")


def test_mismatch_message_names_both_and_the_backend_of_the_index_variant():
    message = mismatch_message("idx", f"{MODEL} (int8)", MODEL, "rebuild the index")
    assert f"'{MODEL} (int8)', but '{MODEL}' was given" in message and "--embedding-backend onnx-int8" in message
    assert "--embedding-backend torch or onnx" in mismatch_message("idx", MODEL, f"{MODEL} (int8)", "pass --rebuild")
    other = mismatch_message("idx", MODEL, "other-model (int8)", "rebuild the index")
    assert other.endswith("use that model or rebuild the index") and "--embedding-backend" not in other


def test_an_int8_index_records_its_variant_and_answers_int8_queries(int8_index, int8_embedder):
    manifest = json.loads(_manifest_path(int8_index).read_text())
    assert manifest["embedding_model"] == {"name": f"{MODEL} (int8)", "variant": "int8", "dimension": 384}
    index = DocumentIndex.open(int8_index, embedder=int8_embedder)
    hits = index.search_vectors(int8_embedder.encode(["Where is the data center being built?"]), 1)
    assert "Abilene" in index.chunks([int(hits.ids[0][0])])[int(hits.ids[0][0])].text


def test_explicit_fp32_queries_on_an_int8_index_are_refused_naming_both(int8_index, fp32_embedder):
    with pytest.raises(IndexMismatchError, match=r"'sentence-transformers/all-MiniLM-L6-v2 \(int8\)', but "
                                                 r"'sentence-transformers/all-MiniLM-L6-v2' was given.*onnx-int8"):
        DocumentIndex.open(int8_index, embedder=fp32_embedder)
    before = current_generation(int8_index)
    with pytest.raises(IndexMismatchError, match="pass --rebuild"):
        update_index(int8_index, fp32_embedder, add=[make_document("Glaciers retreat in the Alps.")])
    assert current_generation(int8_index) == before  # no fp32 vectors mixed in


def test_explicit_int8_queries_on_an_fp32_index_are_refused(fp32_index, int8_embedder):
    with pytest.raises(IndexMismatchError, match=r"all-MiniLM-L6-v2', but .*\(int8\)' was given.*torch or onnx"):
        DocumentIndex.open(fp32_index, embedder=int8_embedder)


def test_auto_builds_new_indexes_in_int8_and_follows_an_fp32_index(tmp_path, embedder, fp32_embedder, fp32_index,
                                                                      documents):
    from qa.answering.retrievers import DenseRetriever

    assert embedder.requested_backend == "auto" and embedder.variant == "int8"
    fresh = tmp_path / "fresh"
    update_index(fresh, embedder, add=documents[:1], chunking=SETTINGS)
    assert json.loads(_manifest_path(fresh).read_text())["embedding_model"]["variant"] == "int8"

    follower = DocumentIndex.open(fp32_index, embedder=embedder).embedder_for(embedder)
    assert (follower.variant, follower.name) == ("fp32", fp32_embedder.name)
    assert follower is embedder.following(fp32_embedder.name)  # made once, kept
    retriever = DenseRetriever(DocumentIndex.open(fp32_index), embedder)
    question = "Where is the data center being built?"
    np.testing.assert_allclose(retriever.embedder.encode([question]), fp32_embedder.encode([question]), atol=1e-6)

    copy = tmp_path / "copy"
    update_index(copy, fp32_embedder, add=documents[:1], chunking=SETTINGS)
    update_index(copy, embedder, add=documents[1:])  # auto adds fp32 vectors to the fp32 index
    assert json.loads(_manifest_path(copy).read_text())["embedding_model"]["variant"] == "fp32"
    both = DocumentIndex.open(copy, embedder=fp32_embedder)
    whole = DocumentIndex.open(fp32_index, embedder=fp32_embedder)
    vector = fp32_embedder.encode([question])
    assert np.allclose(both.search_vectors(vector, 3).scores, whole.search_vectors(vector, 3).scores, atol=1e-5)


def test_explicit_backends_and_other_models_are_not_followed(embedder, fp32_embedder, int8_embedder):
    assert fp32_embedder.following(int8_embedder.name) is fp32_embedder
    assert int8_embedder.following(fp32_embedder.name) is int8_embedder
    assert embedder.following("someone/else") is embedder and embedder.following(embedder.name) is embedder


def test_an_index_written_before_variants_opens_as_fp32(tmp_path, fp32_embedder, int8_embedder, documents):
    embedder = fp32_embedder
    root = tmp_path / "old"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    path = _manifest_path(root)
    manifest = json.loads(path.read_text())
    assert manifest["embedding_model"].pop("variant") == "fp32"
    path.write_text(json.dumps(manifest))  # as citeqa wrote it before variants
    index = DocumentIndex.open(root, embedder=embedder)
    hits = index.search_vectors(embedder.encode(["lava eruption"]), 1)
    assert np.isfinite(hits.scores).all() and hits.ids[0][0] >= 0
    with pytest.raises(IndexMismatchError, match=r"\(int8\)"):
        DocumentIndex.open(root, embedder=int8_embedder)
    update_index(root, embedder, add=[make_document("A note on glaciers retreating.")])
    assert json.loads(_manifest_path(root).read_text())["embedding_model"]["variant"] == "fp32"


def test_a_bad_recorded_variant_is_named(tmp_path, fp32_embedder, documents):
    root = tmp_path / "bad"
    update_index(root, fp32_embedder, add=documents[:1], chunking=SETTINGS)
    path = _manifest_path(root)
    manifest = json.loads(path.read_text())
    manifest["embedding_model"]["variant"] = "int4"
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="'embedding_model.variant' must be one of fp32, int8, not 'int4'"):
        DocumentIndex.open(root)
    manifest["embedding_model"]["variant"] = "int8"  # the name says fp32
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="'embedding_model.variant' 'int8' does not match the name"):
        DocumentIndex.open(root)
