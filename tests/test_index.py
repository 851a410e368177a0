"""The persisted index folder: build, incremental add/remove, round trip, integrity and model checks."""

import json
import shutil

import pytest

from embeddings.index import (
    CURRENT,
    ChunkingSettings,
    DocumentIndex,
    IndexCorruptError,
    IndexLockedError,
    IndexMismatchError,
    IndexNotFoundError,
    IndexVersionError,
    current_generation,
    update_index,
    write_lock,
)
from tests.conftest import make_document

SETTINGS = ChunkingSettings(max_words=25, overlap_sentences=1)


def chunk_keys(index):
    rows = index._query("SELECT doc_id, chunk_id, start, end, text FROM chunks ORDER BY doc_id, chunk_id")
    return [tuple(r) for r in rows]


def top_hits(index, embedder, question, k=3):
    hits = index.search_vectors(embedder.encode([question]), k)
    chunks = index.chunks([int(i) for i in hits.ids[0]])
    return [(chunks[int(i)].doc_id, chunks[int(i)].chunk_id, round(float(s), 5)) for i, s in zip(hits.ids[0], hits.scores[0])]


def test_build_and_open(built_index, embedder, documents):
    index = DocumentIndex.open(built_index, embedder=embedder)
    assert index.manifest["counts"]["documents"] == len(documents)
    assert len(index) == len(index.vectors) == len(index.bm25) > len(documents)
    stored = index.documents()
    assert set(stored) == {d.doc_id for d in documents}
    for document in documents:
        assert index.document_text(document.doc_id) == document.text
    for doc_id, _, start, end, text in chunk_keys(index):
        assert index.document_text(doc_id)[start:end] == text
    assert top_hits(index, embedder, "Where is the data center?")[0][0] == documents[0].doc_id


def test_incremental_add_remove_equals_fresh_build(tmp_path, embedder, documents):
    incremental = tmp_path / "inc"
    update_index(incremental, embedder, add=documents[:1], chunking=SETTINGS)
    update_index(incremental, embedder, add=documents[1:], chunking=SETTINGS)
    report = update_index(incremental, embedder, remove=[documents[1].doc_id])
    assert report.removed == (documents[1].doc_id,) and report.chunks_embedded == 0
    fresh = tmp_path / "fresh"
    update_index(fresh, embedder, add=[documents[0], documents[2]], chunking=SETTINGS)
    a, b = DocumentIndex.open(incremental), DocumentIndex.open(fresh)
    assert chunk_keys(a) == chunk_keys(b)
    for question in ("lava eruption", "chess prize money", "Abilene"):
        assert top_hits(a, embedder, question) == top_hits(b, embedder, question)
        assert [a.chunks([i])[i].text for i, _ in a.bm25.search(question, 3)] == [b.chunks([i])[i].text for i, _ in b.bm25.search(question, 3)]


def test_a_stream_of_documents_indexes_like_a_list_and_is_read_one_at_a_time(tmp_path, embedder, documents):
    taken = []

    def stream():
        for document in [*documents, documents[0]]:
            taken.append(document.doc_id)
            yield document

    progress = []
    streamed = update_index(tmp_path / "stream", embedder, add=stream(), chunking=SETTINGS,
                            on_progress=lambda done, total: progress.append((done, total)))
    listed = update_index(tmp_path / "list", embedder, add=list(documents), chunking=SETTINGS)
    assert taken == [*(d.doc_id for d in documents), documents[0].doc_id]
    assert streamed.added == listed.added and streamed.chunks_embedded == listed.chunks_embedded
    assert streamed.duplicates == ((documents[0].source, documents[0].doc_id),)
    assert progress[-1] == (streamed.chunks_embedded, streamed.chunks_embedded)
    a, b = DocumentIndex.open(tmp_path / "stream"), DocumentIndex.open(tmp_path / "list")
    assert chunk_keys(a) == chunk_keys(b)
    assert top_hits(a, embedder, "Abilene") == top_hits(b, embedder, "Abilene")


