"""Loading articles from every supported format, with the skip and duplicate reports."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import CorpusError, Document, FileSkipped, LoadReport, load_default_corpus, load_file, load_path
from corpus.documents import document_id

BODY = "The council met on Monday. It approved the budget."


def make_pdf(pages: list[str | None], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text line per string page, a filled square (no text) per None."""
    objects: list[bytes] = []  # object n is objects[n - 1]
    n_pages = len(pages)
    font_ref = 3 + 2 * n_pages
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for index, text in enumerate(pages):
        content = (
            b"0 0 100 100 re f"
            if text is None
            else f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
        )
        objects.append(
            (
                f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * index} 0 R "
                f"/Resources << /Font << /F1 {font_ref} 0 R >> >> >>"
            ).encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if title is not None:
        objects.append(f"<< /Title ({title}) >>".encode("latin-1"))

    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    info = b" /Info %d 0 R" % len(objects) if title is not None else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, info, xref)
    return bytes(out)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def only(documents: list[Document]) -> Document:
    assert len(documents) == 1
    return documents[0]


# --- the bundled seed articles ---------------------------------------------------------------------


def test_seed_articles_load_with_their_header_metadata() -> None:
    documents = load_default_corpus()
    assert len(documents) == 2
    for document in documents:
        assert document.date == "2025-01-24" and document.url and document.source == document.url
        assert not document.text.startswith(("date", "title", "url", " "))
        assert document.doc_id == document_id(document.text)
    assert documents[0].title == "Musk continues to overstep his authority and Trump is pissed"  # its page's headline
    assert documents[0].text.startswith("Allies of Donald Trump are annoyed that “First Buddy” Elon Musk")
    # no headline known for the second: the title is its first sentence, cut to 80 characters
    assert documents[1].title.endswith("…") and len(documents[1].title) <= 80
    assert documents[1].text.startswith(documents[1].title[:-1].rstrip())
    assert documents[1].text.startswith("Billionaire DOGE director Elon Musk")


def test_corpus_package_import_stays_light() -> None:
    code = "import sys, corpus; print(any(m in sys.modules for m in ('torch', 'transformers', 'pypdf')))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


# --- plain text and header metadata ------------------------------------------------------------------


def test_header_lines_become_metadata_and_leave_the_body(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.txt",
        " title Budget Approved\n source The Courier\n url https://example.com/a\n date 2024-03-05\n\n" + BODY + "\n",
    )
    document = only(load_file(path))
    assert (document.title, document.source, document.url, document.date) == (
        "Budget Approved",
        "The Courier",
        "https://example.com/a",
        "2024-03-05",
    )
    assert document.text == BODY


@pytest.mark.parametrize("spelling", ["2025-01-24", "2025/01/24", "January 24, 2025", "24 January 2025"])
def test_header_dates_are_stored_as_iso(tmp_path: Path, spelling: str) -> None:
    document = only(load_file(write(tmp_path / "a.txt", f" date {spelling}\n{BODY}")))
    assert document.date == "2025-01-24"
    assert document.text == BODY


def test_body_may_start_on_the_date_line(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "a.txt", f" date 2025-01-24 {BODY}\n")))
    assert (document.date, document.text) == ("2025-01-24", BODY)


def test_invalid_date_line_stays_in_the_body(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "a.txt", f" date 2025-02-30\n{BODY}")))
    assert document.date is None
    assert document.text == f"date 2025-02-30\n{BODY}"


def test_plain_text_defaults(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "notes.txt", f"\n\n  {BODY}  \n\n")))
    assert document.text == BODY
    assert document.title == "The council met on Monday"
    assert (document.date, document.url, document.source, document.page_starts) == (None, None, "notes.txt", ())


def test_long_first_sentence_title_is_cut_at_a_word(tmp_path: Path) -> None:
    sentence = " ".join(["word"] * 30) + "."
    document = only(load_file(write(tmp_path / "a.txt", sentence)))
    assert document.title == " ".join(["word"] * 16) + "…"  # 79 characters and the ellipsis
    assert len(document.title) <= 80


# --- Markdown ------------------------------------------------------------------------------------------


