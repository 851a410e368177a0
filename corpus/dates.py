"""Publication dates in the spellings articles use, validated and returned as ISO `YYYY-MM-DD`.

Only spellings that say one day unambiguously are read: year first (2025-03-14, 2025/03/14) or with the
month named ("14 March 2025", "March 14, 2025"). Day/month numbers such as 03/04/2025 (3 April or 4 March?),
dates without a day, and years before 1900 or after next year are left unread (None), never guessed."""

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
_WEEKDAY_NUMBERS = {
    name: number
    for number, day in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
    for name in (day, day[:3], {"tuesday": "tues", "thursday": "thurs"}.get(day, day))
}
_WEEKDAY = re.compile(r"(?P<weekday>[A-Za-z]{3,9})\.?,?\s+")
# A time after the date, as in RSS ("Fri, 14 Mar 2025 09:30:00 GMT") or Jekyll ("2025-03-14 09:30:00 +0100").
_TIME = re.compile(
    r",?\s+(?:at\s+)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:\s*(?i:[ap]\.?m\.?))?"
    r"(?:\s*(?:Z|UTC|GMT|[A-Z]{3,4}|[+-]\d{2}:?\d{2}))?"
)
FIRST_YEAR = 1900


def latest_year() -> int:
    """The last year a publication date may have: next year (read when called)."""
    return dt.date.today().year + 1


def parse_date(value: str) -> str | None:
    """The ISO date `value` spells, or None: the date alone, maybe after a weekday ("Fri, 14 Mar 2025") and
    before a time ("09:30:00 GMT"); nothing else around it but whitespace."""
    value = value.strip()
    weekday = _weekday(value)
    if weekday is not None:
        value = value[weekday[1] :]
    found = match_date(value)
    if found is None:
        return None
    date, end = found
    time = _TIME.match(value, end)
    if time is not None:
        end = time.end()
    if end != len(value):
        return None
    if weekday is not None and dt.date.fromisoformat(date).weekday() != weekday[0]:
        return None  # "Sat, 14 Mar 2025" (a Friday): one of the two is wrong, and which is unknown
    return date


def match_date(text: str) -> tuple[str, int] | None:
    """A date at the very start of `text`: (ISO date, index just after it), or None.

    Accepts 2025-01-24, 2025/01/24, an ISO timestamp (its date part), "January 24, 2025", "Jan. 24 2025"
    and "24 January 2025"; impossible dates such as 2025-02-30, and years before FIRST_YEAR or after
    `latest_year()`, are refused.
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
        if not FIRST_YEAR <= day.year <= latest_year():
            continue
        return day.isoformat(), match.end()
    return None


def _weekday(text: str) -> tuple[int, int] | None:
    """A weekday name opening `text` ("Fri, ", "Friday "): (its number, Monday 0; index after it), or None."""
    match = _WEEKDAY.match(text)
    if match is None:
        return None
    number = _WEEKDAY_NUMBERS.get(match.group("weekday").lower())
    return None if number is None else (number, match.end())
