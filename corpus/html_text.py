"""Readable text out of an HTML page.

`read_html` is what the loaders use: the page's main text (the article, without menus, footers, comments...)
and its title, date and url, found by trafilatura; when trafilatura finds no main text it falls back to
`html_to_text`, the whole page's visible text read with the standard library parser (markup, scripts and
styles dropped), and says so in `HtmlPage.note`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Any

from corpus.dates import parse_date

# Elements whose content is never article text.
_HIDDEN = frozenset({"script", "style", "noscript", "template", "svg", "math", "iframe", "object"})
# Elements that end a paragraph: a blank line in the text, which the sentence splitter treats as a boundary.
_PARAGRAPH = frozenset(
    """
    address article aside blockquote caption dd details dialog div dl dt fieldset figcaption figure footer form
    h1 h2 h3 h4 h5 h6 header hgroup hr li main nav ol p pre section summary table td th tr ul
    """.split()
)
_LINE = frozenset({"br"})
_DATE_META = frozenset({"date", "article:published_time", "datepublished", "dc.date", "pubdate", "publish-date"})
_URL_META = frozenset({"og:url"})
_SPACES = re.compile(r"\s+")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class HtmlPage:
    """The text of a page, plus the title, date and canonical url it declares (None where absent).

    `note` says why the text is the whole page's rather than its main text (`read_html` fell back), else None.
    """

    text: str
    title: str | None
    date: str | None
    url: str | None
    note: str | None = None


def html_to_text(markup: str) -> HtmlPage:
    """Text of `markup`: block elements become line breaks, entities are unescaped, whitespace is collapsed
    as a browser would (except inside <pre>). Title is `<title>`, else the first `<h1>`."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    return parser.page()


# How citeqa runs trafilatura: comments are not the article; tables are kept; metadata is read; dates come only
# from the page itself (its meta tags, JSON-LD, url, <time> and date-marked elements, a dated byline): no
# extensive free-text search, which guesses; the original publication date rather than the last update.
TRAFILATURA_OPTIONS: dict[str, Any] = {
    "include_comments": False,
    "include_tables": True,
    "with_metadata": True,
    "date_extraction_params": {"extensive_search": False, "original_date": True},
}
# trafilatura.settings keys changed from their defaults. MIN_EXTRACTED_SIZE 0: a short or empty main text is
# not silently replaced by trafilatura's whole-page "baseline" (a page of menus would come back as its menus
# with no word said), so an empty one reaches our fallback, which says so; on the 181 benchmark pages the
# scores do not move (benchmarks/README.md). MIN_OUTPUT_SIZE 0: an empty main text comes back as "" rather
# than None, so the page's metadata is kept for the fallback and trafilatura logs no warning. No extensive
# date search, in case a caller leaves out date_extraction_params.
_CONFIG_CHANGES = {"MIN_EXTRACTED_SIZE": "0", "MIN_OUTPUT_SIZE": "0", "MIN_OUTPUT_COMM_SIZE": "0",
                   "EXTENSIVE_DATE_SEARCH": "off"}
# Never the article, and trafilatura's last-resort whole-page extraction would keep their text.
_DROP_FIRST = "//noscript|//template"
# trafilatura's body elements whose children are blocks of their own (the others are rendered whole).
_CONTAINERS = frozenset({"body", "div", "doc", "main", "article", "section"})
_NO_MAIN_TEXT = "no main text found"


def read_html(markup: str, **options: Any) -> HtmlPage:
    """The article of a web page: its main text, title, date (ISO) and url, by trafilatura, never fetching
    anything; blocks (paragraphs, headings, lists, tables) are separated by blank lines.

    Where trafilatura finds no main text (or fails on the page), the text is `html_to_text`'s (the whole page)
    and `note` says so; title, date and url still come from trafilatura's metadata where it read them.
    `options` override `TRAFILATURA_OPTIONS` (keyword arguments of `trafilatura.bare_extraction`; `config`
    replaces citeqa's trafilatura settings, `_CONFIG_CHANGES`).
    """
    try:
        found = _extract(markup, {**TRAFILATURA_OPTIONS, **options})
        reason = _NO_MAIN_TEXT
    except Exception as err:  # trafilatura or lxml tripping over odd markup: the page still loads, whole
        found, reason = None, f"main text extraction failed ({type(err).__name__}: {str(err)[:200]})"
    if found is not None and found.text:
        return found
    page = html_to_text(markup)
    note = f"{reason}; kept the whole page's text"
    if found is None:
        return replace(page, note=note)
    return HtmlPage(page.text, found.title or page.title, found.date or page.date, found.url or page.url, note)


