"""The shipped corpus: the seed story intact, stories over every month and section; the tool
that drew it is deterministic and spreads a sample over months and sections."""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
REFERENCE = "000_fb76c108e539c208.txt"
HEADER = re.compile(r" date (\d{4}-\d{2})-\d{2} (.+)")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "sample_corpus", REPO / "tools" / "sample_corpus.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _headers(folder: Path) -> list[tuple[str, str]]:
    out = []
    for path in sorted(folder.glob("[0-9][0-9][0-9][0-9][0-9]_*.txt")):
        with path.open(encoding="utf-8") as fh:
            m = HEADER.fullmatch(fh.readline().rstrip("\n"))
        assert m, f"{path.name} has no dated header"
        out.append((m.group(1), m.group(2)))
    return out


def test_seed_story_is_kept_byte_for_byte() -> None:
    shipped = (CORPUS / REFERENCE).read_bytes()
    assert shipped == (REPO / "tests" / "fixtures" / "articles" / REFERENCE).read_bytes()


def test_shipped_sample_spans_every_month_and_section() -> None:
    headers = _headers(CORPUS)
    assert len(headers) == 3000
    months = Counter(m for m, _s in headers)
    # The collection covers these months only (none from May, July, August, September).
    assert sorted(months) == ["1987-02", "1987-03", "1987-04", "1987-06", "1987-10"]
    assert min(months.values()) >= 200, months
    sections = {s for _m, s in headers}
    assert len(sections) >= 8, sections
    for month in months:
        in_month = {s for m, s in headers if m == month}
        assert in_month == sections, f"{month} lacks {sections - in_month}"


def _story(folder: Path, newid: int, month: str, section: str) -> None:
    name = f"{newid:05d}_{newid * 7919 % 16**16:016x}.txt"
    (folder / name).write_text(f" date {month}-05 {section}\nTitle {newid}\n", encoding="utf-8")


def test_sampling_tool_is_deterministic_and_spreads(tmp_path: Path) -> None:
    tool = _tool()
    source = tmp_path / "all"
    source.mkdir()
    newid = 1
    # A huge month and a small one; a big section and a small one.
    for month, big, small in (("1987-03", 500, 10), ("1987-06", 40, 4)):
        for _ in range(big):
            _story(source, newid, month, "Companies")
            newid += 1
        for _ in range(small):
            _story(source, newid, month, "Transport")
            newid += 1
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    out_a.mkdir()
    (out_a / REFERENCE).write_text("seed\n", encoding="utf-8")
    _story(out_a, 99999, "1987-01", "Old")  # a story of an older sample: removed
    assert tool.main([str(source), str(out_a), "--size", "60"]) == 0
    assert tool.main([str(source), str(out_b), "--size", "60"]) == 0
    names_a = sorted(p.name for p in out_a.iterdir())
    assert (out_a / REFERENCE).read_text(encoding="utf-8") == "seed\n"
    assert not (out_a / f"99999_{99999 * 7919 % 16**16:016x}.txt").exists()
    assert [n for n in names_a if n != REFERENCE] == sorted(p.name for p in out_b.iterdir())
    counts = Counter(_headers(out_a))
    assert sum(counts.values()) == 60
    # Months share equally although March holds 12 times more; Transport is in both months.
    assert counts[("1987-03", "Companies")] + counts[("1987-03", "Transport")] == 30
    assert counts[("1987-06", "Transport")] >= 1 and counts[("1987-03", "Transport")] >= 1
    assert counts[("1987-03", "Companies")] > counts[("1987-03", "Transport")]


def test_allocation_gives_a_short_cell_all_it_has() -> None:
    tool = _tool()
    cells = {"02": 229, "03": 11543, "04": 5661}
    shares = tool.allocate(3000, cells, dict.fromkeys(cells, 1.0))
    assert shares == {"02": 229, "03": 1386, "04": 1385}