def test_only_new_chunks_are_embedded_and_duplicates_are_one_document(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    first = update_index(root, embedder, add=documents[:2], chunking=SETTINGS)
    again = update_index(root, embedder, add=[documents[1], documents[2]])
    assert again.added == (documents[2].doc_id,)
    assert again.duplicates == ((documents[1].source, documents[1].doc_id),)
    assert first.chunks_embedded + again.chunks_embedded == len(DocumentIndex.open(root))
    copy = make_document(documents[0].text, source="copy-of-stargate.txt")
    report = update_index(root, embedder, add=[copy])
    assert report.added == () and report.chunks_embedded == 0
    assert DocumentIndex.open(root).documents()[copy.doc_id].sources == ("copy-of-stargate.txt", "stargate.txt")


def test_nothing_to_do_leaves_index_byte_for_byte(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}
    report = update_index(root, embedder, add=documents, remove=["no-such-id"])
    assert not report.changed
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != ".lock"}
    assert before == after


def test_model_mismatch_names_both_models(built_index, embedder, tmp_path):
    other_model = tmp_path / "other-model"
    shutil.copytree(embedder.model_path, other_model)
    from embeddings.embedder import Embedder

    other = Embedder(other_model)
    with pytest.raises(IndexMismatchError, match="all-MiniLM-L6-v2.*other-model"):
        DocumentIndex.open(built_index, embedder=other)
    with pytest.raises(IndexMismatchError, match="other-model"):
        update_index(built_index, other, add=[make_document("Some new text here.")])


def test_missing_damaged_truncated_and_old_version(tmp_path, embedder, documents):
    with pytest.raises(IndexNotFoundError, match="no citeqa index"):
        DocumentIndex.open(tmp_path / "nowhere")
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    generation = current_generation(root)
    vectors = generation / "vectors.faiss"
    data = vectors.read_bytes()
    vectors.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexCorruptError, match="vectors.faiss.*rebuild"):
        DocumentIndex.open(root)
    vectors.write_bytes(data)
    database = generation / "chunks.sqlite"
    raw = bytearray(database.read_bytes())
    raw[200] ^= 0xFF
    database.write_bytes(bytes(raw))
    with pytest.raises(IndexCorruptError, match="chunks.sqlite.*damaged"):
        DocumentIndex.open(root)
    manifest = json.loads((generation / "manifest.json").read_text())
    manifest["format_version"] = 0
    (generation / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexVersionError, match="version 0"):
        DocumentIndex.open(root)


