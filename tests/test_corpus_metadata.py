"""Titles and dates read per format: Markdown front matter and bylines, JSON field names, PDF and Word
properties (generic titles replaced, file dates never used), and dates left empty rather than guessed."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from corpus import FileSkipped, load_file, load_path
from corpus.dates import parse_date
from corpus.loaders import SUPPORTED_SUFFIXES
from corpus.metadata import byline_date, is_generic_title, leading_heading
from test_corpus_loaders import only, write

BODY = "The council met on Monday. It approved the budget for the coming year."
NEXT_YEAR = dt.date.today().year + 1


def make_pdf(pages: list[list[str]], info: dict[str, str] | None = None) -> bytes:
    """A PDF written by pypdf: each page a list of Helvetica text lines, top down; `info` the /Info entries."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    font = DictionaryObject(
        {NameObject(key): NameObject(value) for key, value in
         (("/Type", "/Font"), ("/Subtype", "/Type1"), ("/BaseFont", "/Helvetica"))}
    )
    for lines in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        content = DecodedStreamObject()
        shown = " ".join(f"({line}) Tj 0 -16 Td" for line in lines)
        content.set_data(f"BT /F1 12 Tf 72 720 Td {shown} ET".encode("latin-1"))
        page.replace_contents(content)
    if info is not None:
        writer.add_metadata({f"/{key}": value for key, value in info.items()})
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def make_docx(path: Path, paragraphs: list[tuple[str, str | None]], *, title: str | None = None,
              table: list[list[str]] | None = None) -> Path:
    """A .docx of (text, style) paragraphs, an optional table after them, and an optional core title."""
    import docx

    document = docx.Document()
    for text, style in paragraphs:
        document.add_paragraph(text, style=style)
    if table is not None:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for row, values in zip(grid.rows, table):
            for cell, value in zip(row.cells, values):
                cell.text = value
    if title is not None:
        document.core_properties.title = title
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


# --- dates: ISO out, nothing guessed --------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "2025-03-14",
        "2025/03/14",
        "2025-03-14T09:30:00Z",
        "2025-03-14 09:30:00 +0100",
        "14 March 2025",
        "14th March, 2025",
        "March 14, 2025",
        "Mar. 14 2025",
        "Fri, 14 Mar 2025 09:30:00 GMT",
        "Friday, 14 March 2025",
        "14 March 2025 at 9:30 pm",
    ],
)
def test_dates_are_normalised_to_iso(spelling: str) -> None:
    assert parse_date(spelling) == "2025-03-14"


@pytest.mark.parametrize(
    "spelling",
    [
        "03/04/2025",  # 3 April or 4 March
        "14/03/2025",  # day-first numbers are not read at all, so no corpus is half dated
        "03-04-2025",
        "March 2025",  # no day
        "Sat, 14 Mar 2025",  # 14 March 2025 was a Friday
        "1899-12-31",
        f"{NEXT_YEAR + 1}-01-01",
        "2025-02-30",
        "14 Marchish 2025",
        "yesterday",
    ],
)
def test_ambiguous_or_implausible_dates_are_left_empty(spelling: str) -> None:
    assert parse_date(spelling) is None


def test_the_plausible_years_run_from_1900_to_next_year() -> None:
    assert parse_date("1900-01-01") == "1900-01-01"
    assert parse_date(f"{NEXT_YEAR}-12-31") == f"{NEXT_YEAR}-12-31"


# --- bylines and headings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, date",
    [
        ("By Jane Doe · 14 March 2025", "2025-03-14"),
        ("Published 2 February 2025", "2025-02-02"),
        ("March 14, 2025", "2025-03-14"),
        ("2025-03-14", "2025-03-14"),
        ("*Published: 2 Feb 2025*", "2025-02-02"),
        ("Posted on Friday, 14 March 2025 at 9:30 am", "2025-03-14"),
        ("By Jane Doe, 14 March 2025", "2025-03-14"),
        ("March 14, 2025 by Jane Doe", "2025-03-14"),
        ("Jane Doe | 2025-03-14 | 4 min read", "2025-03-14"),
        ("By Jane Doe · Updated 5 March 2025 · Published 2 March 2025", "2025-03-02"),
        ("On 14 March 2025 the council met.", None),
        ("Updated 5 March 2025", None),
        ("By Jane Doe, updated March 5, 2025", None),
        ("Published 03/04/2025", None),
        ("Dec 03, 26 15:05   notes.txt   Page 1/2", None),  # a converter's running header
    ],
)
def test_byline_dates(line: str, date: str | None) -> None:
    assert byline_date(f"# A Title\n\n{line}\n\n{BODY}") == date


