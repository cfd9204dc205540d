"""The web front end: every route, every error path, the security headers, hostile text inert."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from markupsafe import escape

from searchapp.config import Settings
from searchapp.models import EXPORT_FIELDS, FacetValue, SearchRequest
from searchapp.search import SearchService
from searchapp.web import create_app
from searchapp.web.histogram import histogram as layout

REPO = Path(__file__).resolve().parents[1]
REFERENCE = "000_fb76c108e539c208"

SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
SVG = '"><svg onload=alert(1)>'
IMG = "<img src=x onerror=alert(1)>"
HOSTILE_RAW = (SCRIPT, "<svg onload", "<img src=x", "<Donohue Inc>")
EVIL_ID = 'evil2"><svg onload=alert(1)>'  # ids may not hold "/", so no </script>

SECTIONS = ("Economy", "Energy", "Metals", "Politics")
PEOPLE = ("James Baker", "Paul Volcker", "Vladimir Putin", "Bashar Assad")


def _filler() -> Iterator[dict[str, Any]]:
    """Ordinary stories over two years and four sections (for facets, pages, the histogram)."""
    words = (
        "coffee prices rose",
        "oil output fell",
        "gold traded higher",
        "Syria talks continued in Sochi",
    )
    for i in range(24):
        year = 2016 + i % 2
        month = 1 + (i * 5) % 12
        section = SECTIONS[i % 4]
        yield {
            "id": f"story{i:02d}",
            "title": f"{words[i % 4].capitalize()} in report {i}",
            "lead": f"Lead of report {i} on {words[i % 4]}.",
            "body": f"LONDON, {month}. Traders said {words[i % 4]} on {i} days.\n\n"
            f"A second paragraph about {words[(i + 1) % 4]}.",
            "date": f"{year}-{month:02d}-{1 + i % 27:02d}T{8 + i % 10:02d}:00:00+00:00",
            "section": section,
            "topics": ["Foreign policy"] if i % 3 == 0 else ["Syrian conflict", "trade"],
            "persons": [PEOPLE[i % 4]] if i % 2 else [PEOPLE[i % 4], PEOPLE[(i + 1) % 4]],
            "place": "London" if i % 2 else "Moscow",
            "photo_credit": "",
        }


HOSTILE = [
    {
        "id": "evil1",
        "title": f"{SCRIPT} coffee headline",
        "lead": f"{SVG} coffee lead with \"double\" and 'single' quotes",
        "body": f"Coffee body with {IMG} and <Donohue Inc> said coffee & tea.\n\n{SCRIPT} again.",
        "date": "2017-06-15T12:00:00+02:00",
        "section": "Economy",
        "topics": [SCRIPT, "coffee"],
        "persons": [SVG, 'O\'Brien "Bud"'],
        "place": IMG,
        "photo_credit": f"© {SCRIPT}",
    },
    {
        "id": EVIL_ID,
        "title": f"Quotes \"and\" 'apostrophes' {IMG} coffee",
        "lead": "",
        "body": f"Coffee markets and <Donohue Inc> in {SVG}.",
        "date": "2017-06-16T12:00:00+00:00",
        "section": f"Odd {SCRIPT}",
        "topics": ["coffee"],
        "persons": ["<Donohue Inc>"],
        "place": "London",
        "photo_credit": "",
    },
]


def _reference_article() -> Path:
    """Return the reference TASS article (fixtures, then corpus/, then the shared corpora)."""
    for candidate in (
        REPO / "tests" / "fixtures" / "articles" / f"{REFERENCE}.txt",
        REPO / "corpus" / f"{REFERENCE}.txt",
        REPO.parent / "shared" / "corpora" / "tass" / f"{REFERENCE}.txt",
    ):
        if candidate.exists():
            return candidate
    pytest.skip("the reference article 000_fb76c108e539c208.txt is missing")


def write_corpus(folder: Path) -> Path:
    """Write the web test corpus (ordinary, hostile and the reference article) into folder."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "web.jsonl").open("w", encoding="utf-8") as fh:
        for item in [*_filler(), *HOSTILE]:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    shutil.copy(_reference_article(), folder / f"{REFERENCE}.txt")
    return folder


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only index of the web test corpus, built once for this module."""
    from searchapp.indexer import index_corpus

    root = tmp_path_factory.mktemp("web")
    corpus = write_corpus(root / "corpus")
    report = index_corpus(corpus, root / "index")
    assert not report.skipped, report.skipped
    return root / "index"


@pytest.fixture(scope="module")
def app(index_dir: Path) -> Any:
    """The app over the test index (small limits, so 413/414/400 are cheap to reach)."""
    settings = Settings(
        index_dir=index_dir, max_url_chars=2000, max_body_bytes=1024, max_query_chars=300
    )
    flask_app = create_app(settings)
    flask_app.config["TESTING"] = True
    return flask_app


@pytest.fixture
def client(app: Any) -> Any:
    """A test client."""
    return app.test_client()


@pytest.fixture(scope="module")
def service(index_dir: Path) -> SearchService:
    """The service the app should agree with."""
    return SearchService(index_dir)


@pytest.fixture
def empty_client(tmp_path: Path) -> Any:
    """A client of an app whose index directory holds no index."""
    flask_app = create_app(Settings(index_dir=tmp_path / "none"))
    return flask_app.test_client()


def html(response: Any) -> str:
    """Return a response body as text."""
    return response.get_data(as_text=True)


class _Tags(HTMLParser):
    """Collect every start tag and its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def assert_inert(text: str) -> None:
    """Assert that no hostile markup survives: raw strings absent, no handler or stray tag."""
    for raw in HOSTILE_RAW:
        assert raw not in text, raw
    parser = _Tags()
    parser.feed(text)
    for tag, attrs in parser.tags:
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert tag not in ("img", "iframe", "object", "embed"), (tag, attrs)
        if tag == "script":
            assert attrs.get("src") == "/static/app.js", attrs
        if tag == "svg":
            assert attrs.get("class") == "histogram", attrs
        for value in attrs.values():
            assert not (value or "").lower().startswith("javascript:"), (tag, attrs)


