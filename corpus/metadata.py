"""Article metadata held in the text itself: ` key value` header lines, Markdown front matter and headings,
and a readable title derived from the first sentence when none is given."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from corpus.dates import match_date, parse_date
from corpus.sentences import sentence_spans

HEADER_KEYS = ("title", "date", "source", "url")
TITLE_MAX_CHARS = 80

# ` key value`: one leading space, a lower-case key, spaces, then the value (maybe the body too).
_HEADER = re.compile(r" ([a-z]+)[^\S\n]+([^\n]*)(?:\n|$)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_FRONT_MATTER = re.compile(r"---[^\S\n]*\n(?P<block>(?:[^\n]*\n){0,50}?)---[^\S\n]*(?:\n|$)")
_FRONT_MATTER_LINE = re.compile(r"(?P<key>[A-Za-z_]+)\s*:\s*(?P<value>.*)")
_ATX_HEADING = re.compile(r"#[^\S\n]+(?P<title>[^\n]+?)(?:[^\S\n]+#+)?[^\S\n]*(?:\n|$)")


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
    """Read a Markdown `---` front-matter block (title, date, source, url) off the start of `text`."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return Metadata(), text
    fields: dict[str, str] = {}
    for line in match.group("block").splitlines():
        pair = _FRONT_MATTER_LINE.fullmatch(line.strip())
        if pair is None:
            continue
        key, value = pair.group("key").lower(), pair.group("value").strip().strip("\"'")
        if key in HEADER_KEYS and value:
            fields[key] = value
    if "date" in fields:
        date = parse_date(fields["date"])
        if date is None:
            del fields["date"]
        else:
            fields["date"] = date
    return Metadata(**fields), text[match.end() :]


def markdown_heading(text: str) -> str | None:
    """The text of a leading level-1 `# Heading`, if the document opens with one."""
    match = _ATX_HEADING.match(text.lstrip())
    return None if match is None else match.group("title").strip()


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
