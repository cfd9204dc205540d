"""Duplicate stories (dupes.py): copies collapse into one hit listing the others; totals,
facets and exports still count every story."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchapp.cli import search
from searchapp.dupes import fingerprint, same_story
from searchapp.models import Article, SearchRequest
from searchapp.search import SearchService
from tests.conftest import article, build_index, write_jsonl

BODY = (
    "WASHINGTON, March 2. A study group said the United States should increase its strategic "
    "petroleum reserve to one mln barrels as one way to deal with low oil prices. U.S. policy "
    "now is to raise the strategic reserve to 750 mln barrels, from its present 500 mln."
)
EXTRA = " The study cited two basic policy paths for the nation."
TITLE = "STUDY GROUP URGES INCREASED U.S. OIL RESERVES"

STORIES = [
    # The first send and a re-send eight minutes later with a sentence added: copies.
    article(id="s1", title=TITLE, body=BODY, date="1987-03-02T11:20:00+00:00", section="Energy"),
    article(
        id="s2",
        title=TITLE.lower(),
        body=BODY + EXTRA,
        date="1987-03-02T11:28:00+00:00",
        section="Energy",
    ),
    # Same title, same day, another story: not a copy.
    article(
        id="s3",
        title=TITLE,
        body="Oil reserves: a different story about tankers and ports.",
        date="1987-03-02T15:00:00+00:00",
        section="Energy",
    ),
    # Same title and body on another day: not a copy.
    article(id="s4", title=TITLE, body=BODY, date="1987-03-09T11:20:00+00:00", section="Energy"),
    # Undated stories share no date: never copies.
    article(id="u1", title=TITLE, body=BODY, date=None, section="Energy"),
    article(id="u2", title=TITLE, body=BODY, date=None, section="Energy"),
]


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    corpus = write_jsonl(tmp_path / "c" / "s.jsonl", STORIES)
    build_index(corpus, tmp_path / "ix")
    return tmp_path / "ix"


def test_same_story_needs_title_day_and_near_identical_body() -> None:
    a = fingerprint(Article(id="a", title=TITLE, body=BODY))
    assert same_story(a, fingerprint(Article(id="b", title=f" {TITLE.lower()} ", body=BODY)))
    assert same_story(a, fingerprint(Article(id="b", title=TITLE, body=BODY + EXTRA * 3)))
    assert not same_story(a, fingerprint(Article(id="b", title="OTHER", body=BODY)))
    half = " ".join(BODY.split()[:20]) + " and then something else entirely about wheat and corn"
    assert not same_story(a, fingerprint(Article(id="b", title=TITLE, body=half)))
    assert not same_story(a, fingerprint(Article(id="b", title=TITLE, body="")))
    empty = fingerprint(Article(id="e", title=TITLE, body=""))
    assert same_story(empty, fingerprint(Article(id="f", title=TITLE, body="")))
    # Another title decides without hashing either body (the cost of deep pages at 216k).
    other = fingerprint(Article(id="o", title="OTHER", body=BODY))
    fresh = fingerprint(Article(id="g", title=TITLE, body=BODY))
    assert not same_story(fresh, other)
    assert fresh._shingles is None and other._shingles is None


def test_copies_collapse_into_one_hit(index_dir: Path) -> None:
    page = SearchService(index_dir).search(SearchRequest(q="study group reserves"))
    assert page.total == 6  # totals count stories, copies included
    assert {v.value: v.count for v in page.facets["section"]} == {"Energy": 6}
    by_id = {h.id: h for h in page.hits}
    assert len(page.hits) == 5 and page.copies == 1
    first = "s1" if "s1" in by_id else "s2"
    other = "s2" if first == "s1" else "s1"
    assert other not in by_id
    assert by_id[first].copies == (other,)
    assert all(h.copies == () for h in page.hits if h.id != first)
    assert page.to_dict()["hits"][[h.id for h in page.hits].index(first)]["copies"] == [other]


@pytest.mark.parametrize("sort", ["relevance", "newest", "oldest"])
def test_pages_never_repeat_a_folded_copy(index_dir: Path, sort: str) -> None:
    svc = SearchService(index_dir)
    seen: list[str] = []
    for n in (1, 2, 3, 4, 5):
        page = svc.search(SearchRequest(q=TITLE, per_page=1, page=n, sort=sort))
        seen += [h.id for h in page.hits] + [c for h in page.hits for c in h.copies]
    assert sorted(seen) == ["s1", "s2", "s3", "s4", "u1", "u2"]


def test_a_copy_filtered_out_is_not_listed(index_dir: Path) -> None:
    page = SearchService(index_dir).search(SearchRequest(q="tankers OR cited"))
    assert {h.id: h.copies for h in page.hits} == {"s2": (), "s3": ()}


def test_cli_and_export(index_dir: Path) -> None:
    text = CliRunner().invoke(search, ["study group", "--index", str(index_dir)])
    assert text.exit_code == 0, text.output
    assert "(2 copies)" in text.output and "1 shown as copies" in text.output
    jsonl = CliRunner().invoke(
        search, ["study group", "--index", str(index_dir), "--format", "jsonl"]
    )
    assert jsonl.exit_code == 0, jsonl.output
    exported = [json.loads(line)["id"] for line in jsonl.output.splitlines()]
    assert sorted(exported) == ["s1", "s2", "s3", "s4", "u1", "u2"]  # exports keep every story


@pytest.mark.slow  # Reuters-scale: builds (or reuses) the whole Reuters index
def test_reuters_study_group(reuters_index: Path) -> None:
    page = SearchService(reuters_index).search(SearchRequest(q=TITLE))
    assert page.total_all == 2  # stories with every word (the rest have some)
    assert len(page.hits[0].copies) == 1 and page.copies == 1
    assert {page.hits[0].id, *page.hits[0].copies} == {
        "00489_8c932126215e69c7",
        "00502_fe08238dc570652f",
    }


def test_web_page_and_api_show_copies(index_dir: Path) -> None:
    from searchapp.config import Settings
    from searchapp.web import create_app

    client = create_app(Settings(index_dir=index_dir)).test_client()
    data = client.get("/api/search?q=study+group").get_json()
    assert data["total"] == 6 and data["copies"] == 1
    copies = [c for h in data["hits"] for c in h["copies"]]
    assert copies in (["s1"], ["s2"])
    html = client.get("/?q=study+group").get_data(as_text=True)
    assert "2 copies</summary>" in html
    assert f'href="/article/{copies[0]}"' in html
