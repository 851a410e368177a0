"""Article metadata held in the text itself: ` key value` header lines, Markdown front matter and headings,
byline dates near the top, heading-like first lines, and a readable title derived from the first sentence
when none is given. Titles a converter or editor puts in a file's properties ("Enscript Output",
"Microsoft Word - a.doc", "Untitled") are recognised as saying nothing (`is_generic_title`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from corpus.dates import match_date, parse_date
from corpus.sentences import sentence_spans

HEADER_KEYS = ("title", "date", "source", "url")
# Front-matter keys read for each field (compared in lower case); the first that holds a usable value wins.
# Publication dates only: `updated`, `lastmod` and `modified` say when a page was edited and are not read.
FRONT_MATTER_KEYS = {
    "title": ("title",),
    "date": ("date", "published", "publishdate", "pubdate"),
    "source": ("source",),
    "url": ("url",),
}
TITLE_MAX_CHARS = 80
BYLINE_LINES = 6  # non-blank lines at the top of a body searched for a byline date or a heading
BYLINE_MAX_CHARS = 160
HEADING_MAX_WORDS = 15

# ` key value`: one leading space, a lower-case key, spaces, then the value (maybe the body too).
_HEADER = re.compile(r" ([a-z]+)[^\S\n]+([^\n]*)(?:\n|$)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_FRONT_MATTER = re.compile(r"---[^\S\n]*\n(?P<block>(?:[^\n]*\n){0,50}?)---[^\S\n]*(?:\n|$)")
_FRONT_MATTER_LINE = re.compile(r"(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*)")
_ATX_HEADING = re.compile(r"#[^\S\n]+(?P<title>[^\n]+?)(?:[^\S\n]+#+)?[^\S\n]*(?:\n|$)")
# Bylines: "By Jane Doe · 14 March 2025", "Published: 2 February 2025", "*March 14, 2025*", "2025-03-14".
_DECORATION = " \t*_>`~()[],"
_BYLINE_SEPARATOR = re.compile(r"\s*[·|•]\s*|\s+[—–-]\s+")
_BYLINE_LABEL = re.compile(r"(?i)(?:first\s+)?(?:published|posted|dated?|released)(?:\s+on)?\s*:?\s*")
_BY = re.compile(r"(?i)by\s+\S")
_BY_AUTHOR = re.compile(r"(?i)\s+by\s+\D+")  # after the date: "March 14, 2025 by Jane Doe"
_EDIT_WORD = re.compile(r"(?i)\b(?:updated|modified|edited|revised)\b")
_WORD_START = re.compile(r"(?<![\w/.-])(?=\w)")
# A page number alone ("3", "3/12"), or a running header ending in one ("Mar 14, 25 10:00  notes.txt  Page 1/2").
_PAGE_NUMBER = re.compile(r"(?i)(?:.*\s)?page\s+\d+(?:\s*(?:/|of)\s*\d+)?|\d+(?:\s*(?:/|of)\s*\d+)?")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+\S")
# Titles that name no article: converters' and editors' defaults, and file names or paths.
_GENERIC_TITLES = frozenset(
    {"a2ps output", "default", "document", "enscript output", "no title", "none", "null", "powerpoint presentation",
     "presentation", "print", "title", "unknown", "untitled", "untitled document"}
)
_GENERIC_TITLE = re.compile(
    r"(?i)microsoft\s+(?:office\s+)?(?:word|powerpoint|excel)\s*-.*"  # "Microsoft Word - report.doc"
    r"|(?:untitled|document|presentation|slide)[\s_-]*\d+"  # "Untitled-1", "Document1", "Slide 3"
    r"|.*\.(?:docx?|dotx?|odt|rtf|txt|md|pdf|ps|eps|dvi|tex|html?|pptx?|xlsx?|pages|indd|wpd)"  # a file name
    r"|[A-Za-z]:\\.*|/.*|~/.*"  # a path
)


@dataclass(frozen=True)
class Metadata:
    """Fields a file may state about its article; None where it says nothing."""

    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None


def split_header(text: str) -> tuple[Metadata, str]:
    """Read leading ` key value` lines (keys: title, date, source, url) off `text`: (metadata, rest of text).

    `title` and `source` take the rest of their line. `date` and `url` take one value, and any text after it
    on the same line is the start of the body (the seed articles begin " date 2025-01-24 Allies of...").
    A line with an unknown key, or a date or url that does not parse, ends the header and stays in the body.
    """
    fields: dict[str, str] = {}
    position = 0
    while (match := _HEADER.match(text, position)) is not None:
        key, value = match.group(1), match.group(2)
        if key not in HEADER_KEYS or key in fields:
            break
        if key in ("title", "source"):
            if not value.strip():
                break
            fields[key] = value.strip()
            position = match.end()
            continue
        if key == "date":
            found = match_date(value)
            parsed = None if found is None else found[0]
            length = 0 if found is None else found[1]
        else:
            url = _URL.match(value)
            parsed = None if url is None else url.group()
            length = 0 if url is None else url.end()
        if parsed is None:
            break
        fields[key] = parsed
        if value[length:].strip():
            position = match.start(2) + length  # the body begins on this line
            break
        position = match.end()
    return Metadata(**fields), text[position:]


def split_front_matter(text: str) -> tuple[Metadata, str]:
    """Read a Markdown `---` front-matter block off the start of `text`: (metadata, rest of text).

    The keys read are FRONT_MATTER_KEYS (title; date, published, publishDate or pubDate; source; url); a
    date that does not parse is left out and the next date key is tried."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return Metadata(), text
    values: dict[str, str] = {}
    for line in match.group("block").splitlines():
        pair = _FRONT_MATTER_LINE.fullmatch(line.strip())
        if pair is None:
            continue
        value = pair.group("value").strip().strip("\"'").strip()
        if value:
            values[pair.group("key").lower()] = value
    fields: dict[str, str] = {}
    for field, keys in FRONT_MATTER_KEYS.items():
        found = (values[key] for key in keys if key in values)
        if field == "date":
            found = (date for date in map(parse_date, found) if date is not None)
        value = next(found, None)
        if value is not None:
            fields[field] = value
    return Metadata(**fields), text[match.end() :]