def _extract(markup: str, options: dict[str, Any]) -> HtmlPage | None:
    """trafilatura's main text (maybe "") and metadata; None when the markup does not parse as a page."""
    from trafilatura import bare_extraction, load_html  # imported when first used: it takes a while

    tree = load_html(markup)  # parsed here, so that no string can reach htmldate's "it is a URL: fetch it"
    if tree is None:
        return None
    for element in tree.xpath(_DROP_FIRST):
        element.drop_tree()
    document = bare_extraction(tree, **{"config": _trafilatura_config(), **options})
    if document is None:
        return None
    text = "\n\n".join(_blocks(document.body)) if document.body is not None else ""
    date = document.date and parse_date(document.date)
    return HtmlPage(text=text, title=_one_line(document.title), date=date or None, url=document.url or None)


def _blocks(element: Any) -> Iterator[str]:
    """The text of each block of trafilatura's output tree, in order."""
    from trafilatura.xml import xmltotxt

    if (element.text or "").strip():
        yield element.text.strip()
    for child in element:
        if child.tag in _CONTAINERS and len(child):
            yield from _blocks(child)
            if (child.tail or "").strip():
                yield child.tail.strip()
        elif text := xmltotxt(child, False).strip():  # includes the child's tail
            yield text


@functools.cache
def _trafilatura_config() -> Any:
    from trafilatura.settings import use_config

    config = use_config()  # a fresh ConfigParser of trafilatura's defaults, ours alone
    for key, value in _CONFIG_CHANGES.items():
        config.set("DEFAULT", key, value)
    return config


def _one_line(text: str | None) -> str | None:
    return " ".join(text.split()) or None if text else None


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[str] = []
        self._pending_newlines = 0
        self._hidden_depth = 0
        self._pre_depth = 0
        self._title: list[str] | None = None  # collecting while inside <title>
        self._h1: list[str] | None = None  # collecting while inside the first <h1>
        self._title_text: str | None = None
        self._h1_text: str | None = None
        self._date: str | None = None
        self._url: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta" or tag == "link":
            self._read_meta(tag, dict(attrs))
        if tag in _HIDDEN:
            self._hidden_depth += 1
            return
        if self._hidden_depth:
            return  # e.g. an SVG <title> is not the page title
        if tag == "title" and self._title_text is None:
            self._title = []
            return
        if tag == "pre":
            self._pre_depth += 1
        if tag == "h1" and self._h1_text is None and self._h1 is None:
            self._h1 = []
        self._break(2 if tag in _PARAGRAPH else 1 if tag in _LINE else 0)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
            return
        if self._hidden_depth:
            return
        if tag == "title" and self._title is not None:
            self._title_text = " ".join("".join(self._title).split()) or None
            self._title = None
            return
        if tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag == "h1" and self._h1 is not None:
            self._h1_text = " ".join("".join(self._h1).split()) or None
            self._h1 = None
        self._break(2 if tag in _PARAGRAPH else 0)

    def handle_data(self, data: str) -> None:
        if self._hidden_depth:
            return
        if self._title is not None:
            self._title.append(data)
            return
        if self._h1 is not None:
            self._h1.append(data)
        if not self._pre_depth:
            data = _SPACES.sub(" ", data)
            if self._at_line_start():
                data = data.lstrip(" ")
        if not data:
            return
        if self._pending_newlines and self._out:
            self._out[-1] = self._out[-1].rstrip(" ")
            self._out.append("\n" * self._pending_newlines)
        self._pending_newlines = 0
        self._out.append(data)

    def page(self) -> HtmlPage:
        text = _EXTRA_BLANK_LINES.sub("\n\n", "".join(self._out)).strip()
        return HtmlPage(text=text, title=self._title_text or self._h1_text, date=self._date, url=self._url)

    def _break(self, newlines: int) -> None:
        self._pending_newlines = max(self._pending_newlines, newlines)

    def _at_line_start(self) -> bool:
        return not self._out or self._pending_newlines > 0 or self._out[-1].endswith("\n")

    def _read_meta(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "link":
            if (attrs.get("rel") or "").lower() == "canonical" and attrs.get("href") and self._url is None:
                self._url = attrs["href"]
            return
        name = (attrs.get("name") or attrs.get("property") or attrs.get("itemprop") or "").lower()
        content = attrs.get("content")
        if not content:
            return
        if name in _DATE_META and self._date is None:
            self._date = parse_date(content) or parse_date(content[:10])
        elif name in _URL_META and self._url is None:
            self._url = content
