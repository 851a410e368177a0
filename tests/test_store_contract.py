"""The retrieval contract, run against both stores: a FAISS index folder and Milvus (Milvus Lite, a real engine)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pymilvus", reason='the Milvus store needs pip install "citeqa[milvus]"')

from corpus.chunking import ChunkingSettings  # noqa: E402

from embeddings.index import IndexMismatchError, IndexNotFoundError
from qa.answering.config import Config  # noqa: E402
from qa.answering.retrievers import make_retriever, reciprocal_rank_fusion  # noqa: E402
from qa.indexing.stores import open_index, write_index  # noqa: E402

STORES = ("faiss", "milvus")
QUESTIONS = [
    "Where will the data center be built?",
    "Which town was evacuated because of the lava?",
    "How much was the prize fund of the chess championship?",
    "How many eruptions since December?",
]


def config_for(store: str, tmp_path) -> Config:
    if store == "faiss":
        return Config(index_dir=str(tmp_path / "faiss-index"), chunk_words=25)
    return Config(store="milvus", store_uri=str(tmp_path / "milvus.db"), index_dir="contract", chunk_words=25)


# Each Milvus case starts the Milvus Lite engine (seconds apiece): those are the slow part, FAISS the quick one.
MILVUS = pytest.mark.slow


@pytest.fixture(params=["faiss", pytest.param("milvus", marks=MILVUS)])
def store(request):
    return request.param


@pytest.fixture
def built(store, tmp_path, embedder, documents):
    """(config, index) of a fresh index over the three test articles in the given store."""
    config = config_for(store, tmp_path)
    report, _ = write_index(config.index_target, embedder, add=documents)
    assert report.changed and len(report.added) == 3
    return config, open_index(config.index_target, embedder)


def ranked_places(index, ranked):
    chunks = index.chunks([i for i, _ in ranked])
    return [(chunks[i].doc_id, chunks[i].chunk_id) for i, _ in ranked]


def test_every_hit_is_a_chunk_with_exact_offsets(built, embedder, documents):
    _, index = built
    hits = index.search_vectors(embedder.encode(QUESTIONS), 100)
    assert hits.ids.shape == (len(QUESTIONS), len(index))
    for row in range(len(QUESTIONS)):
        assert list(hits.scores[row]) == sorted(hits.scores[row], reverse=True)
        chunks = index.chunks([int(i) for i in hits.ids[row]])
        assert len(chunks) == len(index)
        for chunk in chunks.values():
            assert index.document_text(chunk.doc_id)[chunk.start : chunk.end] == chunk.text
    texts = {d.doc_id: d.text for d in documents}
    assert {doc_id: index.document_text(doc_id) for doc_id in texts} == texts


def test_a_chunk_text_finds_itself_first(built, embedder):
    _, index = built
    hits = index.search_vectors(embedder.encode(["Lava flowed towards the fishing town of Grindavik, which had been evacuated."]), 3)
    best = index.chunks([int(hits.ids[0][0])])[int(hits.ids[0][0])]
    assert "Grindavik" in best.text
    assert hits.scores[0][0] > 0.8 and hits.ids.shape == (1, 3)


def test_documents_metadata_and_counts(built, documents):
    _, index = built
    stored = index.documents()
    assert list(stored) == [d.doc_id for d in documents]  # insertion order
    for document in documents:
        assert (stored[document.doc_id].title, stored[document.doc_id].date, stored[document.doc_id].source) == (
            document.title, document.date, document.source)
        assert stored[document.doc_id].sources == (document.source,)
    assert sum(d.chunks for d in stored.values()) == len(index)
    assert index.documents([]) == {} and list(index.documents([documents[1].doc_id])) == [documents[1].doc_id]


def test_bm25_matches_terms_only(built):
    _, index = built
    hits = index.bm25.search("Grindavik lava", 5)
    assert hits and all(score > 0 for _, score in hits)
    assert "Grindavik" in index.chunks([hits[0][0]])[hits[0][0]].text or "Lava" in index.chunks([hits[0][0]])[hits[0][0]].text
    assert index.bm25.search("zzzqqq", 5) == []
    assert index.bm25.search("the of and", 5) == []  # stop words only


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_retrievers_cite_exact_passages(built, embedder, mode):
    _, index = built
    retriever = make_retriever(mode, index, embedder)
    passages = retriever.search("Which town was evacuated because of the lava?", 3)
    assert 1 <= len(passages) <= 3 and [p.rank for p in passages] == list(range(1, len(passages) + 1))
    assert passages[0].document.title == "A volcano in Iceland"
    for passage in passages:
        assert index.document_text(passage.chunk.doc_id)[passage.chunk.start : passage.chunk.end] == passage.chunk.text


def test_remove_and_duplicates(built, embedder, documents, store):
    config, _ = built
    gone = documents[1]
    report, _ = write_index(config.index_target, embedder, remove=[gone.doc_id, "no-such-doc"])
    assert report.removed == (gone.doc_id,)
    index = open_index(config.index_target, embedder)
    assert gone.doc_id not in index.documents()
    hits = index.search_vectors(embedder.encode(["volcano lava Grindavik"]), 100)
    assert gone.doc_id not in {c.doc_id for c in index.chunks([int(i) for i in hits.ids[0]]).values()}
    assert all(gone.doc_id != index.chunks([i])[i].doc_id for i, _ in index.bm25.search("Grindavik", 10))
    again, _ = write_index(config.index_target, embedder, add=[documents[0], gone])
    assert again.added == (gone.doc_id,) and again.duplicates == ((documents[0].source, documents[0].doc_id),)
    assert open_index(config.index_target, embedder).documents()[gone.doc_id].chunks > 0


def test_another_embedding_model_is_refused(built, embedder):
    _, index = built

    class Other:
        name = "someone/else"

        def following(self, built_with):
            return self

    with pytest.raises(IndexMismatchError, match="someone/else"):
        index.embedder_for(Other())


def test_another_embedder_variant_is_refused(built, embedder):
    _, index = built
    assert index.description()["embedding_model"]["variant"] == embedder.variant == "int8"

    class Fp32:
        name = embedder.model_name

        def following(self, built_with):
            return self  # an explicit backend: not followed

    with pytest.raises(IndexMismatchError, match=r"all-MiniLM-L6-v2 \(int8\)', but .*L6-v2' was given.*onnx-int8"):
        index.embedder_for(Fp32())


@MILVUS
def test_both_stores_rank_alike(tmp_path, embedder, documents):
    """Same chunks, same vectors, same BM25 terms and parameters: the same rankings from either store."""
    indexes = {}
    for store in STORES:
        config = config_for(store, tmp_path)
        write_index(config.index_target, embedder, add=documents)
        indexes[store] = open_index(config.index_target, embedder)
    for question in QUESTIONS:
        vector = embedder.encode([question])
        dense = {s: ix.search_vectors(vector, 10) for s, ix in indexes.items()}
        assert ranked_places(indexes["faiss"], list(zip(dense["faiss"].ids[0].tolist(), dense["faiss"].scores[0]))) == \
            ranked_places(indexes["milvus"], list(zip(dense["milvus"].ids[0].tolist(), dense["milvus"].scores[0])))
        np.testing.assert_allclose(dense["faiss"].scores, dense["milvus"].scores, atol=1e-5)
        bm25 = {s: ix.bm25.search(question, 10) for s, ix in indexes.items()}
        assert ranked_places(indexes["faiss"], bm25["faiss"]) == ranked_places(indexes["milvus"], bm25["milvus"])
        np.testing.assert_allclose([s for _, s in bm25["faiss"]], [s for _, s in bm25["milvus"]], rtol=1e-4)


@MILVUS
def test_milvus_hybrid_search_is_our_fusion(tmp_path, embedder, documents):
    """Milvus's own RRF ranker over its vector and BM25 searches scores each chunk as our fusion does."""
    config = config_for("milvus", tmp_path)
    write_index(config.index_target, embedder, add=documents)
    index = open_index(config.index_target, embedder)
    for question in QUESTIONS:
        vector = embedder.encode([question])
        ours = reciprocal_rank_fusion([
            [int(i) for i in index.search_vectors(vector, 100).ids[0]], [i for i, _ in index.bm25.search(question, 100)]])
        engine = index.hybrid_ranked_ids(vector[0], question, 100)
        assert {i: round(s, 6) for i, s in ours} == {i: round(s, 6) for i, s in engine}
        assert [round(s, 6) for _, s in engine] == sorted((round(s, 6) for _, s in engine), reverse=True)


