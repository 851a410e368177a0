"""Publication dates in the spellings articles use, validated and returned as ISO `YYYY-MM-DD`."""

from __future__ import annotations

import datetime as dt
import re

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}
_MONTH = r"(?P<month>[A-Za-z]{3,9})\.?"
_END = r"(?![\w/-]|\.\w)"  # a date ends at a word end; a full stop may follow it, more digits may not
_NUMERIC = re.compile(r"(?P<year>\d{4})[-/.](?P<mon>\d{1,2})[-/.](?P<day>\d{1,2})(?:T[\d:.]+(?:Z|[+-][\d:]+)?)?" + _END)
_MONTH_FIRST = re.compile(_MONTH + r" (?P<day>\d{1,2})(?:st|nd|rd|th)?,? (?P<year>\d{4})" + _END)
_DAY_FIRST = re.compile(r"(?P<day>\d{1,2})(?:st|nd|rd|th)? " + _MONTH + r",? (?P<year>\d{4})" + _END)


def parse_date(value: str) -> str | None:
    """The ISO date `value` spells (nothing else around it but whitespace), or None."""
    found = match_date(value.strip())
    if found is None or found[1] != len(value.strip()):
        return None
    return found[0]


def match_date(text: str) -> tuple[str, int] | None:
    """A date at the very start of `text`: (ISO date, index just after it), or None.

    Accepts 2025-01-24, 2025/01/24, an ISO timestamp (its date part), "January 24, 2025", "Jan. 24 2025"
    and "24 January 2025"; impossible dates such as 2025-02-30 are refused.
    """
    for pattern in (_NUMERIC, _MONTH_FIRST, _DAY_FIRST):
        match = pattern.match(text)
        if match is None:
            continue
        fields = match.groupdict()
        if "mon" in fields:
            month: int | None = int(fields["mon"])
        else:
            month = _MONTHS.get(fields["month"].lower())
        if month is None:
            continue
        try:
            day = dt.date(int(fields["year"]), month, int(fields["day"]))
        except ValueError:
            continue
        return day.isoformat(), match.end()
    return None