def text_metadata(text: str, *, markdown: bool) -> tuple[Metadata, str]:
    """The metadata of a plain-text or Markdown article, and its body (what is left to index).

    Plain text: ` key value` header lines. Markdown: front matter, then header lines, then a leading
    `# Heading` for the title. Both: a byline date near the top of the body when nothing above gave a date.
    """
    if markdown:
        front, body = split_front_matter(text)
        header, body = split_header(body)
        metadata = merged(merged(front, header), Metadata(title=markdown_heading(body)))
    else:
        metadata, body = split_header(text)
    if metadata.date is None:
        metadata = replace(metadata, date=byline_date(body))
    return metadata, body


def markdown_heading(text: str) -> str | None:
    """The text of a leading level-1 `# Heading`, if the document opens with one."""
    match = _ATX_HEADING.match(text.lstrip())
    return None if match is None else match.group("title").strip()


def byline_date(text: str) -> str | None:
    """The date of a byline in the first BYLINE_LINES non-blank lines of `text`, or None.

    A line is split at "·", "|", "•" and spaced dashes; a part counts when, past a label such as "Published",
    "Posted on" or "Date:", it is a date alone (a weekday before it and a time after it are allowed):
    "By Jane Doe · 14 March 2025", "Published 2 February 2025", "*March 14, 2025*", "2025-03-14 09:30".
    "By Jane Doe, 14 March 2025" and "March 14, 2025 by Jane Doe" count too. A date inside a sentence ("On
    14 March 2025 the council met") and an edit date ("Updated 5 March 2025") do not.
    """
    for line in _top_lines(text, BYLINE_LINES):
        date = _line_date(line)
        if date is not None:
            return date
    return None


