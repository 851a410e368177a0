"""HTML pages through trafilatura: the article's text without menus, footers and comments; title and date from
the page itself; the whole page's text, said in the load report, where no main text is found."""

from __future__ import annotations

import datetime as dt
import socket
from pathlib import Path

import pytest

import corpus.html_text as html_text
from corpus import LoadReport, load_file, load_path
from corpus.chunking import chunk_document
from corpus.html_text import html_to_text, read_html
from corpus.loaders import FileNote

PARAGRAPHS = (
    "The harbour bridge reopened to traffic on Sunday morning after eight months of repairs to its steel deck, "
    "the city council said.",
    "Engineers replaced more than four hundred rusted plates and repainted the main span, which carries about "
    "forty thousand vehicles a day.",
    "The repairs cost twelve million euros, two million more than planned, because the corrosion was worse than "
    "the first survey showed.",
)
BOILERPLATE = ("Home", "World", "Sport", "Sign in", "Subscribe today", "It took them long enough",
               "Great news for commuters", "Copyright", "Privacy policy", "Terms of use", "Most read")

NEWS_PAGE = f"""<!doctype html>
<html lang="en"><head><title>Harbour bridge reopens | Example News</title>
<meta property="og:title" content="Harbour bridge reopens after repairs">
<meta property="article:published_time" content="2025-02-02T10:00:00Z">
<link rel="canonical" href="https://news.example.com/2025/harbour-bridge">
<script>var tracking = "Subscribe today";</script></head>
<body><header><nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport</a></li></ul></nav></header>
<div class="menu"><a href="/login">Sign in</a> <a href="/subscribe">Subscribe today</a></div>
<main><article><h1>Harbour bridge reopens after repairs</h1>
<p>{PARAGRAPHS[0]}</p>
<p>{PARAGRAPHS[1]}</p>
<p>{PARAGRAPHS[2]}</p>
</article>
<section id="comments" class="comments"><h2>Comments</h2>
<div class="comment"><p>Finally! It took them long enough to fix this bridge.</p></div>
<div class="comment"><p>Great news for commuters like me.</p></div></section>
<aside class="related"><h3>Most read</h3><ul><li><a href="/a">Storm closes the airport</a></li>
<li><a href="/b">Mayor opens new library</a></li></ul></aside></main>
<footer><p>Copyright 2025 Example News Ltd. All rights reserved.</p>
<ul><li><a href="/privacy">Privacy policy</a></li><li><a href="/terms">Terms of use</a></li></ul></footer>
</body></html>"""

BYLINE_PAGE = """<html><head><title>Quiet day</title></head><body><article>
<h1>Quiet day at the market</h1><p class="byline">Published 2 February 2025</p>
<p>The market was quiet on Saturday as rain kept most shoppers at home, stall holders said.</p>
<p>Fish sellers reported the lowest takings of the winter, while the bakery sold out by noon.</p>
</article></body></html>"""

UNDATED_PAGE = """<html><head><title>A page without a date</title></head><body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav><article><h1>A page without a date</h1>
<p>This article says nothing about when it was written, and neither does its markup or metadata.</p>
<p>It has two paragraphs of ordinary text so that it is kept as the main content of the page.</p></article>
<footer><p>Copyright Example Ltd. All rights reserved.</p></footer></body></html>"""

MENUS_ONLY_PAGE = """<html><head><title>Example Ltd</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/about">About us</a></li></ul></nav>
<footer><p>Copyright 2025 Example Ltd. All rights reserved.</p></footer></body></html>"""


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def only(documents: list) -> object:
    assert len(documents) == 1
    return documents[0]


def test_the_article_is_kept_and_menus_footers_and_comments_are_not(tmp_path: Path) -> None:
    report = load_path(write(tmp_path / "bridge.html", NEWS_PAGE))
    document = only(list(report.documents))
    assert document.text == "\n\n".join(("Harbour bridge reopens after repairs", *PARAGRAPHS))
    for boilerplate in BOILERPLATE:
        assert boilerplate not in document.text
    assert (report.skipped, report.notes) == ((), ())


