"""Folder sync: `citeqa index FOLDER` mirrors a folder's documents (and only them), `--remove PATH`, readable
folder-relative sources, `citeqa export`, and the bundled articles' metadata."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from corpus.documents import Document, document_id
from corpus.files import sha256_file
from embeddings.index import (
    CURRENT,
    DATABASE,
    MANIFEST,
    DocumentIndex,
    IndexRemoveError,
    SourceFile,
    sync_index,
    update_index,
)
from qa.cli import main

VOLCANO = "The volcano on the Reykjanes peninsula erupted again on Tuesday night. Lava flowed towards Grindavik."
CHESS = "The world chess championship was decided in a tiebreak of rapid games. The challenger won."
BUDGET = "The city council approved the budget for the new tram line on Monday. Work starts in spring."
HARBOUR = "The harbour master counts the ships at dawn. Forty trawlers left port before the storm."
TENNIS = "A young player from Lyon won the tennis tournament in Paris after saving three match points."
BANANAS = "Bananas are rich in potassium and grow in tropical places. Most are shipped green."
SUMMARY = re.compile(r"(\d+) added, (\d+) replaced, (\d+) renamed, (\d+) removed, (\d+) unchanged; "
                     r"added (\d+) documents \((\d+) chunks embedded\), removed (\d+)")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small archive: dated .txt files and a .md in nested folders, plus a file no loader reads."""
    docs = tmp_path / "archive"
    write(docs / "2024" / "volcano.txt", f" title Volcano erupts again\n date 2024-05-01\n{VOLCANO}\n")
    write(docs / "2024" / "march" / "chess.md", f"---\ntitle: Chess final\ndate: 2024-03-14\n---\n\n{CHESS}\n")
    write(docs / "budget.txt", f" date 2024-02-02\n{BUDGET}\n")
    write(docs / "harbour.txt", f"{HARBOUR}\n")
    (docs / "scan.bin").write_bytes(b"\x00\x01\x02")
    return docs


def index_cli(embedder, capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["index", *argv], embedder=embedder)
    out, err = capsys.readouterr()
    return code, out, err


def summary(out: str) -> tuple[int, ...]:
    match = SUMMARY.search(out)
    assert match is not None, out
    return tuple(int(n) for n in match.groups())


def stored(index_dir: Path) -> dict[str, tuple[str, str]]:
    """doc_id -> (source, text) of what the index holds now."""
    index = DocumentIndex.open(index_dir)
    return {d.doc_id: (d.source, index.document_text(d.doc_id)) for d in index.documents().values()}


def generations(index_dir: Path) -> tuple[str, list[str]]:
    return (index_dir / CURRENT).read_text().strip(), sorted(p.name for p in index_dir.glob("gen-*"))


