#!/usr/bin/env python3
"""Check the TASS reader and the tag splitter against the Reuters-21578 truth.

    python3 ../shared/tools/reuters_to_corpus.py tass /tmp/reuters_tass
    python3 ../shared/tools/reuters_to_corpus.py jsonl /tmp/reuters.jsonl
    python tools/check_tags.py [--tass /tmp/reuters_tass] [--jsonl /tmp/reuters.jsonl]

Reads the rendered .txt files with read_corpus, splits the tag lines with split_corpus, and
compares every story with its jsonl truth (matched by the jsonl 'file' field, since a file's id
is its name, '00001_<hash>', while the truth's id is 'reuters-1'). Prints the share of stories
whose persons, topics, title, section, date (to the minute), place and body agree, the parse and
split speed, and the first few disagreements. Exits 1 when persons fall below --min-persons or
any other field below 100%.

Two comparisons allow for the renderer: the truth's body has no dateline while the printed first
paragraph opens with one (ours keeps it, so it is stripped here), and the truth's place comes from
str.title(), which gives "St. John'S" where we give "St. John's" (compared without case). A place
that the file cannot hold (the renderer prints no dateline for a story without a date or body) is
expected to be empty.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from searchapp.formats import read_corpus
from searchapp.formats.tass import strip_dateline
from searchapp.models import Article
from searchapp.tags import split_corpus

FIELDS = ("persons", "topics", "title", "section", "date", "place", "body")


def expected_place(truth: dict[str, Any]) -> str:
    """Return the place the rendered file can show (no dateline without a date and a body)."""
    return truth["place"] if truth["date"] and truth["body"] else ""


COMPARE: dict[str, Callable[[Article, dict[str, Any]], bool]] = {
    "persons": lambda a, t: list(a.persons) == t["persons"],
    "topics": lambda a, t: list(a.topics) == t["topics"],
    "title": lambda a, t: a.title == t["title"],
    "section": lambda a, t: a.section == t["section"],
    "date": lambda a, t: (a.iso_date or "")[:16] == (t["date"] or "")[:16],
    "place": lambda a, t: a.place.casefold() == expected_place(t).casefold(),
    "body": lambda a, t: strip_dateline(a.body) == t["body"],
}


def check(tass_dir: Path, jsonl_path: Path) -> dict[str, Any]:
    """Read, split and compare; return counts, shares, timings and sample disagreements."""
    with jsonl_path.open(encoding="utf-8") as fh:
        truth = {Path(row["file"]).stem: row for row in map(json.loads, fh)}
    started = time.perf_counter()
    raws, problems = read_corpus(tass_dir)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    articles = split_corpus(raws)
    split_seconds = time.perf_counter() - started
    agree = dict.fromkeys(FIELDS, 0)
    misses: dict[str, list[str]] = {name: [] for name in FIELDS}
    compared = 0
    for article in articles:
        row = truth.get(article.id)
        if row is None:
            continue
        compared += 1
        for name in FIELDS:
            if COMPARE[name](article, row):
                agree[name] += 1
            elif len(misses[name]) < 10:
                got = getattr(article, name)
                want = row[name] if name != "place" else expected_place(row)
                misses[name].append(f"{row['id']} ({article.id}): got {got!r}, want {want!r}")
    return {
        "stories": len(truth),
        "read": len(raws),
        "problems": [f"{p.path}: {p.reason}" for p in problems],
        "compared": compared,
        "agree": agree,
        "percent": {name: 100.0 * agree[name] / max(compared, 1) for name in FIELDS},
        "misses": misses,
        "read_seconds": read_seconds,
        "split_seconds": split_seconds,
    }


def main(argv: list[str] | None = None) -> int:
    """Print the agreement table; exit 1 when a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tass", type=Path, default=Path("/tmp/reuters_tass"))
    parser.add_argument("--jsonl", type=Path, default=Path("/tmp/reuters.jsonl"))
    parser.add_argument("--min-persons", type=float, default=97.0, help="percent (default 97)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    for path in (args.tass, args.jsonl):
        if not path.exists():
            parser.error(f"{path} does not exist; render it with shared/tools/reuters_to_corpus.py")
    result = check(args.tass, args.jsonl)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['read']} of {result['stories']} stories read "
            f"({result['read'] / result['read_seconds']:,.0f} files/s), "
            f"{len(result['problems'])} problems, tags split in {result['split_seconds']:.2f} s"
        )
        for name in FIELDS:
            print(f"  {name:8} {result['percent'][name]:7.2f}%  ({result['agree'][name]})")
        for name in FIELDS:
            for line in result["misses"][name]:
                print(f"  {name}: {line}")
        for line in result["problems"][:10]:
            print(f"  problem: {line}")
    percent = result["percent"]
    failed = percent["persons"] < args.min_persons or any(
        percent[name] < 100.0 for name in FIELDS if name != "persons"
    )
    return 1 if failed or result["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