def test_title_date_and_url_come_from_the_page_metadata(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "bridge.html", NEWS_PAGE)))
    assert document.title == "Harbour bridge reopens after repairs"  # og:title, not "... | Example News"
    assert document.date == "2025-02-02"  # article:published_time 2025-02-02T10:00:00Z
    assert document.url == "https://news.example.com/2025/harbour-bridge"


def test_a_visible_byline_gives_the_date(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "market.html", BYLINE_PAGE)))
    assert document.date == "2025-02-02"
    assert document.title == "Quiet day at the market"
    assert "Fish sellers reported the lowest takings" in document.text


def test_a_page_without_a_date_gets_none_not_today(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "undated.html", UNDATED_PAGE)))
    assert document.date is None
    assert document.date != dt.date.today().isoformat()
    assert "Copyright" not in document.text and "About" not in document.text.split("\n\n")[0]


def test_no_main_text_falls_back_to_the_whole_page_and_the_report_says_so(tmp_path: Path) -> None:
    path = write(tmp_path / "menus.html", MENUS_ONLY_PAGE)
    report = load_path(path)
    document = only(list(report.documents))
    assert document.text == html_to_text(MENUS_ONLY_PAGE).text  # the full-text extraction of before
    assert "About us" in document.text and "Copyright 2025" in document.text
    assert document.title == "Example Ltd"
    assert [(note.path, note.note) for note in report.notes] == [
        (str(path), "no main text found; kept the whole page's text")
    ]
    assert report.skipped == ()


def test_a_failing_extraction_falls_back_and_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(markup: str, options: dict) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(html_text, "_extract", broken)
    report = load_path(write(tmp_path / "bridge.html", NEWS_PAGE))
    document = only(list(report.documents))
    assert document.text == html_to_text(NEWS_PAGE).text
    assert PARAGRAPHS[0] in document.text and "Sign in" in document.text
    assert document.date == "2025-02-02"  # html_to_text's own meta reading
    assert [note.note for note in report.notes] == [
        "main text extraction failed (RuntimeError: boom); kept the whole page's text"
    ]


def test_code_keeps_its_whitespace_as_a_block_of_its_own(tmp_path: Path) -> None:
    page = "<p>Code:</p><pre>def f():\n    return  1</pre><p>After   it.</p>"
    report = load_path(write(tmp_path / "fragment.html", page))
    assert only(list(report.documents)).text == "Code:\n\ndef f():\n    return  1\n\nAfter it."
    assert report.notes == ()


def test_an_empty_page_is_still_skipped_without_a_note(tmp_path: Path) -> None:
    write(tmp_path / "page.html", "<html><head><title>T</title></head><body><script>x()</script></body></html>")
    report = load_path(tmp_path)
    assert [(Path(skip.path).name, skip.reason) for skip in report.skipped] == [("page.html", "empty")]
    assert (report.documents, report.notes) == ((), ())


def test_paragraphs_are_blank_line_separated_and_chunk_offsets_are_exact(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "bridge.html", NEWS_PAGE)))
    assert document.text.count("\n\n") == len(PARAGRAPHS)
    for chunk in chunk_document(document, max_words=25, overlap_sentences=0):
        assert document.text[chunk.start:chunk.end] == chunk.text


def test_nothing_is_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def no_network(self, address):  # noqa: ANN001
        attempts.append(address)
        raise OSError("network used")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: no_network(None, a))
    for markup in (NEWS_PAGE, "https://news.example.com/2025/harbour-bridge",
                   '<html><head><link rel="canonical" href="https://example.com/2025/01/02/x"></head>'
                   "<body><p>https://example.com/page</p></body></html>"):
        read_html(markup)
    assert attempts == []


def test_a_report_built_the_old_way_has_no_notes() -> None:
    report = LoadReport((), (), (), ())
    assert report.notes == ()
    assert FileNote("a.html", "x") == FileNote("a.html", "x")