def test_a_byline_is_only_looked_for_near_the_top() -> None:
    filler = "\n\n".join(f"Paragraph {n} of the story." for n in range(10))
    assert byline_date(f"{filler}\n\nPublished 2 February 2025") is None


@pytest.mark.parametrize(
    "title",
    ["Enscript Output", "Microsoft Word - report.doc", "untitled", "Untitled document", "foo.doc", "", "  ",
     "Document1", "Untitled-1", "Slide 3", r"C:\work\draft", "/tmp/x", "---"],
)
def test_generic_titles(title: str) -> None:
    assert is_generic_title(title)


@pytest.mark.parametrize("title", ["Council Approves Budget", "Annual Report 2024", "The Title", "Word"])
def test_real_titles_are_not_generic(title: str) -> None:
    assert not is_generic_title(title)


@pytest.mark.parametrize(
    "text, heading",
    [
        ("Council Approves Budget\nThe council met on Monday.", "Council Approves Budget"),
        ("3\nhttps://example.com/a\nBy Ann · 2025-03-14\nCouncil Approves Budget\nBody.", "Council Approves Budget"),
        ("Dec 03, 26 15:05 Page 1/1\nCouncil Approves Budget\nBody.", "Council Approves Budget"),
        ("Short first sentence. More.", None),
        ("the council met on Monday and approved", None),
        ("A line that ends like a sentence.", None),
        (" ".join(["word"] * 20), None),
    ],
)
def test_leading_heading(text: str, heading: str | None) -> None:
    assert leading_heading(text) == heading


# --- Markdown and plain text -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "byline, date",
    [
        ("By Jane Doe · 14 March 2025", "2025-03-14"),
        ("Published 2 February 2025", "2025-02-02"),
        ("March 14, 2025", "2025-03-14"),
        ("2025-03-14", "2025-03-14"),
        ("03/04/2025", None),
    ],
)
def test_markdown_heading_and_byline(tmp_path: Path, byline: str, date: str | None) -> None:
    text = f"# Budget Approved\n\n{byline}\n\n{BODY}"
    document = only(load_file(write(tmp_path / "a.md", text)))
    assert (document.title, document.date) == ("Budget Approved", date)
    assert document.text == text  # the byline stays in the text


def test_plain_text_byline_gives_the_date(tmp_path: Path) -> None:
    document = only(load_file(write(tmp_path / "a.txt", f"Budget Approved\nBy Jane Doe · 14 March 2025\n\n{BODY}")))
    assert document.date == "2025-03-14"


@pytest.mark.parametrize(
    "front, title, date",
    [
        ('title: "Front Title"\ndate: 2025-03-14', "Front Title", "2025-03-14"),
        ("title: Front Title\npublished: March 14, 2025", "Front Title", "2025-03-14"),
        ("title: T\npublishDate: 2025-03-14T09:00:00+01:00", "T", "2025-03-14"),
        ("title: T\ndate: 2025-03-14 09:30:00 +0100", "T", "2025-03-14"),  # Jekyll's spelling
        ("title: T\ndate: 03/04/2025\npubDate: Fri, 14 Mar 2025 09:00:00 GMT", "T", "2025-03-14"),
        ("title: T\nupdated: 2025-04-01\nlastmod: 2025-04-02", "T", None),  # edit dates are not publication dates
        ("title: T\ndate: 03/04/2025", "T", None),
        ("title: T\ndate: 1850-01-01", "T", None),
        ("title: T\ndate: 14 March 2025", "T", "2025-03-14"),
    ],
)
def test_markdown_front_matter_keys(tmp_path: Path, front: str, title: str, date: str | None) -> None:
    document = only(load_file(write(tmp_path / "a.md", f"---\n{front}\n---\n# Heading\n\n{BODY}")))
    assert (document.title, document.date) == (title, date)
    assert document.text == f"# Heading\n\n{BODY}"


def test_front_matter_date_wins_over_a_byline(tmp_path: Path) -> None:
    text = f"---\ndate: 2025-01-02\n---\n# Heading\n\nPublished 2 February 2025\n\n{BODY}"
    assert only(load_file(write(tmp_path / "a.md", text))).date == "2025-01-02"


def test_markdown_without_a_byline_has_no_date(tmp_path: Path) -> None:
    text = f"# Heading\n\nOn 14 March 2025 the council met. {BODY}"
    assert only(load_file(write(tmp_path / "a.md", text))).date is None