def links(text: str) -> list[str]:
    """Return every href on a page, unescaped."""
    import html as html_lib

    return [html_lib.unescape(h) for h in re.findall(r'href="([^"]*)"', text)]


def query_of(url: str) -> dict[str, list[str]]:
    """Return the parameters of a URL."""
    return parse_qs(urlsplit(url).query)


# -- the search page ------------------------------------------------------------------------


def test_landing_page_is_the_archive_newest_first(client: Any, service: SearchService) -> None:
    response = client.get("/")
    assert response.status_code == 200
    text = html(response)
    newest = service.search(SearchRequest()).hits
    positions = [text.index(f'/article/{h.id}?n=') for h in newest[:3] if "<" not in h.id]
    assert positions == sorted(positions)
    assert 'name="q"' in text and "autofocus" in text
    assert 'role="combobox"' in text and "/api/suggest" in text
    for legend in ("Section", "Topics", "People", "Place"):
        assert f'<legend class="facet-title">{legend}</legend>' in text
    total = service.search(SearchRequest()).total
    assert f"<strong>{total}</strong> stories" in text
    # Without a query "newest" is the default (submitted empty, so a new query ranks by
    # relevance); there is no relevance to choose.
    assert '<option value="" selected>Newest first</option>' in text
    assert 'value="relevance"' not in text


def test_search_highlights_and_reports_time(client: Any) -> None:
    text = html(client.get("/?q=coffee"))
    assert "<mark>" in text
    assert re.search(r"· (\d+|&lt;1) ms", text)
    assert 'value="coffee"' in text
    assert 'value="relevance" selected' in text


def test_snippet_is_the_only_raw_html(client: Any, service: SearchService) -> None:
    page = service.search(SearchRequest(q="coffee"))
    text = html(client.get("/?q=coffee"))
    for hit in page.hits:
        if hit.snippet:
            assert f'<p class="hit-snippet">{hit.snippet}</p>' in text
    # <mark> appears only inside snippets, never inside an attribute
    for attr in re.findall(r'="([^"]*)"', text):
        assert "<" not in attr


def test_facets_multi_select_and_toggle_links(client: Any, service: SearchService) -> None:
    text = html(client.get("/?section=Economy&section=Energy"))
    assert re.search(
        r'name="section" value="Economy"\s+form="search-form" data-autosubmit checked', text
    )
    assert re.search(
        r'name="section" value="Energy"\s+form="search-form" data-autosubmit checked', text
    )
    # Multi-select: unselected sections still show their counts.
    assert re.search(r'name="section" value="Metals"\s+form="search-form" data-autosubmit>', text)
    page = service.search(SearchRequest(filters={"section": ("Economy", "Energy")}))
    assert f"<strong>{page.total}</strong>" in text
    # Active filters are chips whose links remove them.
    removes = [h for h in links(text) if "section=Economy" not in h and "section=Energy" in h]
    assert removes


