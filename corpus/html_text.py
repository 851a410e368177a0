"""Readable text out of an HTML page with the standard library parser: markup, scripts and styles dropped."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

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
    """The text of a page, plus the title, date and canonical url it declares (None where absent)."""

    text: str
    title: str | None
    date: str | None
    url: str | None


def html_to_text(markup: str) -> HtmlPage:
    """Text of `markup`: block elements become line breaks, entities are unescaped, whitespace is collapsed
    as a browser would (except inside <pre>). Title is `<title>`, else the first `<h1>`."""
    parser = _TextParser()
    parser.feed(markup)
    parser.close()
    return parser.page()


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