# --- JSON and JSON Lines -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "record, expected",
    [
        ({"headline": "H", "published": "14 March 2025", "link": "https://e.com/a", "text": BODY},
         ("H", "2025-03-14", "https://e.com/a")),
        ({"@type": "NewsArticle", "headline": "H", "datePublished": "2025-03-14T09:00:00Z",
          "url": "https://e.com/a", "articleBody": BODY}, ("H", "2025-03-14", "https://e.com/a")),
        ({"name": "N", "pubDate": "Fri, 14 Mar 2025 09:00:00 GMT", "body": BODY}, ("N", "2025-03-14", None)),
        ({"title": "T", "published_at": "2025-03-14 09:00:00", "content": BODY}, ("T", "2025-03-14", None)),
        ({"title": "T", "publishedAt": "2025-03-14T09:00:00.000Z", "text": BODY}, ("T", "2025-03-14", None)),
        ({"title": "T", "headline": "H", "date": "2025-03-14", "published": "2024-01-01", "text": BODY},
         ("T", "2025-03-14", None)),
        ({"title": "T", "date": "03/04/2025", "published": "2025-03-14", "text": BODY}, ("T", "2025-03-14", None)),
        ({"title": "T", "date": "03/04/2025", "text": BODY}, ("T", None, None)),
        ({"title": "T", "published": True, "updated": "2025-03-14", "text": BODY}, ("T", None, None)),
        ({"headline": {"main": "nested"}, "text": BODY}, ("The council met on Monday", None, None)),
    ],
)
def test_json_record_field_names(tmp_path: Path, record: dict, expected: tuple) -> None:
    document = only(load_file(write(tmp_path / "data.json", json.dumps(record))))
    assert (document.title, document.date, document.url) == expected
    assert document.text == BODY


def test_jsonl_records_read_the_same_names(tmp_path: Path) -> None:
    lines = [
        json.dumps({"headline": "First", "datePublished": "2025-03-14", "articleBody": "First article text."}),
        json.dumps({"title": "no text", "published": "2025-03-14"}),
    ]
    report = load_path(write(tmp_path / "data.jsonl", "\n".join(lines)))
    assert [(d.title, d.date) for d in report.documents] == [("First", "2025-03-14")]
    assert [s.reason for s in report.skipped] == ["no text field (text, content, body or articleBody)"]


# --- PDF ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "generic", ["Enscript Output", "Microsoft Word - budget.doc", "untitled", "Untitled document", "foo.doc", ""]
)
def test_generic_pdf_titles_give_way_to_the_first_heading(tmp_path: Path, generic: str) -> None:
    pages = [["Council Approves Budget", "The council met on Monday.", "It approved the budget."], ["Page two."]]
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, {"Title": generic}))))
    assert document.title == "Council Approves Budget"


def test_a_real_pdf_title_is_kept(tmp_path: Path) -> None:
    pages = [["Council Approves Budget", "The council met on Monday."]]
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, {"Title": "Budget 2025: the vote"}))))
    assert document.title == "Budget 2025: the vote"


def test_a_converters_running_header_is_not_the_title(tmp_path: Path) -> None:
    pages = [["Dec 03, 26 15:05 Page 1/1", "Council Approves Budget", "The council met on Monday."]]
    info = {"Title": "Enscript Output", "CreationDate": "D:20261203150500Z"}
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, info))))
    assert (document.title, document.date) == ("Council Approves Budget", None)


def test_a_generic_pdf_title_without_a_heading_falls_back_to_the_first_sentence(tmp_path: Path) -> None:
    pages = [["The council met on Monday. It approved the budget."]]
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, {"Title": "Enscript Output"}))))
    assert document.title == "The council met on Monday"


def test_pdf_creation_date_is_not_the_publication_date(tmp_path: Path) -> None:
    pages = [["Council Approves Budget", "The council met on Monday."]]
    info = {"Title": "Budget", "CreationDate": "D:20250314093000+01'00'"}
    assert only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, info)))).date is None


def test_pdf_byline_gives_the_date(tmp_path: Path) -> None:
    pages = [["Council Approves Budget", "By Jane Doe - 14 March 2025", "The council met on Monday."]]
    document = only(load_file(write(tmp_path / "doc.pdf", make_pdf(pages, {"CreationDate": "D:20261203"}))))
    assert (document.title, document.date) == ("Council Approves Budget", "2025-03-14")


# --- Word (.docx) ------------------------------------------------------------------------------------------