@MILVUS
def test_milvus_index_persists_and_reopens(tmp_path, embedder, documents):
    from embeddings.milvus_index import MilvusIndex
    from embeddings.milvus_store import connect

    config = config_for("milvus", tmp_path)
    write_index(config.index_target, embedder, add=documents)
    index = MilvusIndex.open(config.store_uri, "contract", embedder=embedder, client=connect(config.store_uri))
    assert len(index) == len(open_index(config.index_target, embedder)) > 3
    assert index.chunking == ChunkingSettings(25, 1)
    with pytest.raises(IndexNotFoundError, match="--store milvus"):
        MilvusIndex.open(config.store_uri, "missing")


@MILVUS
def test_milvus_store_is_a_vector_store(tmp_path):
    from embeddings.milvus_store import MilvusStore, connect
    from embeddings.store import VectorStore

    store = MilvusStore.create(connect(str(tmp_path / "v.db")), "plain", 4)
    assert isinstance(store, VectorStore) and len(store) == 0
    vectors = np.eye(4, dtype=np.float32)
    store.add(np.array([10, 11, 12, 13]), vectors)
    hits = store.search(vectors[2:3], 2)
    assert hits.ids[0][0] == 12 and hits.scores[0][0] == pytest.approx(1.0)
    assert store.remove(np.array([12, 99])) == 1 and len(store) == 3
    assert 12 not in store.search(vectors[2:3], 4).ids[0]
    with pytest.raises(ValueError, match=r"\(n, 4\)"):
        store.add(np.array([1]), np.ones((1, 3), np.float32))
    store.save()