def test_person_and_topic_links_add_a_filter(client: Any) -> None:
    text = html(client.get("/?q=coffee&sort=newest"))
    person_links = [h for h in links(text) if "person=" in h and h.startswith("/?")]
    assert person_links
    params = query_of(person_links[0])
    assert params["q"] == ["coffee"] and params["sort"] == ["newest"]
    assert "page" not in params
    topic_links = [h for h in links(text) if "topic=" in h]
    assert topic_links


def test_selected_value_outside_top_list_stays_checked(client: Any) -> None:
    text = html(client.get("/?facet_limit=1&person=Paul+Volcker&person=James+Baker"))
    assert re.search(r'value="Paul Volcker"\s+form="search-form" data-autosubmit checked', text)
    assert re.search(r'value="James Baker"\s+form="search-form" data-autosubmit checked', text)


def test_form_works_without_javascript(client: Any) -> None:
    text = html(client.get("/?q=coffee&section=Economy&from=2017&to=2017"))
    assert re.search(r'<form class="searchbox" id="search-form" action="/" method="get"', text)
    # The sidebar's native date fields carry the range (a whole year reads as its days).
    for name, value in (("from", "2017-01-01"), ("to", "2017-12-31")):
        field = rf'type="date" id="date-{name}" name="{name}" value="{value}"\s+form="search-form"'
        assert re.search(field, text)
    assert 'name="from" value="2017"' not in text, "the range is sent once, by the date fields"
    assert "Apply filters" in text  # the no-JS submit
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline script"
    assert " style=" not in text, "inline style breaks the CSP"
    assert " on" + "click=" not in text


def test_histogram_drills_down_month_day(client: Any) -> None:
    # Two years of stories read best as months (the interval fits the span), with axes.
    text = html(client.get("/"))
    assert '<svg class="histogram"' in text and 'data-level="month"' in text
    bars = [h for h in links(text) if "from=" in h and "to=" in h]
    months = [query_of(h)["from"][0] for h in bars]
    assert "2016-01" in months and "2017-12" in months
    assert all(query_of(h)["from"] == query_of(h)["to"] for h in bars)
    assert "<title>December 2017:" in text
    assert re.search(r'<text class="axis-label axis-x"[^>]*>Jan 2016</text>', text)
    assert re.search(r'<text class="axis-label axis-y"[^>]*>0</text>', text)
    assert "Counts as a table" in text
    month_url = next(h for h in bars if query_of(h)["from"] == ["2017-06"])
    text = html(client.get(month_url))
    assert 'aria-label="Date drill-down"' in text and 'data-level="day"' in text
    day_bars = [
        h for h in links(text) if re.fullmatch(r"\d{4}-\d\d-\d\d", query_of(h).get("from", [""])[0])
    ]
    assert day_bars, "a month narrows to days"
    assert "<title>June 15, 2017: 1 story</title>" in text


def test_histogram_years_when_the_span_is_long(client: Any) -> None:
    # The reference story (2017) beside 1987-style spans: more than three years -> years.
    text = html(client.get("/?from=2014&to=2017"))
    assert 'data-level="month"' in text  # 2016-2017 only: still months
    data = {"year": [FacetValue("1987", 3000), FacetValue("2017", 1)]}
    chart = layout(data, lambda f, t: f"/?from={f}&to={t}")
    assert chart is not None and chart.level == "year"
    assert [b.key for b in chart.bars][:2] == ["1987", "1988"] and len(chart.bars) == 31
    small = chart.bars[-1]
    assert small.count == 1 and small.height >= 3, "one story beside 3,000 stays visible"


def test_pagination_links(client: Any, service: SearchService) -> None:
    text = html(client.get("/?per_page=5"))
    total = service.search(SearchRequest(per_page=5)).total
    assert 'rel="next"' in text and 'rel="prev"' not in text
    next_url = next(h for h in links(text) if query_of(h).get("page") == ["2"])
    assert query_of(next_url)["per_page"] == ["5"]
    text = html(client.get(next_url))
    assert 'rel="prev"' in text and 'aria-current="page">2<' in text
    assert "showing 6–10" in text and f"<strong>{total}</strong>" in text


