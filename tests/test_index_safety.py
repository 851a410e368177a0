"""The index folder never loses a generation: a lost CURRENT refuses writes and reads until `--repair`, the
generation before each write is kept for `--undo`, manifests are checked against their schema, and a full disk
is one clear error that leaves the previous generation live."""

import errno
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from embeddings.index import (
    CURRENT,
    ChunkingSettings,
    DocumentIndex,
    IndexCorruptError,
    IndexHistoryError,
    IndexNotFoundError,
    IndexPointerError,
    IndexSpaceError,
    current_generation,
    repair_index,
    undo_last_write,
    update_index,
)
from embeddings.store import FaissStore
from qa.cli import main
from tests.conftest import make_document

SETTINGS = ChunkingSettings(max_words=25, overlap_sentences=1)


def generation_names(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("gen-*"))


def snapshot(root: Path) -> dict:
    """Every file of every generation folder, byte for byte."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.glob("gen-*/**/*") if p.is_file()}


def two_generations(root: Path, embedder, documents) -> None:
    """gen-000001 (the first document), gen-000002 (all of them, live)."""
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    update_index(root, embedder, add=documents[1:])
    assert generation_names(root) == ["gen-000001", "gen-000002"]


def damage(generation: Path) -> None:
    vectors = generation / "vectors.faiss"
    vectors.write_bytes(vectors.read_bytes()[:-8])


# ---------------------------------------------------------------- a lost CURRENT


@pytest.mark.parametrize("pointer", [None, "", "\x00garbage\n", "gen-000099\n"],
                         ids=["missing", "empty", "garbage", "names-a-missing-generation"])
def test_a_lost_current_refuses_writes_and_reads_and_repair_restores_it(tmp_path, embedder, documents, pointer):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    if pointer is None:
        (root / CURRENT).unlink()
    else:
        (root / CURRENT).write_text(pointer, encoding="utf-8")
    before = snapshot(root)
    new = make_document("A new article about the tides of the North Sea.")
    for rebuild in (False, True):
        with pytest.raises(IndexPointerError, match=r"gen-000001 \(3 documents\), whose checksums verify.*"
                                                    r"citeqa index --index .*idx --repair"):
            update_index(root, embedder, add=[new], rebuild=rebuild)
    with pytest.raises(IndexPointerError, match="gen-000001.*--repair") as raised:
        DocumentIndex.open(root)
    assert "build one with" not in str(raised.value)
    assert snapshot(root) == before and generation_names(root) == ["gen-000001"]

    assert repair_index(root) == "gen-000001"
    index = DocumentIndex.open(root, embedder=embedder)
    assert set(index.documents()) == {d.doc_id for d in documents}
    assert repair_index(root) == "gen-000001"  # a valid CURRENT naming a verified generation stays as it is
    update_index(root, embedder, add=[new])  # writes work again
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == len(documents) + 1


def test_the_refusal_names_the_newest_generation_that_verifies(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    (root / CURRENT).unlink()
    damage(root / "gen-000002")
    with pytest.raises(IndexPointerError, match=r"gen-000001 \(1 document\).*--repair"):
        update_index(root, embedder, add=documents)
    assert repair_index(root) == "gen-000001"
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == 1


def test_nothing_verifies_refuses_clearly_and_deletes_nothing(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    (root / CURRENT).unlink()
    for name in generation_names(root):
        damage(root / name)
    before = snapshot(root)
    with pytest.raises(IndexCorruptError, match="cannot repair .*none of its generations .*verifies"):
        repair_index(root)
    with pytest.raises(IndexPointerError, match="none of the generations .*gen-000001, gen-000002.* verifies"):
        update_index(root, embedder, add=documents, rebuild=True)
    assert snapshot(root) == before and not (root / CURRENT).exists()


def test_a_folder_without_generations_is_a_new_index_and_other_folders_are_never_deleted(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    for name in ("gen-backup", "gen-backup.tmp", "gen-12.tmp", "notes"):
        (root / name).mkdir(parents=True)
        (root / name / "keep.txt").write_text("mine", encoding="utf-8")
    for document in documents:
        update_index(root, embedder, add=[document], chunking=SETTINGS)
    update_index(root, embedder, remove=[documents[0].doc_id])
    for name in ("gen-backup", "gen-backup.tmp", "gen-12.tmp", "notes"):
        assert (root / name / "keep.txt").read_text(encoding="utf-8") == "mine", name
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == len(documents) - 1
    with pytest.raises(IndexNotFoundError, match="build one with"):
        DocumentIndex.open(tmp_path / "empty")


def test_cli_index_into_a_lost_current_refuses_and_repair_restores_ask(tmp_path, embedder, tiny_reader_dir, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("The volcano erupted on Tuesday near Grindavik. Lava reached the road.", encoding="utf-8")
    (docs / "b.txt").write_text("The challenger won the final game of the chess match.", encoding="utf-8")
    index = tmp_path / "idx"
    ask = ["ask", "Where did the volcano erupt?", "--index", str(index), "--reader", str(tiny_reader_dir),
           "--threshold", "-1000", "--json"]
    assert main(["index", str(docs / "a.txt"), "--index", str(index)], embedder=embedder) == 0
    (index / CURRENT).unlink()
    before = snapshot(index)
    capsys.readouterr()

    assert main(["index", str(docs / "b.txt"), "--index", str(index)], embedder=embedder) != 0
    err = capsys.readouterr().err
    assert "gen-000001" in err and f"citeqa index --index {index} --repair" in err and "Traceback" not in err
    assert main(ask, embedder=embedder) != 0
    err = capsys.readouterr().err
    assert "--repair" in err and "build one with" not in err
    assert snapshot(index) == before and generation_names(index) == ["gen-000001"]

    assert main(["index", "--index", str(index), "--repair"], embedder=embedder) == 0
    assert capsys.readouterr().out.strip() == f"repaired {index}: gen-000001 is live now, holding 1 document"
    assert main(ask, embedder=embedder) == 0
    assert json.loads(capsys.readouterr().out)["text"]
    assert DocumentIndex.open(index, embedder=embedder).manifest["counts"]["documents"] == 1
    assert main(["index", "--index", str(index), "--repair", str(docs)], embedder=embedder) == 2  # no PATHs


# ---------------------------------------------------------------- the previous generation and undo


def test_removing_documents_keeps_the_previous_generation_for_undo(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    update_index(root, embedder, remove=[documents[0].doc_id])
    assert generation_names(root) == ["gen-000001", "gen-000002"]
    assert undo_last_write(root) == "gen-000001"
    assert set(DocumentIndex.open(root).documents()) == {d.doc_id for d in documents}
    assert generation_names(root) == ["gen-000001", "gen-000002"]  # the undone one stays until the next write
    with pytest.raises(IndexHistoryError, match="nothing to undo .*gen-000001 stays live"):
        undo_last_write(root)
    update_index(root, embedder, add=[make_document("A short note about glaciers retreating.")])
    assert generation_names(root) == ["gen-000001", "gen-000003"]  # the live one before the write, and the new one


def test_only_the_live_generation_and_the_one_before_it_are_kept(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    for document in documents:
        update_index(root, embedder, add=[document], chunking=SETTINGS)
    assert generation_names(root) == ["gen-000002", "gen-000003"]
    assert current_generation(root).name == "gen-000003"


def test_undo_verifies_the_previous_generation_first(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    damage(root / "gen-000001")
    with pytest.raises(IndexHistoryError, match="no generation before gen-000002 verifies .*gen-000001"):
        undo_last_write(root)
    assert current_generation(root).name == "gen-000002"


def test_a_rebuild_keeps_the_live_generation_for_undo(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    update_index(root, embedder, add=documents[:1], rebuild=True)
    assert generation_names(root) == ["gen-000002", "gen-000003"]
    assert undo_last_write(root) == "gen-000002"
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == len(documents)


def test_cli_undo(tmp_path, embedder, documents, capsys):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    assert main(["index", "--index", str(root), "--undo"], embedder=embedder) == 0
    assert capsys.readouterr().out.strip() == f"undid the last write to {root}: gen-000001 is live now, holding 1 document"
    assert main(["index", "--index", str(root), "--undo"], embedder=embedder) == 1
    assert "nothing to undo" in capsys.readouterr().err
    for flag in ("--undo", "--repair"):  # no index there: a clear error, and no folder is created
        assert main(["index", "--index", str(tmp_path / "nowhere"), flag], embedder=embedder) == 1
        assert "no citeqa index" in capsys.readouterr().err and not (tmp_path / "nowhere").exists()
    with pytest.raises(SystemExit):  # argparse: one of --undo and --repair
        main(["index", "--index", str(root), "--undo", "--repair"], embedder=embedder)


# ---------------------------------------------------------------- the manifest's schema


def _set(path: str, value):
    def change(manifest):
        *parents, last = path.split(".")
        for key in parents:
            manifest = manifest[key]
        manifest[last] = value
    return change


def _drop(key):
    def change(manifest):
        del manifest[key]
    return change


MANIFEST_CASES = {
    "only-a-version": (lambda m: {"format_version": 1}, "'embedding_model' is missing"),
    "a-list": (lambda m: [], "the top level must be a JSON object, not list"),
    "empty-files": (_set("files", {}), "'files' is empty"),
    "files-not-covering": (lambda m: m["files"].pop("vectors.faiss") and None, "'files' does not cover vectors.faiss"),
    "digest-not-hex": (lambda m: m["files"].update({"chunks.sqlite": "abc"}), "'files.chunks.sqlite' must be a SHA-256 digest"),
    "path-outside": (lambda m: m["files"].update({"../elsewhere": "0" * 64}), "'files' entry '../elsewhere'"),
    "dimension-a-string": (_set("embedding_model.dimension", "384"), "'embedding_model.dimension' must be a positive integer"),
    "chunks-a-bool": (_set("counts.chunks", True), "'counts.chunks' must be an integer"),
    "max-words-missing": (lambda m: m["chunking"].pop("max_words") and None, "'chunking.max_words' is missing"),
    "created-missing": (_drop("created"), "'created' is missing"),
    "version-a-string": (_set("format_version", "1"), "'format_version' must be an integer"),
}


@pytest.mark.parametrize("case", list(MANIFEST_CASES))
def test_an_invalid_manifest_names_the_file_and_the_field(tmp_path, embedder, documents, case):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents, chunking=SETTINGS)
    path = current_generation(root) / "manifest.json"
    change, expected = MANIFEST_CASES[case]
    manifest = json.loads(path.read_text())
    changed = change(manifest)
    path.write_text(json.dumps(manifest if changed is None else changed))
    for attempt in (lambda: DocumentIndex.open(root), lambda: update_index(root, embedder, add=[make_document("More text.")])):
        with pytest.raises(IndexCorruptError) as raised:
            attempt()
        message = str(raised.value)
        assert f"index manifest {path} is invalid" in message and expected in message, message
        assert "--rebuild" in message


def test_a_damaged_live_manifest_points_at_repair_which_goes_back(tmp_path, embedder, documents):
    root = tmp_path / "idx"
    two_generations(root, embedder, documents)
    path = root / "gen-000002" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["files"] = {}
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexCorruptError, match="'files' is empty.*--repair"):
        DocumentIndex.open(root)
    assert repair_index(root) == "gen-000001"
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == 1


# ---------------------------------------------------------------- a full disk


def full_disk(monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: SimpleNamespace(total=10**9, used=10**9, free=0))


def _raise(err):
    def fail(*args, **kwargs):
        raise err
    return fail


@pytest.mark.parametrize("where, err, disk_full", [
    ("_save_search_files", OSError(errno.ENOSPC, "No space left on device"), False),
    ("save", OSError("31634 requested and 7136 written"), True),
    ("save", RuntimeError("Error in faiss::FileIOWriter::operator(): ret == (n) failed"), True),
    ("_write_pointer", OSError(errno.ENOSPC, "No space left on device"), False),
], ids=["enospc", "numpy-short-write", "faiss-assertion", "enospc-on-current"])
def test_a_full_disk_is_one_clear_error_and_the_previous_generation_stays(tmp_path, embedder, documents, monkeypatch,
                                                                           where, err, disk_full):
    import embeddings.index as index_module

    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    before = snapshot(root)
    monkeypatch.setattr(FaissStore if where == "save" else index_module, where, _raise(err))
    if disk_full:
        full_disk(monkeypatch)
    with pytest.raises(IndexSpaceError, match=r"no space left on .* \(needed ~\d+ MB.*gen-000001 stays live"):
        update_index(root, embedder, add=documents[1:])
    monkeypatch.undo()
    assert (root / CURRENT).read_text().strip() == "gen-000001"
    assert snapshot(root) == before and not list(root.glob("gen-*.tmp")) and not (root / "CURRENT.tmp").exists()
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == 1
    update_index(root, embedder, add=documents[1:])  # with space again, the write goes through
    assert DocumentIndex.open(root).manifest["counts"]["documents"] == len(documents)


def test_other_failures_with_space_left_are_not_called_a_full_disk(tmp_path, embedder, documents, monkeypatch):
    root = tmp_path / "idx"
    update_index(root, embedder, add=documents[:1], chunking=SETTINGS)
    monkeypatch.setattr(FaissStore, "save", _raise(RuntimeError("some FAISS bug")))
    with pytest.raises(RuntimeError, match="some FAISS bug") as raised:
        update_index(root, embedder, add=documents[1:])
    assert not isinstance(raised.value, IndexSpaceError)


def test_cli_full_disk_is_one_line(tmp_path, embedder, documents, monkeypatch, capsys):
    import embeddings.index as index_module

    docs = tmp_path / "a.txt"
    docs.write_text("The volcano erupted on Tuesday near Grindavik. Lava reached the road.", encoding="utf-8")
    monkeypatch.setattr(index_module, "_save_search_files", _raise(OSError(errno.ENOSPC, "No space left on device")))
    assert main(["index", str(docs), "--index", str(tmp_path / "idx")], embedder=embedder) == 1
    err = capsys.readouterr().err
    assert "\nciteqa: error: no space left on " in err and "no index was created" in err
    assert "requested and" not in err and "Traceback" not in err
