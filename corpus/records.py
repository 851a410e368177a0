"""Article records in JSON (a list, {"documents": [...]}, or one object) and JSON Lines files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from corpus.dates import parse_date
from corpus.decoding import normalise_newlines
from corpus.errors import FileSkipped

TEXT_FIELDS = ("text", "content", "body")


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
    """Records of a JSON file; raises FileSkipped when the file is not JSON or holds no records."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FileSkipped(f"invalid JSON ({err})") from None
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
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        found = True
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            yield Record(label=f":{number}", problem=f"invalid JSON ({err})")
            continue
        yield _record(item, f":{number}")
    if not found:
        raise FileSkipped("empty")


def _record(item: Any, label: str) -> Record:
    if not isinstance(item, dict):
        return Record(label=label, problem="not a JSON object")
    text = next((item[field] for field in TEXT_FIELDS if isinstance(item.get(field), str)), None)
    if text is None:
        return Record(label=label, problem="no text field (text, content or body)")
    text = normalise_newlines(text).strip()
    if not text:
        return Record(label=label, problem="empty")
    date = _string(item.get("date"))
    return Record(
        label=label,
        text=text,
        title=_string(item.get("title")),
        date=None if date is None else parse_date(date),
        source=_string(item.get("source")),
        url=_string(item.get("url")),
    )


def _string(value: Any) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