def test_did_you_mean(client: Any, service: SearchService) -> None:
    page = service.search(SearchRequest(q="cofee"))
    assert page.suggestion == "coffee"
    text = html(client.get("/?q=cofee"))
    if page.corrected_query:
        assert "Showing results for" in text
    else:
        assert "Did you mean" in text
    assert any(query_of(h).get("q") == ["coffee"] for h in links(text))


def test_more_like_this_listing(client: Any) -> None:
    text = html(client.get("/?like=story01"))
    assert "Stories like" in text
    assert '/article/story01"' in text
    # Filters and sort keep the "like" mode; the search box starts a new search.
    assert '<form id="like-form" action="/" method="get" hidden>' in text
    assert '<input type="hidden" name="like" value="story01">' in text
    assert re.search(r'name="section" value="\w+"\s+form="like-form"', text)
    assert '<select id="sort" name="sort" form="like-form"' in text
    assert client.get("/?like=no-such-story").status_code == 404


def test_export_links_carry_the_search(client: Any) -> None:
    text = html(client.get("/?q=coffee&section=Economy&page=1&per_page=5"))
    csv_url = next(h for h in links(text) if h.startswith("/api/export.csv"))
    assert query_of(csv_url) == {"q": ["coffee"], "section": ["Economy"]}
    assert any(h.startswith("/api/export.jsonl") for h in links(text))


# -- issue 13: dates, facets, small things -------------------------------------------------


def test_date_range_fields_and_chip(client: Any, service: SearchService) -> None:
    text = html(client.get("/?from=2016-03-01&to=2016-05-31"))
    assert 'value="2016-03-01"' in text and 'value="2016-05-31"' in text
    assert re.search(r'<span class="chip-label">Date:</span> March – May 2016', text)
    total = service.search(SearchRequest(date_from="2016-03-01", date_to="2016-05-31")).total
    assert f"<strong>{total}</strong>" in text
    # Every bar says which period it selects, for the drag and shift-click span selection.
    assert re.search(r'class="bar-link" data-from="2016-0\d" data-to="2016-0\d"', text)


def test_ticked_value_outside_the_top_shows_its_count(client: Any, service: SearchService) -> None:
    everyone = service.search(SearchRequest(facet_limit=0)).facets["persons"]
    last = [v for v in everyone if v.value in PEOPLE][-1]
    assert last != everyone[0]
    text = html(client.get(f"/?facet_limit=1&person={last.value.replace(' ', '+')}"))
    label = re.search(
        rf'value="{re.escape(last.value)}"\s+form="search-form" data-autosubmit checked>\s*'
        r'<label[^>]*><span class="facet-label">[^<]*</span>\s*<span class="count">([^<]*)</span>',
        text,
    )
    assert label and label.group(1) == str(last.count), "not a dash: its own count"


def test_more_opens_one_facet_with_a_filter_box(client: Any, service: SearchService) -> None:
    text = html(client.get("/?facet_limit=1"))
    more = [h for h in links(text) if "more=" in h]
    assert {query_of(h)["more"][0] for h in more} == {"section", "topic", "person", "place"}
    assert "More places…" in text and "More people…" in text and "More place…" not in text
    text = html(client.get("/?facet_limit=1&more=person"))
    assert 'id="find-person"' in text and 'id="find-topic"' not in text
    people = re.search(r'id="values-person">(.*?)</ul>', text, re.S)
    topics = re.search(r'id="values-topic">(.*?)</ul>', text, re.S)
    assert people and topics
    persons = service.search(SearchRequest(facet_limit=0)).facets["persons"]
    assert people.group(1).count("<li") == len(persons) > 1
    assert topics.group(1).count("<li") == 1
    assert "Fewer people" in text
    # Ticking a box in the opened list keeps it open.
    assert '<input type="hidden" name="more" value="person" form="search-form">' in text


def test_no_results_page_has_no_empty_filters_or_sort(client: Any) -> None:
    text = html(client.get("/?q=nosuchwordanywhere"))
    assert "Nothing matches" in text
    assert "<summary>Filters" not in text and 'id="sort"' not in text


def test_search_page_has_a_heading_and_clear_all_beside_the_chips(client: Any) -> None:
    text = html(client.get("/?q=coffee&section=Economy&place=London"))
    assert re.search(r"<h1[^>]*>Search results for coffee</h1>", text)
    chips = re.search(r'<ul class="chips".*?</ul>', text, re.S)
    assert chips and "Clear all" in chips.group(0)
    clear = next(h for h in links(chips.group(0)) if "section" not in h and "place" not in h)
    assert query_of(clear) == {"q": ["coffee"]}


