"""Time buckets of the research views: UTC days, ISO weeks, months and years.

A bucket is numbered as the facet arrays number a story's day (facets.FacetData: days since
1970-01-01, months since 1970-01, the year), and ISO weeks from the day (1970-01-01 was a
Thursday). A Timeline is the contiguous run of buckets from the first to the last dated story
of a span, refused with the coarser interval to use when it would draw more than MAX_BUCKETS.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from searchapp.errors import QueryError
from searchapp.facets import FacetData

INTERVALS = ("day", "week", "month", "year")
# The default interval is the finest that draws the span in at most this many buckets.
FIT_BUCKETS = 60
# More buckets than this is a chart nobody can read and a response nobody wants (10 years of
# days); the message says which coarser interval to ask for.
MAX_BUCKETS = 1000

_EPOCH = date(1970, 1, 1)
_NO_KEYS = np.zeros(0, dtype=np.int64)


# Week numbers per generation, computed once (FacetData holds day, month and year already).
_WEEKS: weakref.WeakKeyDictionary[FacetData, np.ndarray] = weakref.WeakKeyDictionary()


def bucket_keys(fd: FacetData, interval: str) -> np.ndarray:
    """Return every document's bucket number (undated documents get a meaningless one)."""
    if interval == "day":
        return fd.day
    if interval == "week":
        weeks = _WEEKS.get(fd)
        if weeks is None:
            # ISO weeks start on Monday; 1970-01-01 was a Thursday: day + 3 counts from Monday.
            weeks = _WEEKS[fd] = (fd.day + 3) // 7
        return weeks
    if interval == "month":
        return fd.month
    return fd.year


def day_buckets(days: np.ndarray, interval: str) -> np.ndarray:
    """Return the bucket number of each day (days since 1970-01-01), as bucket_keys numbers
    a document of that day (a sharded index counts stories per day, then per bucket)."""
    if interval == "day":
        return days
    if interval == "week":
        return (days + 3) // 7
    unit = "M" if interval == "month" else "Y"
    keys = days.astype("datetime64[D]").astype(f"datetime64[{unit}]").astype(np.int64)
    return keys if unit == "M" else keys + 1970


def _day_key(day: int, interval: str) -> int:
    return int(day_buckets(np.array([day], dtype=np.int64), interval)[0])


def bucket_dates(key: int, interval: str) -> tuple[date, date]:
    """Return a bucket's first and last day (for links that search one bucket)."""
    if interval == "day":
        first = _EPOCH + timedelta(days=key)
        return first, first
    if interval == "week":
        first = _EPOCH + timedelta(days=key * 7 - 3)
        return first, first + timedelta(days=6)
    if interval == "month":
        year, month = divmod(key, 12)
        first = date(1970 + year, month + 1, 1)
        nxt = date(1970 + year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        return first, nxt - timedelta(days=1)
    return date(key, 1, 1), date(key, 12, 31)


def bucket_label(key: int, interval: str) -> str:
    """Return "1987-03-02", "1987-W10", "1987-03" or "1987" for a bucket."""
    first, _last = bucket_dates(key, interval)
    if interval == "day":
        return first.isoformat()
    if interval == "week":
        year, week, _ = first.isocalendar()
        return f"{year}-W{week:02d}"
    if interval == "month":
        return first.isoformat()[:7]
    return str(key)


def fit_interval(first_day: int, last_day: int) -> str:
    """Return the finest interval that shows days first..last in at most FIT_BUCKETS buckets."""
    for interval in INTERVALS:
        if _day_key(last_day, interval) - _day_key(first_day, interval) + 1 <= FIT_BUCKETS:
            return interval
    return "year"


@dataclass(frozen=True)
class Timeline:
    """Contiguous buckets from the first to the last dated story of a span."""

    interval: str
    first: int  # bucket number of the first bucket
    size: int  # number of buckets (0: no dated story)
    keys: np.ndarray  # every document's bucket number

    @property
    def labels(self) -> list[str]:
        """Return the buckets' labels, in time order."""
        return [bucket_label(self.first + i, self.interval) for i in range(self.size)]

    def dates(self, i: int) -> tuple[date, date]:
        """Return bucket i's first and last day."""
        return bucket_dates(self.first + i, self.interval)

    def counts(self, fd: FacetData, mask: np.ndarray) -> np.ndarray:
        """Return the stories of mask per bucket (dated stories inside the span only)."""
        if self.size == 0:
            return np.zeros(0, dtype=np.int64)
        k = self.keys[mask & fd.has_date] - self.first
        k = k[(k >= 0) & (k < self.size)]
        return np.bincount(k, minlength=self.size)


def timeline(fd: FacetData, masks: list[np.ndarray], interval: str | None) -> Timeline:
    """Return the buckets spanning the dated stories of all masks (interval None: fit it)."""
    union = np.zeros(fd.n, dtype=bool)
    for m in masks:
        union |= m
    days = fd.day[union & fd.has_date]
    return span((int(days.min()), int(days.max())) if len(days) else None, interval, fd)


def span(days: tuple[int, int] | None, interval: str | None, fd: FacetData | None) -> Timeline:
    """Return the buckets from a first to a last day (None: no dated story), with fd's bucket
    numbers (none without fd: a sharded index sums per-day counts instead)."""
    keys = (lambda chosen: bucket_keys(fd, chosen)) if fd is not None else (lambda _c: _NO_KEYS)
    if days is None:
        chosen = interval or "month"
        return Timeline(chosen, 0, 0, keys(chosen))
    first_day, last_day = days
    chosen = interval or fit_interval(first_day, last_day)
    first, last = _day_key(first_day, chosen), _day_key(last_day, chosen)
    size = last - first + 1
    if size > MAX_BUCKETS:
        coarser = INTERVALS[INTERVALS.index(chosen) + 1 :]
        raise QueryError(
            f"interval={chosen} gives {size:,} buckets from {bucket_label(first, chosen)} to "
            f"{bucket_label(last, chosen)}; at most {MAX_BUCKETS:,} are drawn: use "
            f"interval={coarser[0] if coarser else 'year'} or narrow the dates (from, to)"
        )
    return Timeline(chosen, first, size, keys(chosen))