def test_markdown_heading_is_the_title_and_stays_in_text(tmp_path: Path) -> None:
    text = f"# Budget Approved\n\n{BODY}"
    document = only(load_file(write(tmp_path / "a.md", text)))
    assert document.title == "Budget Approved"
    assert document.text == text


def test_markdown_front_matter_is_metadata(tmp_path: Path) -> None:
    text = f'---\ntitle: "Front Title"\ndate: 2024/03/05\ntags: [x]\n---\n# Heading\n\n{BODY}'
    document = only(load_file(write(tmp_path / "a.md", text)))
    assert (document.title, document.date) == ("Front Title", "2024-03-05")
    assert document.text == f"# Heading\n\n{BODY}"


# --- HTML ----------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html><head><title>Budget &amp; Council</title>
<meta property="article:published_time" content="2024-03-05T09:00:00Z">
<style>p { color: red; }</style><script>var s = "<p>not text</p>";</script></head>
<body><h1>The   Headline</h1>
<p>Caf&eacute; owners &ldquo;welcomed&rdquo; it &mdash; said &lt;Ann&gt;.</p>
<p>Line one<br>line two</p><noscript>Please enable JavaScript</noscript>
<template><p>Hidden template</p></template><ul><li>First</li><li>Second</li></ul></body></html>
"""


def test_html_text_drops_markup_scripts_and_styles(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "page.html", PAGE)))
    assert document.title == "The Headline"  # trafilatura: a page's one <h1> goes before its <title>
    assert document.date == "2024-03-05"
    # The main text (trafilatura): the bare heading and the trailing list outside the text are not kept.
    assert document.text == "Café owners “welcomed” it — said <Ann>.\n\nLine one\nline two"
    for hidden in ("color", "not text", "JavaScript", "Hidden template", "<p>", "Budget"):
        assert hidden not in document.text


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    page = "<html><body><h1>First Heading</h1><p>Text here.</p><h1>Second</h1></body></html>"
    document = only(load_file(write(tmp_path / "page.htm", page)))
    assert document.title == "First Heading"


def test_html_without_text_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "page.html", "<html><script>alert(1)</script><p> </p></html>")
    report = load_path(tmp_path)
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [("page.html", "empty")]


# --- PDF -----------------------------------------------------------------------------------------------


def test_pdf_fixture_has_a_text_layer(tmp_path: Path) -> None:
    from pypdf import PdfReader

    path = write(tmp_path / "doc.pdf", make_pdf(["Hello PDF world."]))
    assert PdfReader(path).pages[0].extract_text().strip() == "Hello PDF world."


def test_pdf_pages_are_joined_with_page_starts(tmp_path: Path) -> None:
    pages = ["First page text.", None, "Third page text."]
    path = write(tmp_path / "doc.pdf", make_pdf(pages, title="Report Title"))
    document = only(load_file(path))
    assert document.text == "First page text.\n\nThird page text."
    assert document.title == "Report Title"
    third = document.text.index("Third")
    assert document.page_starts[0] == 0
    assert document.page_starts[2] == third
    assert document.page_of(0) == 1
    assert document.page_of(third) == 3
    assert document.page_of(len(document.text) - 1) == 3


def test_pdf_title_is_derived_without_metadata(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(["Short first sentence. More."]))))
    assert document.title == "Short first sentence"


def test_pdf_without_text_layer_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf([None, None]))
    with pytest.raises(FileSkipped) as caught:
        load_file(path)
    assert caught.value.reason == "no text layer (scanned PDF?)"
    report = load_path(path)
    assert report.documents == ()
    assert [(s.path, s.reason) for s in report.skipped] == [(str(path), "no text layer (scanned PDF?)")]


def test_corrupt_pdf_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "broken.pdf", b"%PDF-1.4\nthis is not really a pdf\n")
    report = load_path(path)
    assert report.documents == ()
    assert report.skipped[0].reason.startswith("unreadable PDF")


# --- JSON and JSON Lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        [{"text": BODY, "title": "T", "date": "March 5, 2024", "source": "Wire", "url": "https://e.com"}],
        {"documents": [{"content": BODY, "title": "T", "date": "2024-03-05", "source": "Wire", "url": "https://e.com"}]},
        {"body": BODY, "title": "T", "date": "2024/03/05", "source": "Wire", "url": "https://e.com"},
    ],
    ids=["list", "documents-key", "single-record"],
)
def test_json_shapes(tmp_path: Path, payload: object) -> None:
    document = only(load_file(write(tmp_path / "data.json", json.dumps(payload))))
    assert (document.text, document.title, document.date, document.source, document.url) == (
        BODY,
        "T",
        "2024-03-05",
        "Wire",
        "https://e.com",
    )


def test_jsonl_records_and_bad_lines(tmp_path: Path) -> None:
    lines = [
        json.dumps({"text": "First article text."}),
        "",
        "{not json",
        json.dumps({"title": "no text"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"content": "   "}),
        json.dumps({"body": "Second article text.", "date": "not a date"}),
    ]
    path = write(tmp_path / "data.jsonl", "\n".join(lines) + "\n")
    report = load_path(path)
    assert [d.text for d in report.documents] == ["First article text.", "Second article text."]
    assert [d.source for d in report.documents] == ["data.jsonl", "data.jsonl"]
    assert report.documents[1].date is None
    assert report.documents[0].title == "First article text"
    assert [(s.path, s.reason.split(" (")[0]) for s in report.skipped] == [
        (f"{path}:3", "invalid JSON"),
        (f"{path}:4", "no text field"),
        (f"{path}:5", "not a JSON object"),
        (f"{path}:6", "empty"),
    ]
    assert report.origins == tuple((d.doc_id, f"{path}:{n}") for d, n in zip(report.documents, (1, 7)))
    assert len(load_file(path)) == 2


def test_invalid_json_file_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "bad.json", "{oops")
    write(tmp_path / "none.json", "[]")
    report = load_path(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert reasons["bad.json"].startswith("invalid JSON")
    assert reasons["none.json"].startswith("empty")


# --- encodings, binary and empty files -----------------------------------------------------------------

TEXT = "Caf\u00e9 \u201cquoted\u201d \u2014 costs \u20ac5."


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbf" + f" date 2025-01-24\n{TEXT}".encode("utf-8"),
        f" date 2025-01-24\n{TEXT}".encode("utf-16"),  # with BOM, native byte order
        b"\xff\xfe" + f" date 2025-01-24\n{TEXT}".encode("utf-16-le"),
        b"\xfe\xff" + f" date 2025-01-24\n{TEXT}".encode("utf-16-be"),
        f" date 2025-01-24\r\n{TEXT}".encode("cp1252"),
    ],
    ids=["utf-8-bom", "utf-16", "utf-16-le", "utf-16-be", "cp1252"],
)
def test_encodings_are_detected(tmp_path: Path, data: bytes) -> None:
    document = only(load_file(write(tmp_path / "a.txt", data)))
    assert document.text == TEXT
    assert document.date == "2025-01-24"


def test_utf8_with_a_stray_byte_stays_utf8(tmp_path: Path) -> None:
    data = TEXT.encode("utf-8") + b" Broken \xff byte."
    document = only(load_file(write(tmp_path / "a.txt", data)))
    assert document.text == TEXT + " Broken \ufffd byte."


def test_line_endings_are_normalised(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "a.txt", b"One.\r\nTwo.\r\rThree.\r\n")))
    assert document.text == "One.\nTwo.\n\nThree."


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00",
        bytes(range(1, 32)) * 20,  # control characters, no NUL
        b"text with a NUL\x00 inside",
    ],
    ids=["png", "control-chars", "nul"],
)
def test_binary_files_are_skipped(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path / "blob.txt", data)
    assert [(s.path, s.reason) for s in load_path(path).skipped] == [(str(path), "binary file")]


@pytest.mark.parametrize("content", ["", "   \n\t\n  ", " date 2025-01-24\n\n"], ids=["empty", "blank", "header-only"])
def test_empty_files_are_skipped(tmp_path: Path, content: str) -> None:
    path = write(tmp_path / "a.txt", content)
    report = load_path(path)
    assert report.documents == ()
    assert [(s.path, s.reason) for s in report.skipped] == [(str(path), "empty")]
    with pytest.raises(FileSkipped, match="empty"):
        load_file(path)


def test_files_over_the_size_limit_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "word " * 100)
    report = load_path(path, max_bytes=100)
    assert report.skipped[0].reason == "too large (500 bytes > 100 bytes limit)"
    assert len(load_path(path).documents) == 1


# --- folders, duplicates, errors -------------------------------------------------------------------------


def test_same_text_under_two_names_is_one_document(tmp_path: Path) -> None:
    first = write(tmp_path / "a.txt", BODY)
    second = write(tmp_path / "b.md", "  " + BODY.upper().replace(" ", "\n") + "\n")
    report = load_path(tmp_path)
    assert len(report.documents) == 1
    doc_id = report.documents[0].doc_id
    assert report.duplicates == ((str(second), doc_id),)
    assert report.path_of(doc_id) == str(first)


def test_folders_recurse_in_sorted_order_and_report_skips(tmp_path: Path) -> None:
    write(tmp_path / "z.txt", "Zed text.")
    write(tmp_path / "a" / "b.txt", "Bee text.")
    write(tmp_path / "a" / "a.md", "Ay text.")
    write(tmp_path / "m" / "deep" / "x.json", json.dumps({"text": "Ex text."}))
    write(tmp_path / "image.xyz", b"\x00\x01")
    write(tmp_path / "README", "no extension")
    write(tmp_path / ".hidden.txt", "Hidden text.")
    write(tmp_path / ".git" / "c.txt", "Git text.")
    report = load_path(tmp_path)
    assert [d.text for d in report.documents] == ["Ay text.", "Bee text.", "Ex text.", "Zed text."]
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("README", "unsupported type (no extension)"),
        ("image.xyz", "unsupported type .xyz"),
    ]
    assert report.duplicates == ()


def test_paths_load_in_the_order_given(tmp_path: Path) -> None:
    second = write(tmp_path / "b.txt", "Bee text.")
    first = write(tmp_path / "a.txt", "Ay text.")
    report = load_path(second, tmp_path, first)
    assert [d.text for d in report.documents] == ["Bee text.", "Ay text."]
    assert report.duplicates == ()  # the same file reached twice is not a duplicate


def test_missing_path_raises_naming_it(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", BODY)
    missing = tmp_path / "nope" / "gone.txt"
    with pytest.raises(CorpusError, match="gone.txt") as caught:
        load_path(tmp_path, missing)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(CorpusError, match="gone.txt"):
        load_file(missing)


def test_load_file_refuses_folders_and_unsupported_types(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="folder"):
        load_file(tmp_path)
    with pytest.raises(FileSkipped) as caught:
        load_file(write(tmp_path / "a.rtf", b"{\\rtf1 x}"))
    assert caught.value.reason == "unsupported type .rtf"


def test_report_is_frozen() -> None:
    report = LoadReport(documents=())
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.documents = ()  # type: ignore[misc]
    assert (report.skipped, report.duplicates) == ((), ())


def test_html_hidden_elements_do_not_supply_the_title(tmp_path: Path) -> None:
    page = "<body><svg><title>icon</title></svg><h1>Real &amp; Title</h1><p>Text.</p></body>"
    document = only(load_file(write(tmp_path / "page.html", page)))
    assert (document.title, document.text) == ("Real & Title", "Text.")  # main text (trafilatura): no heading


def test_html_pre_keeps_its_whitespace(tmp_path: Path) -> None:
    page = "<p>Code:</p><pre>def f():\n    return  1</pre><p>After   it.</p>"
    document = only(load_file(write(tmp_path / "page.html", page)))
    assert document.text == "Code:\n\ndef f():\n    return  1\n\nAfter it."


def test_the_supported_suffixes_are_exactly_those_a_loader_reads(tmp_path):
    from corpus.loaders import HTML_SUFFIXES, RECORD_SUFFIXES, SUPPORTED_SUFFIXES, TEXT_SUFFIXES, load_path

    assert sorted(SUPPORTED_SUFFIXES) == sorted(TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES | {".pdf", ".docx"})
    odd = tmp_path / "notes.rtf"
    odd.write_text("A note in another format.", encoding="utf-8")
    assert [skip.path for skip in load_path(odd).skipped] == [str(odd)]


# --- malformed JSON and JSON Lines: one bad file or line never stops a run ---------------------------------

DEEP = "[" * 100_000 + "]" * 100_000


def bad_json_folder(tmp_path: Path) -> Path:
    """A good .txt, a .json nested 100,000 levels deep, and a .jsonl whose 2nd of 3 lines is as deep."""
    folder = tmp_path / "mixed"
    write(folder / "good.txt", BODY)
    write(folder / "deep.json", DEEP)
    lines = [json.dumps({"text": "First record text."}), DEEP, json.dumps({"text": "Third record text."})]
    write(folder / "lines.jsonl", "\n".join(lines) + "\n")
    return folder


def test_deeply_nested_json_is_skipped_naming_file_and_line_and_the_rest_loads(tmp_path: Path) -> None:
    folder = bad_json_folder(tmp_path)
    report = load_path(folder)
    assert [d.text for d in report.documents] == [BODY, "First record text.", "Third record text."]
    assert [(s.path, s.reason) for s in report.skipped] == [
        (str(folder / "deep.json"), "JSON nested deeper than 500 levels (line 1 column 501)"),
        (f"{folder / 'lines.jsonl'}:2", "JSON nested deeper than 500 levels (column 501)"),
    ]
    assert [d.text for d in load_file(folder / "lines.jsonl")] == ["First record text.", "Third record text."]
    with pytest.raises(FileSkipped, match="deep.json: JSON nested deeper than 500 levels"):
        load_file(folder / "deep.json")


def test_index_command_indexes_the_good_files_and_prints_the_deep_json_skips(tmp_path, embedder, capsys) -> None:
    from qa.cli import main

    folder = bad_json_folder(tmp_path)
    assert main(["index", str(folder), "--index", str(tmp_path / "idx")], embedder=embedder) == 0
    out, err = capsys.readouterr()
    assert "added 3 documents" in out
    assert f"skipped {folder / 'deep.json'}: JSON nested deeper than 500 levels (line 1 column 501)" in err
    assert f"skipped {folder / 'lines.jsonl'}:2: JSON nested deeper than 500 levels (column 501)" in err
    assert "recursion" not in err


def test_json_depth_counts_brackets_outside_strings_only(tmp_path: Path) -> None:
    text = 'A quote " and a backslash \\ before brackets: ' + "[{" * 2_000 + "."  # escaped in the JSON
    nested = {"text": text, "title": "Nested", "source": [[[[["fine"]]]]]}
    path = write(tmp_path / "data.jsonl", json.dumps(nested) + "\n" + "[" * 400 + "]" * 400 + "\n")
    report = load_path(path)
    assert [d.text for d in report.documents] == [text]
    assert [(s.path, s.reason) for s in report.skipped] == [(f"{path}:2", "not a JSON object")]


def test_json_that_still_overflows_the_stack_is_skipped(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("corpus.records.MAX_JSON_DEPTH", 1_000_000)  # the pre-parse check lets it through
    write(tmp_path / "deep.json", DEEP)
    write(tmp_path / "lines.jsonl", DEEP + "\n" + json.dumps({"text": BODY}))
    report = load_path(tmp_path)
    assert [d.text for d in report.documents] == [BODY]
    assert [(Path(s.path).name, s.reason) for s in report.skipped] == [
        ("deep.json", "JSON nested too deeply to parse"),
        ("lines.jsonl:1", "JSON nested too deeply to parse"),
    ]


def test_jsonl_line_with_an_unconvertible_number_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "data.jsonl", '{"text": "Big.", "n": ' + "9" * 5_000 + "}\n" + json.dumps({"text": BODY}))
    report = load_path(path)
    assert [d.text for d in report.documents] == [BODY]
    reason = "invalid JSON (Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits)"
    assert [(s.path, s.reason) for s in report.skipped] == [(f"{path}:1", reason)]


def test_lone_surrogate_escapes_become_replacement_characters(tmp_path: Path) -> None:
    # JavaScript exports cut inside an emoji write "\ud83d" alone; UTF-8 cannot hold it, as bad bytes cannot.
    record = '{"text": "Cut emoji \\ud83d here.", "title": "T \\udc00"}\n' + json.dumps({"text": BODY})
    report = load_path(write(tmp_path / "data.jsonl", record))
    first, second = report.documents
    assert (first.text, first.title, second.text) == ("Cut emoji \ufffd here.", "T \ufffd", BODY)
    assert report.skipped == ()