def test_shortcuts_can_be_switched_off_and_focus_is_visible(client: Any) -> None:
    text = html(client.get("/"))
    assert 'id="keys-toggle" aria-pressed="true"' in text
    css = html(client.get("/static/app.css"))
    focus = re.search(r"--focus: #([0-9a-f]{6});", css)
    paper = re.search(r"--paper: #([0-9a-f]{6});", css)
    assert focus and paper
    assert contrast(focus.group(1), paper.group(1)) >= 3.0, "WCAG 1.4.11: 3:1 for the ring"


def contrast(a: str, b: str) -> float:
    """Return the WCAG contrast ratio of two hex colours."""

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (0, 2, 4)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


# -- the article page keeps the search ------------------------------------------------------


def test_article_from_results_keeps_the_search(client: Any, service: SearchService) -> None:
    req = SearchRequest(q="coffee", per_page=3, sort="newest")
    results = html(client.get("/?q=coffee&per_page=3&sort=newest&page=2"))
    page = service.search(replace(req, page=2))
    second = page.hits[1]
    url = next(h for h in links(results) if query_of(h).get("n") == ["5"])
    assert unquote(urlsplit(url).path) == f"/article/{second.id}"
    assert query_of(url)["q"] == ["coffee"]
    text = html(client.get(url))
    assert 'value="coffee"' in text, "the box keeps the query"
    assert "<mark>" in text and "oil" not in re.findall(r"<mark>([^<]*)</mark>", text)
    back = next(h for h in links(text) if "Back to results" in text and h.startswith("/?"))
    assert query_of(back) == {"q": ["coffee"], "sort": ["newest"], "per_page": ["3"], "page": ["2"]}
    prev = service.search(replace(req, page=4, per_page=1)).hits[0]
    nxt = service.search(replace(req, page=6, per_page=1)).hits[0]
    steps = {
        query_of(h)["n"][0]: unquote(urlsplit(h).path) for h in links(text) if "n" in query_of(h)
    }
    assert steps == {"4": f"/article/{prev.id}", "6": f"/article/{nxt.id}"}
    assert f"Result 5 of {page.total}" in text


def test_article_without_a_search_has_no_result_links(client: Any) -> None:
    text = html(client.get("/article/story01"))
    assert "Back to results" not in text and "<mark>" not in text
    # A hand-edited search that no longer parses loses the links, never the story.
    broken = client.get("/article/story01?q=%22unclosed&n=2&per_page=x")
    assert broken.status_code == 200 and "Back to results" not in html(broken)


def test_marked_words_on_the_article_page_are_escaped(client: Any) -> None:
    text = html(client.get(f"/article/evil1?q={SCRIPT}+coffee&n=1"))
    assert_inert(text)
    assert "<mark>Coffee</mark>" in text or "<mark>coffee</mark>" in text


# -- the article page -----------------------------------------------------------------------


def test_reference_article_as_printed(client: Any) -> None:
    response = client.get(f"/article/{REFERENCE}")
    assert response.status_code == 200
    text = html(response)
    assert "Putin and Assad meet in Sochi" in text
    assert "November 21, 2017, 08:07 UTC+3" in text
    assert 'datetime="2017-11-21T05:07:00+00:00"' in text
    assert "Assad expects Russia will support Syria" in text
    assert "© Mikhail Klimentiev/Presidential press service/TASS" in text
    assert text.count("<p>") >= 6  # body paragraphs split on blank lines
    assert "Russian Politics &amp; Diplomacy" in text
    assert "/?person=Vladimir+Putin" in text
    assert "/?topic=Syrian+conflict" in text
    assert "More like this" in text


def test_article_with_hostile_id_and_fields(client: Any) -> None:
    text = html(client.get("/?q=apostrophes"))
    article_url = next(h for h in links(text) if h.startswith("/article/evil2"))
    assert "%22%3E%3Csvg" in article_url
    response = client.get(article_url)
    assert response.status_code == 200
    assert_inert(html(response))
    assert "id evil2&#34;&gt;&lt;svg onload=alert(1)&gt;" in html(response)


def test_unknown_article_404(client: Any) -> None:
    response = client.get("/article/no-such-story")
    assert response.status_code == 404
    assert "no article with id &#34;no-such-story&#34;" in html(response)