def test_docx_is_a_supported_suffix_and_loads_from_a_folder(tmp_path: Path) -> None:
    assert ".docx" in SUPPORTED_SUFFIXES
    make_docx(tmp_path / "folder" / "a.docx", [("A Word article about the budget.", None)])
    report = load_path(tmp_path / "folder")
    assert [d.text for d in report.documents] == ["A Word article about the budget."]
    assert report.documents[0].source == "a.docx"


def test_docx_core_title_text_and_tables(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "a.docx",
        [("Council Approves Budget", "Title"), ("The council met on Monday.", None), ("", None),
         ("It approved the budget.", None)],
        title="Budget: the vote",
        table=[["Item", "Cost"], ["Roads", "2 million"]],
    )
    document = only(load_file(path))
    assert document.title == "Budget: the vote"
    assert document.text == (
        "Council Approves Budget\n\nThe council met on Monday.\n\nIt approved the budget."
        "\n\nItem | Cost\n\nRoads | 2 million"
    )


def test_docx_merged_cells_are_read_once(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph("The figures follow.")
    table = document.add_table(rows=2, cols=3)
    merged = table.cell(0, 0).merge(table.cell(0, 2))
    merged.text = "Spanning header"
    for cell, value in zip(table.rows[1].cells, ("a", "b", "c")):
        cell.text = value
    document.save(str(tmp_path / "t.docx"))
    assert only(load_file(tmp_path / "t.docx")).text == "The figures follow.\n\nSpanning header\n\na | b | c"


@pytest.mark.parametrize(
    "core_title, paragraphs",
    [
        ("", [("Council Approves Budget", "Title"), (BODY, None)]),
        ("Microsoft Word - budget.doc", [("Council Approves Budget", "Heading 1"), (BODY, None)]),
        ("Untitled document", [("Council Approves Budget", None), (BODY, None)]),
        (None, [("Council Approves Budget", None), (BODY, None)]),
    ],
)
def test_docx_title_falls_back_to_the_first_heading(tmp_path: Path, core_title: str | None, paragraphs) -> None:
    document = only(load_file(make_docx(tmp_path / "a.docx", paragraphs, title=core_title)))
    assert document.title == "Council Approves Budget"


def test_docx_without_a_heading_gets_the_first_sentence(tmp_path: Path) -> None:
    document = only(load_file(make_docx(tmp_path / "a.docx", [(BODY, None)])))
    assert document.title == "The council met on Monday"


def test_docx_date_comes_from_a_byline_never_from_created(tmp_path: Path) -> None:
    import docx

    assert docx.Document().core_properties.created.year == 2013  # python-docx's blank document: a template's date
    undated = only(load_file(make_docx(tmp_path / "a.docx", [("Council Approves Budget", "Title"), (BODY, None)])))
    assert undated.date is None
    paragraphs = [("Council Approves Budget", "Title"), ("By Jane Doe · 14 March 2025", None), (BODY, None)]
    dated = only(load_file(make_docx(tmp_path / "b.docx", paragraphs)))
    assert (dated.title, dated.date) == ("Council Approves Budget", "2025-03-14")


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04 not really a zip", b"this is a .doc renamed", b"PK\x05\x06" + b"\x00" * 18],
    ids=["broken-zip", "not-a-zip", "empty-zip"],
)
def test_a_corrupt_docx_is_skipped_with_a_reason_and_the_run_goes_on(tmp_path: Path, content: bytes) -> None:
    folder = tmp_path / "mixed"
    broken = write(folder / "broken.docx", content)
    write(folder / "good.txt", BODY)
    report = load_path(folder)
    assert [d.text for d in report.documents] == [BODY]
    assert [s.path for s in report.skipped] == [str(broken)]
    assert report.skipped[0].reason.startswith("unreadable DOCX (")
    with pytest.raises(FileSkipped, match="unreadable DOCX"):
        load_file(broken)


def test_a_docx_without_text_is_skipped_as_empty(tmp_path: Path) -> None:
    path = make_docx(tmp_path / "blank.docx", [("", None), ("   ", None)])
    with pytest.raises(FileSkipped) as caught:
        load_file(path)
    assert caught.value.reason == "empty"


def test_a_docx_that_unpacks_too_large_is_skipped_unread(tmp_path: Path, monkeypatch) -> None:
    import corpus.docx_text

    monkeypatch.setattr(corpus.docx_text, "MAX_XML_BYTES", 1_000)
    path = make_docx(tmp_path / "a.docx", [(BODY, None)])
    with pytest.raises(FileSkipped) as caught:
        load_file(path)
    assert caught.value.reason.startswith("too large unpacked")


def test_corpus_import_does_not_load_python_docx() -> None:
    code = "import sys, corpus; print('docx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
