"""Reuters-21578 in our layout against its JSON-lines truth: export, fields, facets, totals.

Slow (indexes 21,578 stories once per session, ~25 s); skipped without ../shared.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from searchapp.cli import search
from searchapp.models import SearchRequest
from searchapp.search import SearchService

pytestmark = pytest.mark.slow
_DATELINE = re.compile(r"^[^\n]*?, [A-Z][a-z]+ \d{1,2}\. /[^/\n]+/\.\s")


@pytest.fixture(scope="module")
def truth(reuters_dir: dict[str, Path]) -> dict[str, dict[str, Any]]:
    with reuters_dir["truth"].open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return {row["file"][: -len(".txt")]: row for row in rows}


@pytest.fixture(scope="module")
def exported(reuters_index: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(search, ["", "--index", str(reuters_index), "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines()]


def test_export_holds_every_story_with_true_fields(
    exported: list[dict[str, Any]], truth: dict[str, dict[str, Any]]
) -> None:
    assert len(exported) == 21_578
    persons_ok = 0
    for row in exported:
        true = truth[row["id"]]
        assert row["title"] == true["title"], row["id"]
        assert row["section"] == true["section"], row["id"]
        assert (row["date"] or "")[:16] == (true["date"] or "")[:16], row["id"]
        assert row["topics"] == true["topics"], row["id"]
        # The renderer title-cases with str.title() ("St. John'S"); we print "St. John's".
        # One undated story has no dateline in its file, so no place can be read from it.
        if true["date"]:
            assert row["place"].lower() == true["place"].lower(), row["id"]
        assert _DATELINE.sub("", row["body"], count=1) == true["body"], row["id"]
        persons_ok += row["persons"] == true["persons"]
    assert persons_ok / len(exported) >= 0.97


def test_facets_equal_the_truth_distributions(
    reuters_index: Path, truth: dict[str, dict[str, Any]]
) -> None:
    page = SearchService(reuters_index).search(SearchRequest(facet_limit=0))
    rows = list(truth.values())
    expect = {
        "section": Counter(r["section"] for r in rows),
        # A story counts once per value, even where Reuters lists a topic twice.
        "topics": Counter(t for r in rows for t in set(r["topics"])),
        "year": Counter(r["date"][:4] for r in rows if r["date"]),
        "month": Counter(r["date"][:7] for r in rows if r["date"]),
    }
    for name, counts in expect.items():
        assert {v.value: v.count for v in page.facets[name]} == dict(counts), name
    persons = {v.value: v.count for v in page.facets["persons"]}
    true_persons = Counter(p for r in rows for p in r["persons"])
    agree = sum(min(persons.get(p, 0), c) for p, c in true_persons.items())
    assert agree / sum(true_persons.values()) >= 0.97


@pytest.mark.parametrize(
    ("req", "count"),
    [
        (SearchRequest(filters={"topics": ("coffee",)}), lambda r: "coffee" in r["topics"]),
        (
            SearchRequest(filters={"persons": ("James Baker",)}),
            lambda r: "James Baker" in r["persons"],
        ),
        (
            SearchRequest(filters={"section": ("Energy", "Metals")}),
            lambda r: r["section"] in ("Energy", "Metals"),
        ),
        (
            SearchRequest(date_from="1987-03-01", date_to="1987-03-31"),
            lambda r: (r["date"] or "")[:7] == "1987-03",
        ),
    ],
)
def test_filter_totals_equal_the_truth(
    reuters_index: Path, truth: dict[str, dict[str, Any]], req: SearchRequest, count: Any
) -> None:
    page = SearchService(reuters_index).search(req)
    assert page.total == sum(1 for r in truth.values() if count(r))


def test_section_filter_still_counts_every_section(
    reuters_index: Path, truth: dict[str, dict[str, Any]]
) -> None:
    # A term facet ignores its own filter: with Energy ticked, every section keeps its count.
    sections = Counter(r["section"] for r in truth.values())
    energy = SearchRequest(filters={"section": ("Energy",)}, facet_limit=0)
    page = SearchService(reuters_index).search(energy)
    assert page.total == sections["Energy"]
    assert page.truncated["section"] is False
    assert {v.value: v.count for v in page.facets["section"]} == dict(sections)
    everything = SearchService(reuters_index).search(SearchRequest(facet_limit=0))
    assert page.facets["section"] == everything.facets["section"]


def test_phrase_snippets_and_suggestions(reuters_index: Path) -> None:
    service = SearchService(reuters_index)
    page = service.search(SearchRequest(q="Donohue"))
    assert any(
        "<mark>Donohue</mark>" in h.snippet
        and "&lt;Donohue Inc&gt;" in h.snippet.replace("<mark>", "").replace("</mark>", "")
        for h in page.hits
    )
    assert service.search(SearchRequest(q="cofee")).suggestion == "coffee"
    phrase = list(service.export(SearchRequest(q='"trade deficit"')))
    assert phrase
    assert all(re.search(r"trade\W+deficit", f"{a.title} {a.body}", re.I) for a in phrase)