@pytest.mark.parametrize(
    "path",
    [
        "/article/..%2f..%2fetc%2fpasswd",
        "/article/../../etc/passwd",
        "/api/article/..%2fx",
        "/article/%00",
        "/static/..%2f__init__.py",
    ],
)
def test_paths_are_never_files(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert "root:" not in html(response) and "import" not in html(response)


# -- hostile text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/",
        "/?q=coffee",
        "/?q=alert",
        "/?q=script",
        "/?q=donohue",
        "/article/evil1",
        "/?topic=" + SCRIPT,
        "/?person=" + SVG,
        "/?place=" + IMG,
        "/?section=Odd+" + SCRIPT,
        "/?q=" + SCRIPT + '"',
        "/?q=`" + SCRIPT + '`"',
        "/?q=alert&from=" + SCRIPT,
        "/?q=x&sort=" + SCRIPT,
        "/article/" + SCRIPT,
        "/api/search?q=coffee",
        "/api/search?q=alert",
        "/api/search?topic=" + SCRIPT,
        "/api/article/evil1",
        "/api/suggest?q=scr",
        "/api/suggest?q=" + SCRIPT,
        "/api/export.jsonl?q=coffee",
        "/api/search?q=" + SCRIPT + '"',
        "/api/article/" + SCRIPT,
    ],
)
def test_hostile_text_is_inert(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code in (200, 400, 404)
    assert_inert(html(response))


def test_hostile_text_is_shown_escaped(client: Any) -> None:
    page = html(client.get("/article/evil1"))
    assert f"{SCRIPT_ESCAPED} coffee headline" in page
    assert "&#34;&gt;&lt;svg onload=alert(1)&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;Donohue Inc&gt;" in page
    assert "O&#39;Brien &#34;Bud&#34;" in page
    results = html(client.get("/?q=coffee"))
    assert SCRIPT_ESCAPED in results
    facets = html(client.get("/?topic=" + SCRIPT))
    assert f'value="{SCRIPT_ESCAPED}"' in facets
    error = html(client.get("/?q=" + SCRIPT + '"'))
    assert SCRIPT_ESCAPED in error


def test_hostile_json_parses_back_to_the_same_data(client: Any, service: SearchService) -> None:
    response = client.get("/api/article/evil1")
    assert response.get_json() == service.get_article("evil1").to_dict()
    assert "\\u003cscript\\u003e" in html(response)


# -- the JSON API ---------------------------------------------------------------------------


def _without_time(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "took_ms"}


def test_api_search_equals_the_service(client: Any, service: SearchService) -> None:
    response = client.get("/api/search?q=coffee")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    data = response.get_json()
    expected = service.search(SearchRequest(q="coffee")).to_dict()
    assert _without_time(data) == _without_time(expected)
    assert [h["id"] for h in data["hits"]] == [h["id"] for h in expected["hits"]]
    assert list(data) == list(expected)  # same keys, same order


def test_api_params_map_to_the_request(client: Any, service: SearchService) -> None:
    url = (
        "/api/search?q=&page=2&per_page=3&sort=oldest&section=Economy&section=Energy"
        "&section=Metals&topic=trade&topic=Foreign+policy&person=James+Baker"
        "&person=Paul+Volcker&person=Vladimir+Putin&from=2016&to=2017-12&facet_limit=2"
    )
    req = SearchRequest(
        q="",
        page=2,
        per_page=3,
        sort="oldest",
        filters={
            "section": ("Economy", "Energy", "Metals"),
            "topics": ("trade", "Foreign policy"),
            "persons": ("James Baker", "Paul Volcker", "Vladimir Putin"),
        },
        date_from="2016",
        date_to="2017-12",
        facet_limit=2,
    )
    data = client.get(url).get_json()
    assert _without_time(data) == _without_time(service.search(req).to_dict())
    assert data["page"] == 2 and data["per_page"] == 3
    place = client.get("/api/search?place=London&like=story01").get_json()
    london = SearchRequest(filters={"place": ("London",)}, like="story01")
    expected = service.search(london).to_dict()
    assert _without_time(place) == _without_time(expected)


def test_api_article_and_suggest(client: Any, service: SearchService) -> None:
    data = client.get(f"/api/article/{REFERENCE}").get_json()
    assert data == service.get_article(REFERENCE).to_dict()
    suggest = client.get("/api/suggest?q=bak").get_json()
    assert suggest["query"] == "bak"
    assert suggest["suggestions"] == service.suggest("bak", limit=8)
    assert any(s["value"] == "James Baker" for s in suggest["suggestions"])
    assert client.get("/api/suggest?q=").get_json()["suggestions"] == []
    assert len(client.get("/api/suggest?q=re&limit=2").get_json()["suggestions"]) <= 2


def test_api_404_is_json(client: Any) -> None:
    response = client.get("/api/article/no-such-story")
    assert response.status_code == 404
    assert response.get_json() == {"error": 'no article with id "no-such-story" in the index'}
    response = client.get("/api/nothing-here")
    assert response.status_code == 404 and "error" in response.get_json()


def test_export_csv_every_match(client: Any, service: SearchService) -> None:
    response = client.get("/api/export.csv?q=coffee")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(html(response))))
    expected = list(service.export(SearchRequest(q="coffee")))
    assert len(rows) == len(expected) == service.search(SearchRequest(q="coffee")).total
    assert list(rows[0]) == list(EXPORT_FIELDS)
    evil = next(r for r in rows if r["id"] == "evil1")
    assert evil["topics"] == f"{SCRIPT}; coffee"
    assert evil["persons"] == f'{SVG}; O\'Brien "Bud"'


