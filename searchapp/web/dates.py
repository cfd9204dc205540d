"""Dates as people read them: article datelines, histogram periods, date-range chips and inputs.

Period keys are the service's date facet values and the from/to parameters: "1987",
"1987-03" or "1987-03-05" (all UTC).
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

_KEY = re.compile(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?")


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO date-time (as the core returns it), or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def short_date(value: str | datetime | None) -> str:
    """Format a date like "Nov 21, 2017" (UTC for hits)."""
    when = parse_iso(value) if isinstance(value, str) or value is None else value
    if when is None:
        return "undated"
    return f"{when:%b} {when.day}, {when.year}"


def utc_offset_label(when: datetime) -> str:
    """Return "UTC+3", "UTC-5", "UTC+5:30" or "UTC" for a date's own offset."""
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def local_datetime(when: datetime | None) -> str:
    """Format an article's date as printed: "November 21, 2017, 08:07 UTC+3"."""
    if when is None:
        return "Undated"
    return f"{when:%B} {when.day}, {when.year}, {when:%H:%M} {utc_offset_label(when)}"


def period_label(key: str, short: bool = False) -> str:
    """Return a readable label for a period key: "1987", "March 1987", "March 5, 1987"."""
    parts = key.split("-")
    try:
        if len(parts) == 1:
            return key
        names = calendar.month_abbr if short else calendar.month_name
        month = names[int(parts[1])]
        if len(parts) == 2:
            return f"{month} {parts[0]}"
        return f"{month} {int(parts[2])}, {parts[0]}"
    except (ValueError, IndexError):
        return key


def _day(when: date) -> str:
    return f"{when:%b} {when.day}, {when.year}"


def period_bounds(key: str) -> tuple[date, date] | None:
    """Return the first and last day of a period key, or None if it is not one."""
    m = _KEY.fullmatch(key.strip())
    if not m:
        return None
    year, month, day = (int(g) if g else None for g in m.groups())
    assert year is not None
    try:
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        if day is None:
            last = calendar.monthrange(year, month)[1]
            return date(year, month, 1), date(year, month, last)
        one = date(year, month, day)
        return one, one
    except ValueError:
        return None


def input_date(key: str | None, end: bool = False) -> str:
    """Return a from/to key as a native date input's value (YYYY-MM-DD), "" if it is none.

    ``from=1987-03`` starts on March 1; ``to=1987-03`` ends on March 31 (the whole month).
    """
    bounds = period_bounds(key or "")
    if bounds is None:
        return ""
    return bounds[1 if end else 0].isoformat()


def span_label(date_from: str | None, date_to: str | None) -> str:
    """Return a date range as a chip reads it: "1987", "March 1987", "Mar 2 – Apr 15, 1987"."""
    if date_from and date_from == date_to:
        return period_label(date_from)
    start = period_bounds(date_from or "")
    stop = period_bounds(date_to or "")
    if start and stop:
        first, last = start[0], stop[1]
        # A span of whole years or whole months reads as those periods.
        if first == date(first.year, 1, 1) and last == date(last.year, 12, 31):
            return str(first.year) if first.year == last.year else f"{first.year} – {last.year}"
        month_end = calendar.monthrange(last.year, last.month)[1]
        if first.day == 1 and last.day == month_end:
            if (first.year, first.month) == (last.year, last.month):
                return period_label(f"{first:%Y-%m}")
            if first.year == last.year:
                return f"{first:%B} – {last:%B} {last.year}"
            return f"{first:%B} {first.year} – {last:%B} {last.year}"
        if first == last:
            return period_label(first.isoformat())
        if first.year == last.year:
            return f"{first:%b} {first.day} – {last:%b} {last.day}, {last.year}"
        return f"{_day(first)} – {_day(last)}"
    if start:
        return f"from {_day(start[0])}"
    if stop:
        return f"up to {_day(stop[1])}"
    return f"{date_from or '…'} – {date_to or '…'}"