def _line_date(line: str) -> str | None:
    line = line.strip(_DECORATION)
    if len(line) > BYLINE_MAX_CHARS:
        return None
    for segment in _BYLINE_SEPARATOR.split(line):
        segment = segment.strip(_DECORATION)
        label = _BYLINE_LABEL.match(segment)
        rest = segment if label is None else segment[label.end() :]
        date = parse_date(rest)
        if date is None and (found := match_date(rest)) is not None and _BY_AUTHOR.fullmatch(rest[found[1] :]):
            date = found[0]
        if date is None and _BY.match(segment):
            date = _date_after_author(segment)
        if date is not None:
            return date
    return None


def _date_after_author(segment: str) -> str | None:
    """The date ending "By Jane Doe, 14 March 2025", unless an edit word ("updated") comes before it."""
    for match in _WORD_START.finditer(segment):
        date = parse_date(segment[match.start() :])
        if date is not None:
            return None if _EDIT_WORD.search(segment[: match.start()]) else date
    return None


def leading_heading(text: str) -> str | None:
    """The first line of `text` if it reads as a heading, whitespace collapsed (cut to TITLE_MAX_CHARS), or None.

    For files whose properties name no title (PDF, Word). A heading has at most HEADING_MAX_WORDS words, a
    letter, no lower-case start, no sentence break inside and no ".,;:-" at its end, and is not itself a
    generic title. Lines before it holding only a page number (or a running header ending "Page 1/2"), a URL
    or a byline date are passed over.
    """
    for line in _top_lines(text, BYLINE_LINES):
        line = " ".join(line.split())
        if _PAGE_NUMBER.fullmatch(line) or _URL.fullmatch(line) or _line_date(line) is not None:
            continue
        if (
            len(line.split()) > HEADING_MAX_WORDS
            or line[0].islower()
            or line[-1] in ".,;:-"
            or _SENTENCE_BREAK.search(line)
            or is_generic_title(line)
        ):
            return None
        return shorten(line, TITLE_MAX_CHARS)
    return None


def is_generic_title(title: str) -> bool:
    """Whether a title from a file's properties names no article: empty, without a letter, a converter's or
    editor's default ("Enscript Output", "Microsoft Word - a.doc", "Untitled document", "Document1"), or a
    file name or path ("report.doc", "C:\\work\\a")."""
    title = " ".join(title.split())
    return (
        not any(char.isalpha() for char in title)
        or title.casefold() in _GENERIC_TITLES
        or _GENERIC_TITLE.fullmatch(title) is not None
    )


def _top_lines(text: str, count: int) -> Iterator[str]:
    """The first `count` non-blank lines of `text`, read without splitting the whole text."""
    position = 0
    while count > 0 and position < len(text):
        end = text.find("\n", position)
        end = len(text) if end < 0 else end
        line = text[position:end]
        position = end + 1
        if line.strip():
            count -= 1
            yield line


def derive_title(text: str, max_chars: int = TITLE_MAX_CHARS) -> str:
    """A readable title from the first sentence: whitespace collapsed, cut at a word to `max_chars` with "…"."""
    spans = sentence_spans(text)
    if not spans:
        return ""
    start, end = spans[0]
    sentence = " ".join(text[start:end].split())
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1]
    return shorten(sentence, max_chars)


def shorten(text: str, max_chars: int) -> str:
    """`text` if it fits in `max_chars`, else cut at the last word boundary that fits, plus "…"."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars - 1]
    if text[max_chars - 1] != " " and " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:–—-") + "…"


def merged(first: Metadata, second: Metadata) -> Metadata:
    """`first`, with its missing fields filled from `second`."""
    return replace(
        first,
        title=second.title if first.title is None else first.title,
        date=second.date if first.date is None else first.date,
        source=second.source if first.source is None else first.source,
        url=second.url if first.url is None else first.url,
    )