def test_export_jsonl_every_match(client: Any, service: SearchService) -> None:
    response = client.get("/api/export.jsonl?section=Economy&sort=oldest")
    assert response.status_code == 200
    lines = [json.loads(line) for line in html(response).splitlines()]
    req = SearchRequest(filters={"section": ("Economy",)}, sort="oldest")
    assert lines == [a.to_dict() for a in service.export(req)]
    assert len(lines) == service.search(req).total
    assert client.get("/api/export.xml").status_code == 404


def test_openapi_describes_every_api_route(client: Any, app: Any) -> None:
    spec = client.get("/api/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    rules = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/")
    }
    documented = set(spec["paths"])
    rules = {r.replace("export.{fmt}", "export.csv") for r in rules} | {"/api/export.jsonl"}
    rules = {r.replace("{article_id}", "{id}") for r in rules}
    assert documented == rules
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert names == {
        "q",
        "page",
        "per_page",
        "sort",
        "section",
        "topic",
        "person",
        "place",
        "from",
        "to",
        "facet_limit",
        "like",
        "strict",
    }


# -- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('strict=1&q="unclosed', 'the query has an unmatched double quote ("): close the phrase'),
        ("page=abc", 'page "abc" is not a whole number: use e.g. page=1'),
        ("sort=best", 'sort "best" is not known: use relevance, newest, oldest'),
        ("per_page=1000", "per_page 1000 is out of range: use 1 to 100"),
        ("page=99", "page 99 is past the last page"),
        ("from=yesterday", '--from "yesterday" is not a date'),
        ("from=2017&to=2016", "--from 2017 is after --to 2016: swap them"),
        ("strict=1&q=nosuchfield:x", 'unknown field "nosuchfield:" in the query'),
        ("strict=maybe", 'strict "maybe" is not a yes/no value'),
        ("q=" + "a" * 301, "the query is 301 characters long; at most 300 are accepted"),
    ],
)
def test_bad_queries_are_400(client: Any, query: str, message: str) -> None:
    response = client.get("/api/search?" + query)
    assert response.status_code == 400
    assert response.get_json()["error"].startswith(message)
    page = client.get("/?" + query)
    assert page.status_code == 400
    assert str(escape(message)) in html(page)
    assert 'id="q"' in html(page)  # the page re-renders around the message


def test_bad_query_keeps_the_query_and_filters(client: Any) -> None:
    text = html(client.get('/?q="oil&section=Energy&sort=oldest&strict=1'))
    assert 'value="&#34;oil"' in text
    assert '<input type="hidden" name="section" value="Energy">' in text
    assert '<input type="hidden" name="sort" value="oldest">' in text


def test_export_bad_query_is_400_before_streaming(client: Any) -> None:
    response = client.get('/api/export.csv?q="oops&strict=1')
    assert response.status_code == 400
    assert "unmatched double quote" in response.get_json()["error"]
    response = client.get("/api/export.jsonl?sort=newset")
    assert response.status_code == 400
    assert (
        response.get_json()["error"] == 'sort "newset" is not known: use relevance, newest, oldest'
    )
    assert client.get("/api/export.csv?from=2017-13").status_code == 400