def test_a_folder_is_mirrored_edit_rename_delete_add(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    other = write(tmp_path / "elsewhere" / "bananas.txt", BANANAS).parent
    code, out, err = index_cli(embedder, capsys, str(folder), "--index", str(index), "--chunk-words", "12")
    assert code == 0 and summary(out)[:6] == (4, 0, 0, 0, 0, 4) and "scan.bin" in err
    assert f"{folder} → {index}:" in out and len(out.strip().splitlines()) == 1
    assert index_cli(embedder, capsys, str(other), "--index", str(index))[0] == 0
    assert {source for source, _ in stored(index).values()} == {"2024/volcano.txt", "2024/march/chess.md",
                                                                "budget.txt", "harbour.txt", "bananas.txt"}

    # edit one, rename (and move) one, delete one, add one
    write(folder / "budget.txt", f" date 2024-02-02\n{BUDGET} The mayor called it historic.\n")
    (folder / "iceland").mkdir()
    (folder / "2024" / "volcano.txt").rename(folder / "iceland" / "volcano-may.txt")
    (folder / "harbour.txt").unlink()
    write(folder / "2024" / "tennis.md", f"---\ntitle: Tennis in Paris\n---\n{TENNIS}\n")
    code, out, err = index_cli(embedder, capsys, str(folder), "--index", str(index))
    added, replaced, renamed, removed, unchanged, new_docs, embedded, removed_docs = summary(out)
    assert (added, replaced, renamed, removed, unchanged) == (1, 1, 1, 1, 1)
    assert (new_docs, removed_docs) == (2, 2)  # the edited text and the new one in; the old text and the harbour out
    assert "duplicate" not in out and len(out.strip().splitlines()) == 1

    held = stored(index)
    edited = f"{BUDGET} The mayor called it historic."
    assert held == {
        document_id(VOLCANO): ("iceland/volcano-may.txt", VOLCANO),  # renamed: same document, new source
        document_id(CHESS): ("2024/march/chess.md", CHESS),
        document_id(edited): ("budget.txt", edited),
        document_id(TENNIS): ("2024/tennis.md", TENNIS),
        document_id(BANANAS): ("bananas.txt", BANANAS),  # from another folder: untouched
    }
    # only the edited and the new file were embedded (12-word chunks: each of these texts is 2 chunks)
    index_obj = DocumentIndex.open(index)
    expected = sum(index_obj.documents()[d].chunks for d in (document_id(edited), document_id(TENNIS)))
    assert embedded == expected
    volcano = index_obj.documents()[document_id(VOLCANO)]
    assert volcano.title == "Volcano erupts again" and volcano.date == "2024-05-01"
    assert volcano.sources == ("iceland/volcano-may.txt",)


def test_a_rerun_with_nothing_changed_writes_nothing_and_prints_no_duplicates(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    before = generations(index)
    code, out, err = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 0 and generations(index) == before
    assert summary(out) == (0, 0, 0, 0, 4, 0, 0, 0)
    assert "duplicate" not in out + err and "embedding" not in err


def test_other_folders_and_single_files_are_left_alone(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    loose = write(tmp_path / "notes" / "tennis.txt", TENNIS)
    assert index_cli(embedder, capsys, str(loose), "--index", str(index))[0] == 0  # a file: added, nothing else
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    for child in folder.rglob("*.txt"):
        child.unlink()
    code, out, _ = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 0 and summary(out)[3:5] == (3, 1)  # the three .txt files removed, the .md kept
    assert {source for source, _ in stored(index).values()} == {"tennis.txt", "2024/march/chess.md"}
    # a file given alone again: unchanged, no duplicate line, nothing written
    before = generations(index)
    code, out, _ = index_cli(embedder, capsys, str(loose), "--index", str(index))
    assert code == 0 and "duplicate" not in out and generations(index) == before


def test_an_emptied_folder_removes_its_documents_but_an_unreadable_one_is_an_error(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    for child in folder.rglob("*"):
        if child.is_file() and child.suffix != ".bin":
            child.unlink()
    code, out, _ = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 0 and summary(out)[3] == 4 and stored(index) == {}
    # nothing readable and nothing that came from it: an error, and the index stays as it is
    before = generations(index)
    code, _, err = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 2 and "nothing could be indexed" in err and generations(index) == before


def test_remove_by_path_and_unknown_ids_or_paths_change_nothing(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    code, out, _ = index_cli(embedder, capsys, "--index", str(index), "--remove", str(folder / "budget.txt"))
    assert code == 0 and "removed 1" in out
    assert document_id(BUDGET) not in stored(index) and len(stored(index)) == 3

    before = generations(index)
    for bad in ([str(folder / "no-such-file.txt")], ["0123456789abcdef"],
                [str(folder / "harbour.txt"), "0123456789abcdef"]):  # one unknown among known ones: nothing goes
        argv = [a for value in bad for a in ("--remove", value)]
        code, _, err = index_cli(embedder, capsys, "--index", str(index), *argv)
        assert code != 0 and "not in the index" in err and "Traceback" not in err
        assert generations(index) == before and len(stored(index)) == 3

    # a folder path removes everything that came from under it; a document id still works
    code, out, _ = index_cli(embedder, capsys, "--index", str(index), "--remove", str(folder / "2024"))
    assert code == 0 and {s for s, _ in stored(index).values()} == {"harbour.txt"}
    code, _, _ = index_cli(embedder, capsys, "--index", str(index), "--remove", document_id(HARBOUR))
    assert code == 0 and stored(index) == {}


def test_relative_paths_to_the_folder_and_url_sources(tmp_path, embedder, capsys, monkeypatch):
    docs = tmp_path / "site"
    write(docs / "a" / "page.txt", f" url https://example.com/news/page\n{VOLCANO}")
    write(docs / "a" / "stated.txt", f" source The Courier\n{BUDGET}")
    write(docs / "b" / "page.txt", CHESS)  # same file name, other folder: told apart
    monkeypatch.chdir(tmp_path)
    assert main(["index", "site", "--index", "idx"], embedder=embedder) == 0
    capsys.readouterr()
    assert sorted(source for source, _ in stored(tmp_path / "idx").values()) == [
        "The Courier", "b/page.txt", "https://example.com/news/page"]
    # the folder recorded is absolute: a sync from elsewhere, named another way, is the same folder
    monkeypatch.chdir(docs)
    (docs / "b" / "page.txt").unlink()
    assert main(["index", ".", "--index", str(tmp_path / "idx")], embedder=embedder) == 0
    assert "0 added, 0 replaced, 0 renamed, 1 removed, 2 unchanged" in capsys.readouterr().out


def test_export_round_trips_every_document_once(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    write(folder / "feed.jsonl", json.dumps({"title": "Harbour", "text": HARBOUR + " Again."}) + "\n"
          + json.dumps({"title": "Tennis", "text": TENNIS, "url": "https://example.com/t"}) + "\n")
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    assert main(["export", "--index", str(index)], embedder=embedder) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert all(list(r) == ["doc_id", "title", "date", "source", "url", "text"] for r in records)
    held = stored(index)
    assert sorted(r["doc_id"] for r in records) == sorted(held) and len(records) == len(held) == 6
    for record in records:
        assert (record["source"], record["text"]) == held[record["doc_id"]]
        assert record["doc_id"] == document_id(record["text"])
    tennis = next(r for r in records if r["title"] == "Tennis")
    assert (tennis["source"], tennis["url"]) == ("https://example.com/t", "https://example.com/t")
    assert next(r for r in records if r["title"] == "Volcano erupts again")["date"] == "2024-05-01"

    out = tmp_path / "out" / "docs.jsonl"
    write(out, "old contents\n")
    assert main(["export", "--index", str(index), "--out", str(out)], embedder=embedder) == 0
    assert "exported 6 documents" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8").splitlines() == lines
    assert [p.name for p in out.parent.iterdir()] == ["docs.jsonl"]  # no temporary file left


def test_all_documents_of_one_file_belong_to_it(tmp_path, embedder):
    """A streamed big file (parts) or a JSON Lines file gives several documents from one path: a sync keeps
    exactly those the file gives now, and drops the file's others."""
    root, folder = tmp_path / "idx", str(tmp_path / "docs")
    path = f"{folder}/big.txt"

    def part(n: int, text: str) -> Document:
        return Document(document_id(text), f"Big (part {n})", None, "big.txt", text)

    parts = [part(1, VOLCANO), part(2, CHESS), part(3, BUDGET)]
    first = sync_index(root, embedder, files=[SourceFile(path, folder, iter(parts))], mirror=[folder])
    assert first.files == {path: "added"} and len(first.update.added) == 3
    again = sync_index(root, embedder, files=[SourceFile(path, folder, iter(parts[:2] + [part(3, HARBOUR)]))],
                       mirror=[folder])
    assert again.files == {path: "replaced"} and again.update.removed == (document_id(BUDGET),)
    assert again.update.added == (document_id(HARBOUR),) and again.embedded == {path: again.update.chunks_embedded}
    assert sorted(d.doc_id for d in DocumentIndex.open(root).documents().values()) == sorted(
        document_id(t) for t in (VOLCANO, CHESS, HARBOUR))
    assert {o.path for o in DocumentIndex.open(root).origins()} == {path}
    with pytest.raises(IndexRemoveError, match="not in the index"):
        sync_index(root, embedder, remove_paths=[f"{folder}/other.txt"], strict=True)
    gone = sync_index(root, embedder, remove_paths=[path], strict=True)
    assert gone.files == {path: "removed"} and len(gone.update.removed) == 3


def test_a_metadata_only_edit_updates_without_embedding(folder, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    assert index_cli(embedder, capsys, str(folder), "--index", str(index))[0] == 0
    write(folder / "harbour.txt", f" title Storm at the harbour\n date 2024-11-03\n{HARBOUR}\n")
    code, out, _ = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 0 and summary(out)[:7] == (0, 1, 0, 0, 3, 0, 0)
    document = DocumentIndex.open(index).documents()[document_id(HARBOUR)]
    assert (document.title, document.date, document.source) == ("Storm at the harbour", "2024-11-03", "harbour.txt")


def test_an_index_written_before_origins_is_read_and_synced(folder, tmp_path, embedder, capsys):
    """No format change: a generation without the origins table opens, and a sync takes its documents over."""
    index = tmp_path / "idx"
    update_index(index, embedder, add=[Document(document_id(HARBOUR), "Harbour", None, "harbour.txt", HARBOUR)])
    generation = index / (index / CURRENT).read_text().strip()  # made as an older citeqa made it: no origins table
    db = sqlite3.connect(generation / DATABASE)
    db.executescript("DROP INDEX origins_path; DROP TABLE origins;")
    db.close()
    manifest = json.loads((generation / MANIFEST).read_text())
    manifest["files"][DATABASE] = sha256_file(generation / DATABASE)
    (generation / MANIFEST).write_text(json.dumps(manifest))
    assert DocumentIndex.open(index).origins() == [] and len(DocumentIndex.open(index).documents()) == 1
    code, out, _ = index_cli(embedder, capsys, str(folder), "--index", str(index))
    assert code == 0 and summary(out)[:7] == (4, 0, 0, 0, 0, 3, summary(out)[6])  # harbour.txt: taken over, not embedded
    assert len(DocumentIndex.open(index).origins()) == 4 and len(stored(index)) == 4


@pytest.mark.parametrize("store", ["faiss", pytest.param("milvus", marks=pytest.mark.slow)])
def test_sync_is_the_same_on_both_stores(store, folder, tmp_path, embedder, capsys):
    if store == "milvus":
        pytest.importorskip("pymilvus")
    where = ["--index", str(tmp_path / "idx")] if store == "faiss" else [
        "--store", "milvus", "--store-uri", str(tmp_path / "m.db"), "--index", "synced"]
    assert index_cli(embedder, capsys, str(folder), *where)[0] == 0
    (folder / "harbour.txt").rename(folder / "port.txt")
    (folder / "budget.txt").unlink()
    code, out, _ = index_cli(embedder, capsys, str(folder), *where)
    assert code == 0 and summary(out) == (0, 0, 1, 1, 2, 0, 0, 1)
    code, out, _ = index_cli(embedder, capsys, str(folder), *where)
    assert code == 0 and summary(out) == (0, 0, 0, 0, 3, 0, 0, 0)
    assert main(["export", *where], embedder=embedder) == 0
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(r["source"] for r in records) == ["2024/march/chess.md", "2024/volcano.txt", "port.txt"]
    code, _, err = index_cli(embedder, capsys, *where, "--remove", str(folder / "budget.txt"))
    assert code != 0 and "not in the index" in err


def test_the_bundled_articles_have_their_urls_as_sources_and_the_same_texts():
    from corpus.loaders import load_default_corpus

    documents = load_default_corpus()
    assert [d.doc_id for d in documents] == ["5ff609059d9cb78f", "adc711d1b2296730"]  # texts unchanged
    assert documents[0].title == "Musk continues to overstep his authority and Trump is pissed"
    assert documents[1].title.startswith("Billionaire DOGE director Elon Musk")  # no headline known: its first sentence
    assert all(d.date == "2025-01-24" and d.url and d.source == d.url for d in documents)
    assert documents[0].url.startswith("https://www.dailykos.com/") and documents[1].url.startswith("https://ca.news.yahoo.com/")
    assert documents[0].text.startswith("Allies of Donald Trump are annoyed")


def test_a_copy_inside_the_folder_is_one_document_that_outlives_either_file(tmp_path, embedder, capsys):
    docs, index = tmp_path / "docs", str(tmp_path / "idx")
    write(docs / "a.txt", VOLCANO)
    write(docs / "copies" / "a-copy.txt", VOLCANO)
    code, out, _ = index_cli(embedder, capsys, str(docs), "--index", index)
    assert code == 0 and out.count("duplicate copies/a-copy.txt: same text as document") == 1
    code, out, _ = index_cli(embedder, capsys, str(docs), "--index", index)
    assert code == 0 and "duplicate" not in out and summary(out)[:5] == (0, 0, 0, 0, 2)
    (docs / "a.txt").unlink()
    code, out, _ = index_cli(embedder, capsys, str(docs), "--index", index)
    assert code == 0 and summary(out) == (0, 0, 0, 1, 1, 0, 0, 0)  # the file went; its text stays, from the copy
    assert stored(Path(index)) == {document_id(VOLCANO): ("copies/a-copy.txt", VOLCANO)}
