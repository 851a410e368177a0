"""A realistic folder of mixed formats (HTML with boilerplate, Markdown with front matter and a byline, PDF,
DOCX, JSON, JSONL): titles, dates and sources as expected, and a sync after an edit, a rename and a deletion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from embeddings.index import CURRENT, DocumentIndex
from qa.cli import main
from test_corpus_metadata import make_docx, make_pdf

PAGE = """<html><head><title>Harbour news | The Coast Times</title>
<meta property="og:title" content="The harbour reopens after the storm">
<meta property="article:published_time" content="2025-02-02T08:00:00Z"></head>
<body><nav><a href="/">Home</a> · <a href="/sport">Sport</a> · <a href="/contact">Contact</a></nav>
<article><h1>The harbour reopens after the storm</h1>
<p>The harbour of Port Ellen reopened on Sunday after the winter storm damaged its northern pier.</p>
<p>Fishing boats returned to their moorings in the afternoon, the harbour master said.</p>
<p>Repairs to the pier will cost about two million pounds and take until the summer.</p></article>
<footer>Subscribe to our newsletter · Privacy policy · Cookie settings</footer></body></html>"""

NOTE = """---
title: Lighthouse keeping
---
By Jane Doe · 14 March 2025

The lighthouse on Hook Head has guided ships for eight centuries. Its keepers lived in the tower until 1996.
"""


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    folder = tmp_path / "library"
    (folder / "web").mkdir(parents=True)
    (folder / "web" / "harbour.html").write_text(PAGE, encoding="utf-8")
    (folder / "notes").mkdir()
    (folder / "notes" / "lighthouse.md").write_text(NOTE, encoding="utf-8")
    (folder / "report.pdf").write_bytes(make_pdf([["Tide tables for the estuary",
                                                    "The spring tides reach their highest in March."]],
                                                  info={"Title": "Enscript Output"}))
    make_docx(folder / "minutes.docx", [("Council minutes", "Title"),
                                        ("The council agreed to repave the market square in May.", None)])
    (folder / "feed.json").write_text(json.dumps({"headline": "Ferry timetable changes", "datePublished": "2025-01-10",
                                                  "url": "https://example.org/ferry",
                                                  "articleBody": "The evening ferry now leaves at seven."}))
    (folder / "posts.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"title": "Market day", "published": "2025-04-05", "text": "The market opens at eight on Saturdays."},
        {"title": "Bridge works", "date": "2025-04-06", "text": "The old bridge closes for works in June."}]) + "\n")
    return folder


def documents_of(index_dir: Path) -> dict[str, tuple[str, str | None, str]]:
    """title -> (source, date, text) of what the index holds."""
    index = DocumentIndex.open(index_dir)
    return {d.title: (d.source, d.date, index.document_text(d.doc_id)) for d in index.documents().values()}


def test_a_mixed_folder_gets_true_metadata_and_syncs(mixed, tmp_path, embedder, capsys):
    index = tmp_path / "idx"
    assert main(["index", str(mixed), "--index", str(index)], embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "6 added" in out
    docs = documents_of(index)
    assert set(docs) == {"The harbour reopens after the storm", "Lighthouse keeping", "Tide tables for the estuary",
                         "Council minutes", "Ferry timetable changes", "Market day", "Bridge works"}
    source, date, text = docs["The harbour reopens after the storm"]
    assert (source, date) == ("web/harbour.html", "2025-02-02")
    assert "northern pier" in text and "Subscribe" not in text and "Contact" not in text  # the article, no boilerplate
    assert docs["Lighthouse keeping"][:2] == ("notes/lighthouse.md", "2025-03-14")
    assert docs["Tide tables for the estuary"][0] == "report.pdf"  # not the converter's "Enscript Output"
    assert docs["Council minutes"][0] == "minutes.docx"
    assert docs["Ferry timetable changes"][:2] == ("https://example.org/ferry", "2025-01-10")
    assert docs["Market day"][1] == "2025-04-05" and docs["Bridge works"][1] == "2025-04-06"

    # nothing changed: nothing is written
    live = (index / CURRENT).read_text()
    assert main(["index", str(mixed), "--index", str(index)], embedder=embedder) == 0
    assert (index / CURRENT).read_text() == live and "duplicate" not in capsys.readouterr().out

    # an edit, a rename and a deletion
    (mixed / "notes" / "lighthouse.md").write_text(NOTE.replace("1996", "1998"), encoding="utf-8")
    (mixed / "feed.json").rename(mixed / "ferry.json")
    (mixed / "minutes.docx").unlink()
    assert main(["index", str(mixed), "--index", str(index)], embedder=embedder) == 0
    out = capsys.readouterr().out
    assert "1 replaced" in out and "1 renamed" in out and "1 removed" in out
    docs = documents_of(index)
    assert "Council minutes" not in docs and "until 1998" in docs["Lighthouse keeping"][2]
    assert sum("until 1996" in text for _, _, text in docs.values()) == 0
    assert docs["Ferry timetable changes"][0] == "https://example.org/ferry" and len(docs) == 6
