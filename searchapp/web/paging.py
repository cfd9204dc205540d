"""Pagination: the page numbers to link, and where a result sits among the others."""

from __future__ import annotations


def page_numbers(current: int, last: int, around: int = 2) -> list[int | None]:
    """Return page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    wanted = {1, last, *range(current - around, current + around + 1)}
    numbers = sorted(n for n in wanted if 1 <= n <= last)
    out: list[int | None] = []
    for n in numbers:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


def page_of(rank: int, per_page: int) -> int:
    """Return the page (from 1) holding the result at this rank (from 1)."""
    return (max(rank, 1) - 1) // max(per_page, 1) + 1


def first_rank(page: int, per_page: int) -> int:
    """Return the rank (from 1) of the first result on a page."""
    return (max(page, 1) - 1) * per_page + 1
