#!/usr/bin/env python3
"""Draw the shipped demo corpus: a stratified sample of rendered Reuters stories.

    python tools/sample_corpus.py SOURCE_DIR corpus/ [--size 3000]

SOURCE_DIR holds the whole Reuters-21578 collection rendered in our layout (one file per story,
as the rendering tool names them: ``NNNNN_<sha1 of the id, 16 hex>.txt``). The sample spreads
over every month the collection covers and every section in each month:

- months share the sample equally (a month with fewer stories gives all it has and the rest
  goes to the others), so a short month is not drowned by March's 11,000 stories;
- inside a month, sections share that month's part in proportion to the square root of their
  size: big sections stay big, small ones (Transport, Metals) are still there;
- inside a section-month, the stories with the smallest file-name hash are taken.

No random generator: the same source gives the same sample, file for file. Undated stories are
left out. In OUT_DIR, files named like rendered stories that are not in the sample are removed;
every other file (the reference TASS story, the README) is left as it is.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections import defaultdict
from pathlib import Path

STORY_FILE = re.compile(r"\d{5}_[0-9a-f]{16}\.txt")
HEADER = re.compile(r" date (\d{4}-\d{2})-\d{2} (.+)")


def allocate(size: int, cells: dict[str, int], weights: dict[str, float]) -> dict[str, int]:
    """Share size among cells in proportion to weights, never more than a cell holds.

    Water-filling: cells that cannot take their share give all they have and leave; the rest
    is shared again. Whole numbers by largest remainder, ties broken by cell name.
    """
    out = {k: 0 for k in cells}
    open_cells = {k for k, n in cells.items() if n > 0}
    left = min(size, sum(cells.values()))
    while left > 0 and open_cells:
        total_w = sum(weights[k] for k in open_cells)
        shares = {k: left * weights[k] / total_w for k in open_cells}
        full = {k for k in open_cells if shares[k] >= cells[k]}
        if full:
            for k in full:
                out[k] = cells[k]
                left -= cells[k]
            open_cells -= full
            continue
        floors = {k: int(shares[k]) for k in open_cells}
        spare = left - sum(floors.values())
        ranked = sorted(open_cells, key=lambda k: (-(shares[k] - floors[k]), k))
        for k in ranked[:spare]:
            floors[k] += 1
        out.update(floors)
        break
    return out


def read_stories(source: Path) -> dict[tuple[str, str], list[Path]]:
    """Return the story files by (month, section), each list in hash order."""
    cells: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for path in source.iterdir():
        if not STORY_FILE.fullmatch(path.name):
            continue
        with path.open(encoding="utf-8") as fh:
            m = HEADER.fullmatch(fh.readline().rstrip("\n"))
        if m:  # undated stories have no month to stand for
            cells[(m.group(1), m.group(2).strip())].append(path)
    for paths in cells.values():
        paths.sort(key=lambda p: (p.name.split("_")[1], p.name))
    return cells


def sample(cells: dict[tuple[str, str], list[Path]], size: int) -> list[Path]:
    """Return the sampled files: months equal, sections by the square root of their size."""
    months: dict[str, dict[str, int]] = defaultdict(dict)
    for (month, section), paths in cells.items():
        months[month][section] = len(paths)
    per_month = allocate(
        size, {m: sum(s.values()) for m, s in months.items()}, {m: 1.0 for m in months}
    )
    chosen: list[Path] = []
    for month, sections in sorted(months.items()):
        weights = {s: math.sqrt(n) for s, n in sections.items()}
        for section, k in sorted(allocate(per_month[month], sections, weights).items()):
            chosen += cells[(month, section)][:k]
    return sorted(chosen, key=lambda p: p.name)


def main(argv: list[str] | None = None) -> int:
    """Write the sample into OUT_DIR and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("source", type=Path, help="the whole collection, rendered")
    parser.add_argument("out", type=Path, help="the corpus folder to fill")
    parser.add_argument("--size", type=int, default=3000, help="stories to draw (default 3000)")
    args = parser.parse_args(argv)
    if not args.source.is_dir():
        print(f"error: {args.source} is not a folder of rendered stories", file=sys.stderr)
        return 2
    cells = read_stories(args.source)
    if not cells:
        print(f"error: {args.source} holds no dated story files (NNNNN_hash.txt)", file=sys.stderr)
        return 2
    chosen = sample(cells, args.size)
    args.out.mkdir(parents=True, exist_ok=True)
    keep = {p.name for p in chosen}
    for old in args.out.iterdir():
        if STORY_FILE.fullmatch(old.name) and old.name not in keep:
            old.unlink()
    for path in chosen:
        (args.out / path.name).write_bytes(path.read_bytes())
    by_month: dict[str, int] = defaultdict(int)
    for (month, _section), paths in cells.items():
        by_month[month] += sum(1 for p in paths if p.name in keep)
    print(f"{len(chosen):,} stories written to {args.out}")
    for month, n in sorted(by_month.items()):
        print(f"  {month}: {n:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