def test_no_index_is_503_with_the_command(empty_client: Any, tmp_path: Path) -> None:
    for url in (
        "/",
        "/?q=coffee",
        "/article/x",
        "/api/search",
        "/api/article/x",
        "/api/suggest?q=ab",
        "/api/export.csv",
    ):
        response = empty_client.get(url)
        assert response.status_code == 503, url
        body = html(response)
        assert f"searchapp index --index {tmp_path / 'none'}" in body, url
    assert "No index to search yet" in html(empty_client.get("/"))
    assert f"<code>searchapp index --index {tmp_path / 'none'}</code>" in html(
        empty_client.get("/")
    )
    assert empty_client.get("/static/app.css").status_code == 200


def test_body_too_large_is_413(client: Any) -> None:
    response = client.post("/", data=b"x" * 2000)
    assert response.status_code == 413
    assert (
        client.post("/api/search", data=b"x" * 2000)
        .get_json()["error"]
        .startswith("The request body is larger than 1,024 bytes")
    )


def test_url_too_long_is_414(client: Any) -> None:
    response = client.get("/?q=" + "a" * 2100)
    assert response.status_code == 414
    assert "The URL is longer than 2,000 characters" in html(response)
    assert client.get("/api/search?section=" + "b" * 2100).status_code == 414
    assert client.get("/static/app.css?" + "c" * 2100).status_code == 414


def test_wrong_method_is_405(client: Any) -> None:
    assert client.post("/api/search").status_code == 405
    assert client.post("/api/search").get_json()["error"] == "POST is not allowed here: use GET."


def test_unexpected_error_is_a_plain_500(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    svc = app.extensions["searchapp"]

    def boom(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr(svc, "search", boom)
    client = app.test_client()
    for url in ("/?q=coffee", "/api/search?q=coffee"):
        response = client.get(url)
        assert response.status_code == 500
        body = html(response)
        assert "secret" not in body and "Traceback" not in body and "RuntimeError" not in body
        assert_security_headers(response)
    assert client.get("/api/search").get_json() == {
        "error": "The server hit an unexpected error. Try again in a moment."
    }


# -- headers on every response --------------------------------------------------------------


def assert_security_headers(response: Any) -> None:
    """Assert the headers every response must carry."""
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "style-src 'self'" in csp and "img-src 'self' data:" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert response.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize(
    ("method", "url", "status"),
    [
        ("GET", "/", 200),
        ("GET", "/?q=coffee", 200),
        ("GET", f"/article/{REFERENCE}", 200),
        ("GET", "/api/search?q=oil", 200),
        ("GET", "/api/article/evil1", 200),
        ("GET", "/api/suggest?q=pu", 200),
        ("GET", "/api/export.csv?q=oil", 200),
        ("GET", "/api/export.jsonl", 200),
        ("GET", "/api/openapi.json", 200),
        ("GET", "/static/app.css", 200),
        ("GET", "/static/app.js", 200),
        ("GET", "/static/favicon.svg", 200),
        ("GET", "/?q=%22&strict=1", 400),
        ("GET", "/api/search?page=0", 400),
        ("GET", "/article/missing", 404),
        ("GET", "/static/missing.css", 404),
        ("GET", "/nowhere", 404),
        ("POST", "/api/search", 405),
        ("POST", "/?big", 413),
        ("GET", "/?q=" + "z" * 3000, 414),
        ("HEAD", "/", 200),
    ],
)
def test_security_headers_everywhere(client: Any, method: str, url: str, status: int) -> None:
    data = b"x" * 5000 if status == 413 else None
    response = client.open(url, method=method, data=data)
    assert response.status_code == status
    assert_security_headers(response)


def test_security_headers_on_503(empty_client: Any) -> None:
    response = empty_client.get("/")
    assert response.status_code == 503
    assert_security_headers(response)


def test_pages_reference_only_local_assets(client: Any) -> None:
    for url in ("/", "/?q=coffee", f"/article/{REFERENCE}"):
        text = html(client.get(url))
        for src in re.findall(r'(?:src|href)="([^"]+)"', text):
            assert not src.startswith(("http:", "https:", "//")), src


# -- architecture ---------------------------------------------------------------------------


def test_only_the_web_package_imports_flask() -> None:
    code = (
        "import sys; import searchapp.search, searchapp.indexer, searchapp.cli; "
        "assert 'flask' not in sys.modules, 'flask imported by the core'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_filter_typed_in_lower_case_ticks_the_index_spelling(client: Any) -> None:
    text = html(client.get("/?section=energy"))
    # One ticked box, spelt as the index holds it, and no stray "energy" box with no count.
    assert re.search(
        r'name="section" value="Energy"\s+form="search-form" data-autosubmit checked', text
    )
    assert 'value="energy"' not in text
