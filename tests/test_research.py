"""Research views (issue 14): trends, compare, related, significant; API, CLI and pages.

Every count is checked against a computation in plain Python from the stories themselves (a
small corpus built here, and the Reuters truth JSON lines from the shared converter), never
against the numpy code under test.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from click.testing import CliRunner

from searchapp import research
from searchapp.cli import main
from searchapp.config import Settings
from searchapp.models import SearchRequest
from searchapp.researcher import Research
from searchapp.search import SearchService
from searchapp.web import create_app
from tests.conftest import article, build_index, write_jsonl

EVIL = "<b>Evil</b> & Co"
STORIES = [
    # A Sunday late at night (ISO week 9), then a Monday just after midnight (week 10).
    article(id="s1", title="Coffee frost in Brazil", body="Coffee frost hurt the harvest.",
            date="1987-03-01T23:30:00+00:00", section="Commodities", topics=["coffee"],
            persons=["James Baker"], place="Bogota"),
    article(id="s2", title="Coffee trade talks", body="Coffee trade talks opened.",
            date="1987-03-02T00:10:00+00:00", section="Commodities", topics=["coffee", "trade"],
            persons=["James Baker", "Paul Volcker"], place="London"),
    article(id="s3", title="Oil output falls", body="Crude oil output fell; coffee steady.",
            date="1987-03-31T12:00:00+00:00", section="Energy", topics=["crude"],
            persons=["Paul Volcker"], place="London"),
    # Local time says April; UTC says March 31st (buckets are UTC, like --from/--to).
    article(id="s4", title="Oil prices firm", body="Crude oil prices were firm.",
            date="1987-04-01T01:00:00+03:00", section="Energy", topics=["crude"],
            persons=["James Baker"], place="Houston"),
    article(id="s5", title="Gold rises", body="Gold rose in quiet trade.",
            date="1987-05-15T09:00:00+00:00", section="Metals", topics=["gold"], place="London"),
    article(id="s6", title="Undated trade note", body="A note on trade.", date=None,
            section="Commodities", topics=["trade"], persons=["James Baker"]),
    article(id="s7", title="Gold dealer named", body="Gold dealers met.",
            date="1987-04-02T10:00:00+00:00", section="Metals", topics=["gold"],
            persons=[EVIL], place="London"),
]


def _when(row: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(row["date"]).astimezone(timezone.utc) if row["date"] else None


def _label(when: datetime, interval: str) -> str:
    """A bucket label computed with the standard library (the independent side)."""
    if interval == "day":
        return when.date().isoformat()
    if interval == "week":
        year, week, _ = when.isocalendar()
        return f"{year}-W{week:02d}"
    if interval == "month":
        return when.strftime("%Y-%m")
    return str(when.year)


def _truth_counts(rows: list[dict[str, Any]], interval: str) -> Counter[str]:
    return Counter(_label(w, interval) for r in rows if (w := _when(r)) is not None)


def _nonzero(buckets: list[str], counts: list[int]) -> dict[str, int]:
    return {b: c for b, c in zip(buckets, counts, strict=True) if c}


@pytest.fixture(scope="module")
def small_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("research")
    corpus = write_jsonl(root / "corpus" / "stories.jsonl", STORIES)
    build_index(corpus, root / "index")
    return root / "index"


@pytest.fixture(scope="module")
def r(small_index: Path) -> Research:
    return Research(SearchService(small_index))


@pytest.fixture(scope="module")
def client(small_index: Path) -> Any:
    return create_app(Settings(index_dir=small_index)).test_client()


# -- time buckets -----------------------------------------------------------------------------


@pytest.mark.parametrize("interval", research.INTERVALS)
def test_trends_per_interval_equal_python_counts(r: Research, interval: str) -> None:
    data, _tl = r.trends(SearchRequest(), None, interval)
    assert data["interval"] == interval
    assert _nonzero(data["buckets"], data["total"]) == _truth_counts(STORIES, interval)
    # Contiguous, in order, no bucket twice: a chart's x axis.
    assert data["buckets"] == sorted(set(data["buckets"]))
    assert data["undated"] == 1 and data["stories"] == len(STORIES)
    assert (data["first"], data["last"]) == ("1987-03-01", "1987-05-15")
    assert sum(data["total"]) == len(STORIES) - 1


def test_week_buckets_are_iso_weeks_in_utc(r: Research) -> None:
    data, tl = r.trends(SearchRequest(), None, "week")
    weeks = _nonzero(data["buckets"], data["total"])
    assert weeks["1987-W09"] == 1 and weeks["1987-W10"] == 1  # Sunday / Monday
    first, last = tl.dates(0)
    assert first.weekday() == 0 and (last - first).days == 6
    month, _ = r.trends(SearchRequest(), None, "month")
    # s4 (April 1st, 01:00 at UTC+3) is March in UTC: April holds s7 alone.
    assert _nonzero(month["buckets"], month["total"]) == {"1987-03": 4, "1987-04": 1,
                                                          "1987-05": 1}


def test_default_interval_fits_the_span(r: Research) -> None:
    data, _tl = r.trends(SearchRequest(), None, None)
    assert data["interval"] == "week"  # 1 March to 15 May: 76 days, 12 weeks
    day = np.datetime64("1987-03-01", "D").astype(np.int64)
    assert research.fit_interval(day, day + 59) == "day"
    assert research.fit_interval(day, day + 300) == "week"
    assert research.fit_interval(day, day + 3 * 365) == "month"
    assert research.fit_interval(day, day + 20 * 365) == "year"


def test_too_many_buckets_names_a_coarser_interval(tmp_path: Path) -> None:
    rows = [article(id="a", date="1950-01-01T00:00:00+00:00"),
            article(id="b", date="1990-01-01T00:00:00+00:00")]
    build_index(write_jsonl(tmp_path / "c" / "x.jsonl", rows), tmp_path / "ix")
    with pytest.raises(research.QueryError, match="interval=week or narrow the dates"):
        Research(SearchService(tmp_path / "ix")).trends(SearchRequest(), None, "day")


def test_long_tables_leave_out_empty_buckets_csv_keeps_them(tmp_path: Path) -> None:
    rows = [article(id="a", date="1980-01-07T00:00:00+00:00"),
            article(id="b", date="1985-01-07T00:00:00+00:00")]
    build_index(write_jsonl(tmp_path / "c" / "x.jsonl", rows), tmp_path / "ix")
    client = create_app(Settings(index_dir=tmp_path / "ix")).test_client()
    html = client.get("/trends?interval=week&by=").get_data(as_text=True)
    table = html[html.index('<table class="research-table">'):]
    assert table.count('<th scope="row">') == 2
    assert "weeks without any story are left out" in html
    body = client.get("/trends.csv?interval=week").get_data(as_text=True)
    assert len(body.strip().splitlines()) == 1 + 262  # header + every week of the span


def test_top_series_per_bucket_equal_python_counts(r: Research) -> None:
    data, _tl = r.trends(SearchRequest(), "persons", "month", top=2)
    dated = [s for s in STORIES if s["date"]]
    overall = Counter(p for s in dated for p in s["persons"])
    # Count descending, then name: James Baker 3, Paul Volcker 2.
    expect = sorted(overall, key=lambda p: (-overall[p], p))[:2]
    assert [s["value"] for s in data["series"]] == expect
    for series in data["series"]:
        truth = _truth_counts([s for s in dated if series["value"] in s["persons"]], "month")
        assert _nonzero(data["buckets"], series["counts"]) == truth


def test_trends_honour_query_and_filters(r: Research) -> None:
    req = SearchRequest(q="coffee", filters={"section": ("Commodities",)})
    data, _tl = r.trends(req, "topics", "day")
    rows = [s for s in STORIES if "coffee" in s["body"].lower() and s["section"] == "Commodities"]
    assert _nonzero(data["buckets"], data["total"]) == _truth_counts(rows, "day")
    assert data["stories"] == len(rows) == 2


# -- compare ----------------------------------------------------------------------------------


@pytest.mark.parametrize("interval", ["week", "month"])
def test_compare_counts_and_share_of_all_stories(r: Research, interval: str) -> None:
    data, _tl = r.compare(SearchRequest(), ["coffee", "gold", "  "], interval)
    assert [s["q"] for s in data["series"]] == ["coffee", "gold"]  # blanks are dropped
    everything = _truth_counts(STORIES, interval)
    assert _nonzero(data["buckets"], data["all"]) == everything
    for s in data["series"]:
        rows = [x for x in STORIES if s["q"] in f"{x['title']} {x['body']}".lower()]
        assert _nonzero(data["buckets"], s["counts"]) == _truth_counts(rows, interval)
        # Weeks without any story have no share (None), not a share of 0.
        for b, c, share in zip(data["buckets"], s["counts"], s["share"], strict=True):
            assert share == (pytest.approx(c / everything[b]) if everything[b] else None)


def test_compare_share_is_of_the_filtered_stories(r: Research) -> None:
    data, _tl = r.compare(SearchRequest(filters={"section": ("Energy",)}), ["oil"], "month")
    assert _nonzero(data["buckets"], data["all"]) == {"1987-03": 2}
    assert data["series"][0]["share"] == [1.0]


def test_chart_breaks_its_line_where_there_is_no_value() -> None:
    from searchapp.web.charts import Series, line_chart

    svg = str(line_chart("t", list("abcde"), [Series("s", [0.1, 0.2, None, 0.3, 0.4])],
                         x_title="x", y_title="y", percent=True))
    assert svg.count("<polyline") == 2 and svg.count("<circle") == 4
    assert ">0%<" in svg and ">40%<" in svg  # percent ticks, no needless decimals


# -- related and significant ------------------------------------------------------------------


def test_related_counts_and_lift(r: Research) -> None:
    data = r.related(SearchRequest(), "persons", "james baker", "topics", 10)
    assert data["value"] == "James Baker"  # typed in lowercase, found as printed
    with_baker = [s for s in STORIES if "James Baker" in s["persons"]]
    co = Counter(t for s in with_baker for t in s["topics"])
    df = Counter(t for s in STORIES for t in s["topics"])
    assert data["stories"] == len(with_baker) == 4
    got = {x["value"]: (x["count"], x["lift"]) for x in data["related"]}
    assert got == {
        t: (co[t], round((co[t] / len(with_baker)) / (df[t] / len(STORIES)), 3)) for t in co
    }
    same = r.related(SearchRequest(), "persons", "James Baker", "persons", 10)
    assert [x["value"] for x in same["related"]] == ["Paul Volcker"]  # never itself


def test_significant_values_jlh_against_the_archive(r: Research) -> None:
    data = r.significant(SearchRequest(q="oil"), "place", top=5, min_count=1)
    fg = [s for s in STORIES if "oil" in s["body"].lower()]
    n, m = len(fg), len(STORIES)
    fgc = Counter(s["place"] for s in fg if s["place"])
    bgc = Counter(s["place"] for s in STORIES if s["place"])

    def jlh(p: str) -> float:
        a, b = fgc[p] / n, bgc[p] / m
        return (a - b) * a / b if a > b else 0.0

    expect = sorted((p for p in fgc if jlh(p) > 0), key=lambda p: (-jlh(p), -fgc[p], p))
    assert [x["value"] for x in data["significant"]] == expect == ["Houston"]
    top = data["significant"][0]
    assert (top["count"], top["background"]) == (1, 1)
    assert top["score"] == pytest.approx(jlh("Houston"), abs=1e-6)
    assert data["stories"] == n and data["background"] == m
    # The default min_count (3) keeps a value seen once out.
    assert r.significant(SearchRequest(q="oil"), "place")["significant"] == []


def test_significant_words_counts_are_exact(r: Research) -> None:
    data = r.significant(SearchRequest(q="coffee"), "words", top=10, min_count=1)
    words = {x["value"]: x for x in data["significant"]}
    assert {"coffee", "frost", "talks"} <= set(words)
    for word, item in words.items():
        holding = [s for s in STORIES if re.search(rf"\b{word}", f"{s['title']} {s['body']}",
                                                   re.I)]
        fg = [s for s in holding if "coffee" in f"{s['title']} {s['body']}".lower()]
        assert (item["count"], item["background"]) == (len(fg), len(holding)), word


# -- parameters -------------------------------------------------------------------------------

BAD = [
    ("/api/trends?interval=fortnight", "interval", "use day, week, month, year"),
    ("/api/trends?by=people", "by", "use one of section, topics, persons, place"),
    ("/api/trends?top=0", "top", "use 1 to 50"),
    ("/api/trends?top=five", "top", "whole number"),
    ("/api/compare?" + "&".join(f"q=w{i}" for i in range(6)), "queries", "at most 5"),
    ("/api/compare?q=", "query", "at least one query"),
    ("/api/related?field=colour&value=red", "field", "use one of section"),
    ("/api/related?field=persons", "value", "value is missing"),
    ("/api/related?field=persons&value=Jmes+Baker", "value", "did you mean 'James Baker'"),
    ("/api/related?field=persons&value=x&with=words", "with", "use one of"),
    ("/api/significant?field=wordz", "field", "words"),
    ("/api/significant?field=words&min_count=0", "min_count", "1 or more"),
    ("/api/trends?from=1987-13", "from", "--from"),
]


@pytest.mark.parametrize(("url", "what", "fix"), BAD)
def test_bad_parameters_are_400_with_the_fix(client: Any, url: str, what: str, fix: str) -> None:
    response = client.get(url)
    assert response.status_code == 400, response.data
    message = response.get_json()["error"]
    assert fix in message, message


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        (["trends", "--interval", "fortnight"], "use day, week, month, year"),
        (["compare", "a", "b", "c", "d", "e", "f"], "at most 5"),
        (["related", "--with", "topics"], "exactly one of --person"),
        (["related", "--person", "Nobody at all"], "no person 'Nobody at all'"),
        (["significant", "--field", "wordz"], "words"),
        (["trends", "--by", "colour"], "use one of"),
    ],
)
def test_cli_bad_parameters_exit_2(small_index: Path, args: list[str], fix: str) -> None:
    result = CliRunner().invoke(main, [*args, "--index", str(small_index)])
    assert result.exit_code == 2, result.output
    assert fix in result.output and "Traceback" not in result.output


def test_cli_formats_agree_with_the_api(small_index: Path, client: Any) -> None:
    ix = ["--index", str(small_index)]
    api = client.get("/api/trends?by=topics&interval=month&top=3").get_json()
    out = CliRunner().invoke(main, ["trends", "--by", "topics", "--interval", "month", "--top",
                                    "3", "--format", "json", *ix])
    assert out.exit_code == 0 and json.loads(out.output) == api
    rows = list(csv.reader(io.StringIO(CliRunner().invoke(
        main, ["trends", "--by", "topics", "--interval", "month", "--top", "3",
               "--format", "csv", *ix]).output)))
    assert rows[0] == ["month", "stories"] + [s["value"] for s in api["series"]]
    assert [int(x) for x in (row[1] for row in rows[1:])] == api["total"]
    text = CliRunner().invoke(main, ["related", "--person", "james baker", "--with", "topics",
                                     *ix])
    assert text.exit_code == 0 and "4 stories with persons James Baker" in text.output
    cmp_ = CliRunner().invoke(main, ["compare", "coffee", "gold", "--interval", "month",
                                     "--format", "json", *ix])
    assert json.loads(cmp_.output) == client.get(
        "/api/compare?q=coffee&q=gold&interval=month").get_json()
    # The CLI's CSV is the page's download, row for row.
    cmp_csv = CliRunner().invoke(main, ["compare", "coffee", "gold", "--interval", "month",
                                        "--format", "csv", *ix])
    page_csv = client.get("/compare.csv?q=coffee&q=gold&interval=month").get_data(as_text=True)
    assert list(csv.reader(io.StringIO(cmp_csv.output))) == list(csv.reader(io.StringIO(page_csv)))


# -- pages ------------------------------------------------------------------------------------


def _svg_texts(html: str, chart_id: str) -> list[str]:
    svg = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', html, re.S)
    assert svg, chart_id
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg.group(0))


def test_trends_page_chart_axes_legend_table_csv(client: Any) -> None:
    html = client.get("/trends?by=persons&interval=month&section=Metals").get_data(as_text=True)
    texts = _svg_texts(html, "coverage")
    assert "Month" in texts and "Stories" in texts  # axis titles
    assert {"1987-04", "1987-05"} <= set(texts)  # bucket labels on the x axis
    assert 'class="legend"' in html and "<table" in html
    # The hostile person name is shown escaped everywhere (legend, chart titles, table).
    assert EVIL not in html and "&lt;b&gt;Evil&lt;/b&gt; &amp; Co" in html
    csv_link = re.search(r'href="(/trends\.csv\?[^"]+)"', html)
    assert csv_link
    body = client.get(csv_link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["month", "stories"] and rows[1:] == [
        ["1987-04", "1", "1"], ["1987-05", "1", "0"]]


def test_bucket_links_find_exactly_the_counted_stories(client: Any, small_index: Path) -> None:
    html = client.get("/trends?q=coffee&interval=week&by=").get_data(as_text=True)
    links = re.findall(r'<td class="num"><a href="(/\?[^"]+)">([\d,]+)</a>', html)
    assert links
    svc = SearchService(small_index)
    for href, count in links:
        args = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
        page = svc.search(SearchRequest(q=args["q"][0], date_from=args["from"][0],
                                        date_to=args["to"][0]))
        assert page.total == int(count.replace(",", "")), href


def test_compare_page_and_csv(client: Any) -> None:
    html = client.get("/compare?q=coffee&q=gold&interval=month").get_data(as_text=True)
    assert "Share of all stories" in _svg_texts(html, "share")
    assert "Stories" in _svg_texts(html, "counts")
    body = client.get("/compare.csv?q=coffee&q=gold&interval=month").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == ["month", "all", "coffee", "coffee share", "gold", "gold share"]
    assert rows[1][:3] == ["1987-03", "4", "3"]
    empty = client.get("/compare")
    assert empty.status_code == 200 and b"Type one to five queries" in empty.data
    assert client.get("/compare?" + "&".join(f"q=w{i}" for i in range(6))).status_code == 400


def test_person_page_any_case_unknown_is_404(client: Any) -> None:
    page = client.get("/person/james%20baker")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>James Baker</h1>" in html
    assert "Paul Volcker" in html and "/person/Paul%20Volcker" in html  # who appears with him
    assert "Coffee trade talks" in html  # latest stories
    assert "Timeline" in html and "Day" in _svg_texts(html, "timeline")  # 1 to 31 March
    csv_link = re.search(r'href="(/trends\.csv\?[^"]+)"', html)
    assert csv_link and csv_link.group(1).endswith("person=James+Baker")
    rows = list(csv.reader(io.StringIO(client.get(csv_link.group(1)).get_data(as_text=True))))
    assert sum(int(row[1]) for row in rows[1:]) == 3  # 4 stories, one undated
    missing = client.get("/person/Jmes%20Baker")
    assert missing.status_code == 404 and b"did you mean" in missing.data
    assert client.get("/topic/COFFEE").status_code == 200
    evil = client.get("/person/" + EVIL.replace("&", "%26"))
    assert evil.status_code == 200 and EVIL.encode() not in evil.data


def test_every_endpoint_sends_the_security_headers(client: Any) -> None:
    for url in ("/trends", "/compare?q=gold", "/person/James%20Baker", "/api/trends"):
        assert "script-src 'self'" in client.get(url).headers["Content-Security-Policy"]


# -- Reuters: against the truth JSON lines ---------------------------------------------------


@pytest.fixture(scope="module")
def truth(reuters_dir: dict[str, Path]) -> list[dict[str, Any]]:
    with reuters_dir["truth"].open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


@pytest.fixture(scope="module")
def reuters(reuters_index: Path) -> Research:
    return Research(SearchService(reuters_index))


@pytest.mark.slow
@pytest.mark.parametrize("interval", ["week", "month"])
def test_reuters_timeline_equals_the_truth(
    reuters: Research, truth: list[dict[str, Any]], interval: str
) -> None:
    data, _tl = reuters.trends(SearchRequest(), "topics", interval, top=3)
    assert _nonzero(data["buckets"], data["total"]) == _truth_counts(truth, interval)
    overall = Counter(t for row in truth if row["date"] for t in set(row["topics"]))
    assert [s["value"] for s in data["series"]] == sorted(
        overall, key=lambda t: (-overall[t], t))[:3]
    for s in data["series"]:
        rows = [row for row in truth if s["value"] in row["topics"]]
        assert _nonzero(data["buckets"], s["counts"]) == _truth_counts(rows, interval)


@pytest.mark.slow
def test_reuters_related_and_significant_topics_equal_the_truth(
    reuters: Research, truth: list[dict[str, Any]]
) -> None:
    data = reuters.related(SearchRequest(), "topics", "coffee", "topics", 50)
    subject = [row for row in truth if "coffee" in row["topics"]]
    co = Counter(t for row in subject for t in set(row["topics"]) if t != "coffee")
    df = Counter(t for row in truth for t in set(row["topics"]))
    assert {x["value"]: x["count"] for x in data["related"]} == dict(co)
    for x in data["related"]:
        lift = (co[x["value"]] / len(subject)) / (df[x["value"]] / len(truth))
        assert x["lift"] == pytest.approx(lift, abs=1e-3)
    sig = reuters.significant(SearchRequest(filters={"section": ("Energy",)}), "topics", top=5)
    fg = [row for row in truth if row["section"] == "Energy"]
    fgc = Counter(t for row in fg for t in set(row["topics"]))
    for x in sig["significant"]:
        assert (x["count"], x["background"]) == (fgc[x["value"]], df[x["value"]])


@pytest.mark.slow
def test_reuters_counts_equal_what_search_reports(
    reuters: Research, reuters_index: Path
) -> None:
    svc = SearchService(reuters_index)
    data, tl = reuters.trends(SearchRequest(q="oil"), None, "month")
    for i, count in enumerate(data["total"]):
        first, last = tl.dates(i)
        page = svc.search(SearchRequest(q="oil", date_from=first.isoformat(),
                                        date_to=last.isoformat(), per_page=1))
        assert page.total == count, data["buckets"][i]
    words = reuters.significant(SearchRequest(q="coffee"), "words", top=8)
    assert words["significant"]
    for x in words["significant"]:
        w = x["value"]
        q = f"coffee AND (title:{w} OR lead:{w} OR body:{w})"
        assert svc.search(SearchRequest(q=q, per_page=1)).total == x["count"], w
        q = f"title:{w} OR lead:{w} OR body:{w}"
        assert svc.search(SearchRequest(q=q, per_page=1)).total == x["background"], w


def test_results_page_links_to_trends_of_the_same_search(client: Any) -> None:
    html = client.get("/?q=coffee&section=Commodities").get_data(as_text=True)
    link = re.search(r'class="trends-link" href="([^"]+)"', html)
    assert link, "no Trends link on the results page"
    trends = client.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    assert "<strong>2</strong> stories" in trends  # the 2 results of that search
    assert 'name="section" value="Commodities"' in trends  # the filter travels in the form


def test_typed_questions_and_casual_parameters(client: Any, small_index: Path) -> None:
    q = "is the coffee trade?"
    data = client.get(f"/api/trends?q={q}&by=Persons&interval=Month%20").get_json()
    assert data["interval"] == "month" and data["by"] == "persons"
    page = SearchService(small_index).search(SearchRequest(q=q))
    # Lenient reading: stories with all the words and those with some, as the page lists them.
    assert data["stories"] == page.total == sum(data["total"]) + data["undated"] == 5
    related = client.get("/api/related?field=person&value=%20paul%20volcker&with=Topic").get_json()
    assert related["value"] == "Paul Volcker" and related["with"] == "topics"