def test_bad_store_settings_are_named():
    with pytest.raises(ValueError, match="'mongo'"):
        Config(store="mongo")
    with pytest.raises(ValueError, match="only for --store milvus"):
        Config(store_uri="x.db")
    from embeddings.milvus_store import check_name, check_uri

    with pytest.raises(ValueError, match="'foo'"):
        check_uri("foo")
    with pytest.raises(ValueError, match="'9 bad'"):
        check_name("9 bad")


@MILVUS
def test_bundled_articles_answer_alike_in_both_stores(tmp_path, embedder, tiny_reader_dir):
    """Hybrid answers over the bundled articles: FAISS with local fusion, Milvus with its own BM25 and RRF."""
    from corpus.loaders import load_default_corpus
    from qa.answering.pipeline import Assistant

    questions = ["In which city is the Stargate data center being built?", "Who is the CEO of OpenAI?",
                 "How much money does SoftBank have secured?", "Who leads the project?", "What did Musk post on X?"]
    answers = {}
    for store in STORES:
        config = config_for(store, tmp_path).with_changes(chunk_words=120, reader_model=str(tiny_reader_dir), k=3)
        write_index(config.index_target, embedder, add=load_default_corpus())
        assistant = Assistant.from_config(config, embedder=embedder)
        assert type(assistant.retriever).__name__ == ("HybridRetriever" if store == "faiss" else "EngineHybridRetriever")
        answers[store] = [assistant.answer(question) for question in questions]
    for faiss_answer, milvus_answer in zip(answers["faiss"], answers["milvus"]):
        assert faiss_answer.text == milvus_answer.text
        assert faiss_answer.score == pytest.approx(milvus_answer.score, abs=1e-4)
        assert [(c.doc_id, c.start, c.end, c.passage) for c in faiss_answer.citations] == \
            [(c.doc_id, c.start, c.end, c.passage) for c in milvus_answer.citations]


@MILVUS
def test_chat_service_writes_to_milvus(tmp_path, embedder, documents, tiny_reader_dir):
    """The chat's uploads and removals go to the Milvus collections, which a second replica then sees."""
    from qa.answering.pipeline import Assistant
    from ui import ChatService

    config = config_for("milvus", tmp_path).with_changes(reader_model=str(tiny_reader_dir), allow_uploads=True)
    write_index(config.index_target, embedder, add=documents[:2])
    service = ChatService(Assistant.from_config(config, embedder=embedder))
    upload = tmp_path / "chess.txt"
    upload.write_text(documents[2].text + "\n")
    assert "Added 1 document" in service.add_files([upload])
    replica = Assistant.from_config(config, embedder=embedder)
    assert documents[2].doc_id in replica.index.documents()
    assert "Removed 1 document" in service.remove([documents[0].doc_id])
    assert documents[0].doc_id not in Assistant.from_config(config, embedder=embedder).index.documents()
    assert not (tmp_path / "contract").exists()  # nothing written as a folder


@MILVUS
def test_cli_info_describes_a_milvus_index(tmp_path, embedder, documents, capsys):
    import json

    from qa.cli import main

    config = config_for("milvus", tmp_path)
    write_index(config.index_target, embedder, add=documents)
    flags = ["--store", "milvus", "--store-uri", config.store_uri, "--index", config.index_dir]
    assert main(["info", *flags, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["store"], info["documents"], info["chunks"]) == ("milvus", 3, len(open_index(config.index_target, embedder)))
    assert sorted(d["title"] for d in info["document_list"]) == sorted(d.title for d in documents)
    assert main(["info", *flags]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"index       {config.store_uri}#{config.index_dir} (Milvus, FLAT vectors") and "documents   3" in text
    assert all(d.title in text for d in documents)
