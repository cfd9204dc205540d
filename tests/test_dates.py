"""Relative dates and date bounds against a fixed "now" (a 1987 corpus cannot test them).

Each case pins the exact days, so a change such as yesterday -> today, or December's next
month computed as month 13, fails here.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from searchapp.errors import QueryError
from searchapp.query import parse_bound, rewrite_dates

# A Tuesday, mid-month and mid-year: every relative span is distinct from its neighbours.
TUESDAY = datetime(2017, 11, 21, 15, 30, tzinfo=timezone.utc)
NEW_YEAR = datetime(2018, 1, 1, 0, 5, tzinfo=timezone.utc)  # a Monday, first day of a year


def _ts(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=timezone.utc).timestamp())


@pytest.mark.parametrize(
    ("now", "clause", "expected"),
    [
        (TUESDAY, "date:today", "date:[20171121 TO 20171121]"),
        (TUESDAY, "date:yesterday", "date:[20171120 TO 20171120]"),
        (TUESDAY, 'date:"this week"', "date:[20171120 TO 20171121]"),
        (TUESDAY, 'date:"last week"', "date:[20171113 TO 20171119]"),
        (TUESDAY, 'date:"this month"', "date:[20171101 TO 20171121]"),
        (TUESDAY, 'date:"last month"', "date:[20171001 TO 20171031]"),
        (TUESDAY, 'date:"this year"', "date:[20170101 TO 20171121]"),
        (TUESDAY, 'date:"last year"', "date:[20160101 TO 20161231]"),
        (TUESDAY, "date:[yesterday TO today]", "date:[20171120 TO 20171121]"),
        (TUESDAY, 'date:"Last  Week"', "date:[20171113 TO 20171119]"),  # case and spaces
        # Across the turn of a year: the previous day, week, month and year are all in 2017.
        (NEW_YEAR, "date:yesterday", "date:[20171231 TO 20171231]"),
        (NEW_YEAR, 'date:"last week"', "date:[20171225 TO 20171231]"),
        (NEW_YEAR, 'date:"last month"', "date:[20171201 TO 20171231]"),
        (NEW_YEAR, 'date:"this week"', "date:[20180101 TO 20180101]"),
        (NEW_YEAR, 'date:"last year"', "date:[20170101 TO 20171231]"),
    ],
)
def test_relative_dates_name_the_right_days(now: datetime, clause: str, expected: str) -> None:
    assert rewrite_dates(f"oil {clause} prices", now) == f"oil {expected} prices"


def test_now_is_read_in_utc() -> None:
    # 01:00 on the 22nd in UTC+3 is still the 21st in UTC: "today" is the 21st.
    from datetime import timedelta

    moscow = datetime(2017, 11, 22, 1, 0, tzinfo=timezone(timedelta(hours=3)))
    assert rewrite_dates("date:today", moscow.astimezone(timezone.utc)) == (
        "date:[20171121 TO 20171121]"
    )


@pytest.mark.parametrize(
    ("value", "end", "expected"),
    [
        ("1987", False, _ts(1987, 1, 1)),
        ("1987", True, _ts(1988, 1, 1)),
        ("1987-03", False, _ts(1987, 3, 1)),
        ("1987-03", True, _ts(1987, 4, 1)),
        ("1987-12", False, _ts(1987, 12, 1)),
        ("1987-12", True, _ts(1988, 1, 1)),  # the month after December is next January
        ("1987-12-31", True, _ts(1988, 1, 1)),
        ("1988-02", True, _ts(1988, 3, 1)),
        ("1988-02-29", False, _ts(1988, 2, 29)),
        ("1988-02-29", True, _ts(1988, 3, 1)),
        ("1987-3-5", True, _ts(1987, 3, 6)),
        (" 1987-03-05 ", False, _ts(1987, 3, 5)),
        ("", True, None),
    ],
)
def test_parse_bound_covers_the_whole_period(value: str, end: bool, expected: int | None) -> None:
    assert parse_bound(value, "--to" if end else "--from", end) == expected


@pytest.mark.parametrize("value", ["1987-13", "1987-02-29", "1987-00", "yesterday", "87"])
def test_parse_bound_refuses_what_is_not_a_date(value: str) -> None:
    with pytest.raises(QueryError, match='--from "'):
        parse_bound(value, "--from", False)
