"""Research answers as rows: the CSV downloads and the terminal's tables print the same rows.

The JSON forms come from researcher.Research; a table is one row per time bucket.
"""

from __future__ import annotations

from typing import Any

Table = tuple[list[str], list[list[Any]]]


def trends_table(data: dict[str, Any]) -> Table:
    """Per bucket: stories, then each top value's count."""
    header = [data["interval"], "stories"] + [s["value"] for s in data["series"]]
    rows = [
        [label, data["total"][i]] + [s["counts"][i] for s in data["series"]]
        for i, label in enumerate(data["buckets"])
    ]
    return header, rows


def compare_table(data: dict[str, Any], percent: bool = False) -> Table:
    """Per bucket: all stories, then each query's count and share of them.

    Shares are fractions (None where the bucket has no story), for CSV; with percent, text
    such as "12.50" and "-" where there is no story, for reading in a terminal.
    """
    header = [data["interval"], "all"]
    for s in data["series"]:
        header += [s["q"], f"{s['q']} %" if percent else f"{s['q']} share"]
    rows = []
    for i, label in enumerate(data["buckets"]):
        row: list[Any] = [label, data["all"][i]]
        for s in data["series"]:
            part = s["share"][i]
            if percent:
                part = "-" if part is None else f"{100 * part:.2f}"
            row += [s["counts"][i], part]
        rows.append(row)
    return header, rows
