"""Article records in JSON (a list, {"documents": [...]}, or one object) and JSON Lines files.

A file or line that cannot be parsed (invalid JSON, nested deeper than MAX_JSON_DEPTH, a number too long to
convert) never stops a run: a `.json` file raises FileSkipped with the reason, a `.jsonl` line becomes a
Record with a `problem` and the other lines still load. Lone UTF-16 surrogates from `\\ud800`-style escapes
become U+FFFD, as undecodable bytes do in corpus/decoding.py.

The fields read (each a list of names, the first present wins; schema.org JSON-LD and RSS/Atom-style names
included): text TEXT_FIELDS, title TITLE_FIELDS, date DATE_FIELDS (the first that parses: see corpus/dates.py),
url URL_FIELDS, source `source`. Dates of edits or of the file (`updated`, `modified`, `created_at`) are not
read as the publication date.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from corpus.dates import parse_date
from corpus.decoding import normalise_newlines
from corpus.errors import FileSkipped

TEXT_FIELDS = ("text", "content", "body", "articleBody")
TITLE_FIELDS = ("title", "headline", "name")
DATE_FIELDS = ("date", "published", "published_at", "publishedAt", "datePublished", "pubDate")
URL_FIELDS = ("url", "link")

# Article exports are a few levels deep. Deeper JSON is refused before parsing: json.loads recurses once per
# level and, on Python 3.11, shares the interpreter's recursion limit (1,000 frames) with its caller.
MAX_JSON_DEPTH = 500

_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_JSON_TOKEN = re.compile(_JSON_STRING.pattern + r"|[\[\]{}]", re.DOTALL)  # a whole string, or a bracket
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Record:
    """One article record, or why it cannot be one (`problem` set, `text` empty). A date that does not
    parse is left out (None) rather than costing the record."""

    label: str  # where it sits in the file: "" for a lone object, "[3]" for a list entry, ":7" for a JSONL line
    text: str = ""
    title: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None
    problem: str | None = None


def json_records(text: str) -> Iterator[Record]:
    """Records of a JSON file; raises FileSkipped when the file is not JSON (or too deep) or holds no records."""
    data, problem = _parse(text, whole_file=True)
    if problem is not None:
        raise FileSkipped(problem)
    if isinstance(data, dict) and isinstance(data.get("documents"), list):
        data = data["documents"]
    if isinstance(data, list):
        if not data:
            raise FileSkipped("empty (no records)")
        for index, item in enumerate(data):
            yield _record(item, f"[{index}]")
    elif isinstance(data, dict):
        yield _record(data, "")
    else:
        raise FileSkipped("JSON holds neither a record nor a list of records")


def jsonl_records(text: str) -> Iterator[Record]:
    """Records of a JSON Lines file, one per non-blank line; a bad line becomes a Record with a problem."""
    found = False
    for number, line in _lines(text):
        if not line.strip():
            continue
        found = True
        item, problem = _parse(line, whole_file=False)
        if problem is not None:
            yield Record(label=f":{number}", problem=problem)
            continue
        yield _record(item, f":{number}")
    if not found:
        raise FileSkipped("empty")


def _depth_problem(text: str, *, whole_file: bool = True) -> str | None:
    """Why `text` is nested too deeply to parse ("JSON nested deeper than 500 levels (line 1 column 501)"), or None.

    Brackets inside strings do not count. Cheap for ordinary JSON: it is only scanned when it holds more
    opening brackets than the limit."""
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return None
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    depths = accumulate(map(_BRACKET_STEP.__getitem__, brackets))
    if next(filter(MAX_JSON_DEPTH.__lt__, depths), None) is None:  # C-speed, stops at the first level too deep
        return None
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                where = _position(text, match.start(), whole_file)
                return f"JSON nested deeper than {MAX_JSON_DEPTH:,} levels ({where})"
        elif token in ("]", "}"):
            depth -= 1
    return f"JSON nested deeper than {MAX_JSON_DEPTH:,} levels"


def _parse(text: str, *, whole_file: bool) -> tuple[Any, str | None]:
    """(parsed value, None), or (None, why it cannot be parsed)."""
    problem = _depth_problem(text, whole_file=whole_file)
    if problem is not None:
        return None, problem
    try:
        return json.loads(text), None
    except json.JSONDecodeError as err:
        return None, f"invalid JSON ({err})"
    except ValueError as err:  # e.g. an integer longer than Python converts (4,300 digits)
        return None, f"invalid JSON ({str(err).split(';')[0]})"
    except RecursionError:  # nesting within MAX_JSON_DEPTH, but the caller's stack was already deep
        return None, "JSON nested too deeply to parse"


def _position(text: str, offset: int, whole_file: bool) -> str:
    """ "line 3 column 7" of `offset` in a file; "column 7" in a JSONL line (the label names the line)."""
    line_start = text.rfind("\n", 0, offset) + 1
    column = f"column {offset - line_start + 1:,}"
    if not whole_file:
        return column
    line = text.count("\n", 0, offset) + 1
    return f"line {line:,} {column}"


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) like enumerate(text.split("\n"), 1), one line at a time: a large file is not copied whole."""
    start, number = 0, 1
    while True:
        end = text.find("\n", start)
        if end < 0:
            yield number, text[start:]
            return
        yield number, text[start:end]
        start, number = end + 1, number + 1


def _record(item: Any, label: str) -> Record:
    if not isinstance(item, dict):
        return Record(label=label, problem="not a JSON object")
    text = next((item[field] for field in TEXT_FIELDS if isinstance(item.get(field), str)), None)
    if text is None:
        return Record(label=label, problem=f"no text field ({', '.join(TEXT_FIELDS[:-1])} or {TEXT_FIELDS[-1]})")
    text = _valid_unicode(normalise_newlines(text)).strip()
    if not text:
        return Record(label=label, problem="empty")
    dates = (parse_date(date) for date in _strings(item, DATE_FIELDS))
    return Record(
        label=label,
        text=text,
        title=next(_strings(item, TITLE_FIELDS), None),
        date=next((date for date in dates if date is not None), None),
        source=_string(item.get("source")),
        url=next(_strings(item, URL_FIELDS), None),
    )


def _strings(item: dict[str, Any], fields: tuple[str, ...]) -> Iterator[str]:
    """The non-empty text of each of `fields` that `item` holds, in order (a nested object or list is not text)."""
    for field in fields:
        value = item.get(field)
        if not isinstance(value, (dict, list)) and (text := _string(value)) is not None:
            yield text


def _string(value: Any) -> str | None:
    if value is None:
        return None
    try:
        text = " ".join(_valid_unicode(str(value)).split())
    except (RecursionError, ValueError):  # str() of a nested or huge-number value
        return None
    return text or None


def _valid_unicode(text: str) -> str:
    """`text` with lone surrogates (from escapes such as "\\ud83d" without its pair) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text