def test_second_writer_gets_a_clear_error(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    with write_lock(root):
        with pytest.raises(IndexLockedError, match="being written by pid"):
            update_index(root, embedder, add=documents[1:])
        # a reader is never blocked by the writer
        assert DocumentIndex.open(root).manifest["counts"]["documents"] == 1
    update_index(root, embedder, add=documents[1:])
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == len(documents)


def test_a_crashed_write_leaves_the_previous_generation(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    live = (root / CURRENT).read_text()

    class Boom(RuntimeError):
        pass

    def explode(done, total):
        raise Boom()

    with pytest.raises(Boom):
        update_index(root, embedder, add=documents[1:], on_progress=explode)
    assert (root / CURRENT).read_text() == live
    assert not list(root.glob("gen-*.tmp"))
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == 1


# ---------------------------------------------------------------- vector index types


def all_top_hits(index, embedder, k=3):
    return [top_hits(index, embedder, q, k) for q in ("lava eruption", "chess prize money", "Abilene", "Where is the data center?")]


@pytest.mark.parametrize("kind", ["hnsw", "ivfpq"])
def test_index_type_is_recorded_reopened_and_kept(tmp_path, embedder, documents, kind):
    flat = tmp_path / "flat"
    update_index(flat, embedder, add=documents, chunking=SETTINGS)
    assert DocumentIndex.open(flat).manifest["vector_store"] == "faiss-flat-ip"
    root = tmp_path / kind
    update_index(root, embedder, add=documents[:2], chunking=SETTINGS, index_type=kind)
    update_index(root, embedder, add=documents[2:])  # an existing index keeps its type
    index = DocumentIndex.open(root, embedder=embedder)
    assert index.manifest["vector_store"] == f"faiss-{kind}-ip"
    assert index.manifest["vector_index"]["type"] == kind
    assert index.vectors.kind == kind and index.vectors.mapped  # memory-mapped on open
    assert all_top_hits(index, embedder) == all_top_hits(DocumentIndex.open(flat), embedder)

    # removing a document leaves tombstones (saved and checksummed) and never returns its chunks
    removed = documents[0].doc_id
    update_index(root, embedder, remove=[removed])
    index = DocumentIndex.open(root)
    assert removed not in {c.doc_id for c in index.chunks(list(range(1, 200))).values()}
    hits = index.search_vectors(embedder.encode(["Where is the data center?"]), 50)
    assert len([i for i in hits.ids[0] if i >= 0]) == len(index) == len(index.vectors)
    fresh = tmp_path / "fresh"
    update_index(fresh, embedder, add=documents[1:], chunking=SETTINGS)
    assert [h[:2] for h in top_hits(index, embedder, "chess prize money")] == [
        h[:2] for h in top_hits(DocumentIndex.open(fresh), embedder, "chess prize money")]

    with pytest.raises(IndexMismatchError, match=f"uses the {kind} vector index.*--rebuild"):
        update_index(root, embedder, add=[make_document("Another text about tides.")], index_type="flat")
    update_index(root, embedder, add=documents, rebuild=True, index_type="flat")
    assert DocumentIndex.open(root).manifest["vector_store"] == "faiss-flat-ip"


def test_automatic_index_type_by_chunk_count(tmp_path, embedder, documents):
    chunks = len(DocumentIndex.open(_build(tmp_path / "probe", embedder, documents)))
    for flat_max, hnsw_max, expected in ((chunks, chunks, "flat"), (chunks - 1, chunks, "hnsw"), (1, chunks - 1, "ivfpq")):
        root = _build(tmp_path / expected, embedder, documents, flat_max=flat_max, hnsw_max=hnsw_max)
        index = DocumentIndex.open(root)
        assert index.manifest["vector_index"]["type"] == expected and index.vectors.kind == expected
        # growing past a threshold later does not change the type; only a rebuild chooses again
        update_index(root, embedder, add=[make_document("More text about the harbour and its cranes.")],
                     flat_max=0, hnsw_max=0)
        assert DocumentIndex.open(root).vectors.kind == expected


def _build(root, embedder, documents, **thresholds):
    update_index(root, embedder, add=documents, chunking=SETTINGS, **thresholds)
    return root


def test_manifest_without_index_fields_opens_as_exact(tmp_path, embedder, documents):
    """Indexes written before index types record only "vector_store": "faiss-flat-ip"."""
    root = _build(tmp_path / "old", embedder, documents)
    manifest_path = current_generation(root) / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["vector_index"]
    manifest_path.write_text(json.dumps(manifest))
    index = DocumentIndex.open(root)
    assert index.vectors.kind == "flat" and top_hits(index, embedder, "lava eruption")
    update_index(root, embedder, add=[make_document("A note on glaciers retreating.")])
    assert DocumentIndex.open(root).manifest["vector_index"] == {"type": "flat"}
    manifest = json.loads((current_generation(root) / "manifest.json").read_text())
    manifest["vector_store"] = "annoy-forest"
    (current_generation(root) / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexVersionError, match="unknown vector store 'annoy-forest'"):
        DocumentIndex.open(root)


def test_cli_index_type_flag_and_info(tmp_path, capsys):
    from qa.cli import main

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The volcano erupted on Tuesday near Grindavik. Lava reached the road.", encoding="utf-8")
    (docs / "b.txt").write_text("The challenger won the final game of the chess match.", encoding="utf-8")
    index = str(tmp_path / "idx")
    assert main(["index", str(docs / "a.txt"), "--index", index, "--index-type", "hnsw"]) == 0
    assert main(["index", str(docs / "b.txt"), "--index", index]) == 0
    capsys.readouterr()
    assert main(["info", "--index", index, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["vector_index"]["type"] == "hnsw" and info["chunks"] == 2
    assert main(["info", "--index", index]) == 0
    assert "vectors     hnsw (M 32" in capsys.readouterr().out
    assert main(["index", str(docs / "b.txt"), "--index", index, "--index-type", "flat"]) != 0
    assert "--rebuild" in capsys.readouterr().err
