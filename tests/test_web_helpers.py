"""Unit tests of the web helpers: URLs, pagination, the histogram layout, dates, marked words."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask

from searchapp.models import FacetValue, SearchRequest
from searchapp.web import dates, histogram, paging, text, urls
from searchapp.web.facetview import active_filters, facet_options
from searchapp.web.params import FACET_LABELS, FACET_PARAMS, SIDEBAR_FACETS


@pytest.fixture
def app() -> Flask:
    """A bare app with the two endpoints the URL helpers link to."""
    flask_app = Flask(__name__)
    flask_app.add_url_rule("/", "views.index", lambda: "")
    flask_app.add_url_rule("/article/<article_id>", "views.article", lambda article_id: "")
    flask_app.add_url_rule("/api/export.<fmt>", "api.export", lambda fmt: "")
    return flask_app


def pairs(url: str) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url).query)


# -- the facet table --------------------------------------------------------------------------


def test_facet_params_labels_come_from_the_table() -> None:
    from searchapp.facetspec import TERM_FACETS

    assert {f.name: f.param for f in TERM_FACETS} == FACET_PARAMS
    assert FACET_LABELS["persons"] == "People"
    assert tuple(f.name for f in TERM_FACETS) == SIDEBAR_FACETS


# -- URLs -------------------------------------------------------------------------------------


def test_search_url_adds_removes_sets_and_resets_the_page(app: Flask) -> None:
    query = "/?q=oil&section=Energy&section=Metals&page=3&junk=1"
    with app.test_request_context(query):
        assert pairs(urls.search_url()) == [
            ("q", "oil"),
            ("section", "Energy"),
            ("section", "Metals"),
        ]
        assert ("page", "3") in pairs(urls.search_url(keep_page=True))
        removed = pairs(urls.search_url(remove=[("section", "Energy")]))
        assert removed == [("q", "oil"), ("section", "Metals")]
        assert ("section", "Energy") not in pairs(urls.search_url(remove=[("section", None)]))
        assert pairs(urls.search_url(add=[("person", "James Baker")]))[-1] == (
            "person",
            "James Baker",
        )
        spanned = pairs(urls.search_url(from_="1987-03", to="1987-04"))
        assert ("from", "1987-03") in spanned and ("to", "1987-04") in spanned
        assert ("q", "oil") not in pairs(urls.search_url(q=None))
        cleared = pairs(urls.clear_filters_url())
        assert cleared == [("q", "oil")]


def test_edit_pairs_never_duplicates_a_value() -> None:
    start = [("section", "Energy")]
    assert urls.edit_pairs(start, add=[("section", "Energy")]) == start


def test_article_url_carries_the_search_and_rank(app: Flask) -> None:
    with app.test_request_context("/?q=oil&topic=crude&page=2&per_page=5"):
        url = urls.article_url("a/b id", 7)
        assert urlsplit(url).path == "/article/a/b%20id"
        assert pairs(url) == [("q", "oil"), ("per_page", "5"), ("topic", "crude"), ("n", "7")]
        assert urls.article_url("x", None, []) == "/article/x"


def test_results_url_returns_to_the_page_holding_the_rank(app: Flask) -> None:
    with app.test_request_context("/"):
        state = [("q", "oil"), ("page", "9")]
        assert pairs(urls.results_url(state, 7, 5)) == [("q", "oil"), ("page", "2")]
        assert pairs(urls.results_url(state, 5, 5)) == [("q", "oil")]
        assert pairs(urls.results_url(state, None, 10)) == [("q", "oil")]


def test_export_url_drops_paging(app: Flask) -> None:
    with app.test_request_context("/?q=oil&page=2&per_page=5&facet_limit=3&place=London"):
        url = urls.export_url("csv")
        assert url.startswith("/api/export.csv?")
        assert pairs(url) == [("q", "oil"), ("place", "London")]


# -- pagination -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "last", "expected"),
    [
        (1, 1, [1]),
        (1, 3, [1, 2, 3]),
        (6, 20, [1, None, 4, 5, 6, 7, 8, None, 20]),
        (1, 20, [1, 2, 3, None, 20]),
        (20, 20, [1, None, 18, 19, 20]),
        (4, 20, [1, 2, 3, 4, 5, 6, None, 20]),
    ],
)
def test_page_numbers(current: int, last: int, expected: list[int | None]) -> None:
    assert paging.page_numbers(current, last) == expected


def test_page_of_and_first_rank() -> None:
    assert [paging.page_of(r, 10) for r in (1, 10, 11, 20, 21)] == [1, 1, 2, 2, 3]
    assert paging.first_rank(3, 10) == 21
    assert paging.first_rank(1, 10) == 1


# -- dates ------------------------------------------------------------------------------------


def test_period_labels_and_bounds() -> None:
    assert dates.period_label("1987") == "1987"
    assert dates.period_label("1987-03") == "March 1987"
    assert dates.period_label("1987-03-05") == "March 5, 1987"
    assert dates.period_label("1987-12", short=True) == "Dec 1987"
    assert dates.period_bounds("1988-02") == (
        dates.date(1988, 2, 1),
        dates.date(1988, 2, 29),
    )
    assert dates.period_bounds("1987-13") is None
    assert dates.period_bounds("soon") is None


def test_input_dates_cover_the_whole_period() -> None:
    assert dates.input_date("1987") == "1987-01-01"
    assert dates.input_date("1987", end=True) == "1987-12-31"
    assert dates.input_date("1987-02", end=True) == "1987-02-28"
    assert dates.input_date("1987-03-05", end=True) == "1987-03-05"
    assert dates.input_date(None) == "" and dates.input_date("yesterday") == ""


@pytest.mark.parametrize(
    ("date_from", "date_to", "label"),
    [
        ("1987-03", "1987-03", "March 1987"),
        ("1987-03-01", "1987-03-31", "March 1987"),
        ("1987-03-01", "1987-04-30", "March – April 1987"),
        ("1987-01-01", "1987-12-31", "1987"),
        ("1986", "1987", "1986 – 1987"),
        ("1987-03-02", "1987-04-15", "Mar 2 – Apr 15, 1987"),
        ("1986-12-30", "1987-01-02", "Dec 30, 1986 – Jan 2, 1987"),
        ("1987-03-02", None, "from Mar 2, 1987"),
        (None, "1987-03", "up to Mar 31, 1987"),
    ],
)
def test_span_label(date_from: str | None, date_to: str | None, label: str) -> None:
    assert dates.span_label(date_from, date_to) == label


def test_article_datetime_keeps_its_offset() -> None:
    from datetime import datetime, timedelta, timezone

    when = datetime(2017, 11, 21, 8, 7, tzinfo=timezone(timedelta(hours=3)))
    assert dates.local_datetime(when) == "November 21, 2017, 08:07 UTC+3"
    india = datetime(2017, 1, 2, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert dates.utc_offset_label(india) == "UTC+5:30"
    assert dates.short_date("1987-03-05T10:00:00+00:00") == "Mar 5, 1987"
    assert dates.short_date(None) == "undated"


# -- the histogram ----------------------------------------------------------------------------


def link(date_from: str | None, date_to: str | None) -> str:
    return f"/?from={date_from}&to={date_to}"


def fv(*items: tuple[str, int]) -> list[FacetValue]:
    return [FacetValue(k, c) for k, c in items]


def test_interval_fits_the_span() -> None:
    days = fv(("1987-03-02", 1), ("1987-03-20", 4))
    assert histogram.choose_level({"day": days, "month": fv(("1987-03", 5))})[0] == "day"
    weeks = fv(("1987-03-02", 1), ("1987-04-20", 4))  # 50 days: weeks
    level, counted = histogram.choose_level({"day": weeks}) or ("", [])
    assert level == "week" and counted == [("1987-03-02", 1), ("1987-04-20", 4)]
    months = fv(("1987-02", 1), ("1987-10", 9))
    assert histogram.choose_level({"month": months, "year": fv(("1987", 10))})[0] == "month"
    long = {"month": fv(("1987-02", 1), ("2017-11", 1)), "year": fv(("1987", 1), ("2017", 1))}
    assert histogram.choose_level(long)[0] == "year"
    assert histogram.choose_level({}) is None


def test_weeks_start_on_monday() -> None:
    # 1987-03-01 was a Sunday: it belongs to the week of Monday February 23.
    days = fv(("1987-03-01", 2), ("1987-03-02", 3), ("1987-03-08", 1))
    assert histogram.weeks(days) == [("1987-02-23", 2), ("1987-03-02", 4)]


def test_fill_adds_empty_periods() -> None:
    filled = histogram.fill([("1987-11", 1), ("1988-02", 2)], "month")
    assert filled == [("1987-11", 1), ("1987-12", 0), ("1988-01", 0), ("1988-02", 2)]
    assert histogram.fill([("1987", 1), ("1990", 1)], "year")[1] == ("1988", 0)


def test_bars_are_bounded_centred_and_small_counts_visible() -> None:
    one = histogram.histogram({"month": fv(("1987-03", 5))}, link)
    assert one is not None and len(one.bars) == 1
    bar = one.bars[0]
    assert bar.width <= histogram.MAX_BAR_W, "one bar is a bar, not a solid block"
    centre = bar.x + bar.width / 2
    assert abs(centre - (histogram.PLOT_LEFT + histogram.PLOT_RIGHT) / 2) < 1
    chart = histogram.histogram(
        {"year": fv(("1987", 3000), ("2017", 1)), "month": fv(("1987-03", 3000), ("2017-11", 1))},
        link,
    )
    assert chart is not None and chart.level == "year" and len(chart.bars) == 31
    assert chart.bars[-1].height >= histogram.MIN_BAR_H
    assert chart.bars[1].count == 0 and chart.bars[1].href is None
    assert chart.bars[0].href == "/?from=1987&to=1987"
    assert all(
        b.x >= histogram.PLOT_LEFT and b.x + b.width <= histogram.PLOT_RIGHT for b in chart.bars
    )


def test_axes_are_labelled() -> None:
    chart = histogram.histogram({"month": fv(("1987-02", 3), ("1987-10", 37))}, link)
    assert chart is not None
    assert [t.text for t in chart.y_ticks] == ["40", "20", "0"]
    labels = [t.text for t in chart.x_ticks]
    assert labels[0] == "Feb 1987" and len(labels) <= histogram.MAX_TICKS
    assert chart.first == "February 1987" and chart.last == "October 1987"
    tallest = max(chart.bars, key=lambda b: b.count)
    assert tallest.height == pytest.approx((histogram.PLOT_BOTTOM - histogram.PLOT_TOP) * 37 / 40)


def test_week_bars_select_monday_to_sunday() -> None:
    chart = histogram.histogram({"day": fv(("1987-03-03", 1), ("1987-04-22", 2))}, link)
    assert chart is not None and chart.level == "week"
    first = chart.bars[0]
    assert (first.date_from, first.date_to) == ("1987-03-02", "1987-03-08")
    assert first.label == "Week of March 2, 1987"
    assert first.href == "/?from=1987-03-02&to=1987-03-08"


@pytest.mark.parametrize(
    ("top", "axis"), [(1, 1), (2, 2), (3, 4), (7, 8), (9, 10), (37, 40), (3000, 4000), (3001, 4000)]
)
def test_nice_axis_maximum(top: int, axis: int) -> None:
    assert histogram.nice_max(top) == axis


def test_date_trail() -> None:
    trail = histogram.date_trail("1987-03-05", "1987-03-05", link)
    assert [label for label, _ in trail] == ["All dates", "1987", "March 1987", "March 5, 1987"]
    span = histogram.date_trail("1987-03-01", "1987-04-30", link)
    assert [label for label, _ in span] == ["All dates", "March – April 1987"]
    assert histogram.date_trail(None, None, link) == [("All dates", "/?from=None&to=None")]


# -- facets and chips -------------------------------------------------------------------------


def test_selected_value_outside_the_top_keeps_its_count() -> None:
    values = fv(("a", 9), ("b", 5), ("c", 2))
    options, hidden = facet_options(values, ["c", "zzz"], limit=1)
    assert [(o.value, o.count, o.selected) for o in options] == [
        ("a", 9, False),
        ("c", 2, True),
        ("zzz", None, True),
    ]
    assert hidden == 2
    assert facet_options(values, [], limit=0)[1] == 0


def test_chips_name_the_filter_and_remove_it(app: Flask) -> None:
    with app.test_request_context("/?q=oil&person=James+Baker&from=1987-03&to=1987-04"):
        req = SearchRequest(
            q="oil", filters={"persons": ("James Baker",)}, date_from="1987-03", date_to="1987-04"
        )
        chips: list[dict[str, Any]] = active_filters(req)
        assert [(c["label"], c["value"]) for c in chips] == [
            ("People", "James Baker"),
            ("Date", "March – April 1987"),
        ]
        assert ("person", "James Baker") not in pairs(chips[0]["remove"])
        assert ("from", "1987-03") not in pairs(chips[1]["remove"])


# -- the searched words on the article page ---------------------------------------------------


def test_query_terms_skip_operators_fields_and_negations() -> None:
    terms, prefixes = text.query_terms('oil AND "crude prices" NOT opec person:reagan export*')
    assert terms == {"oil", "crude", "price"}
    assert prefixes == ("export",)
    assert text.query_terms("title:gold date:1987-03 -silver")[0] == {"gold"}
    assert text.query_terms("the a") == (frozenset(), ())
    assert text.query_terms("fuzzy~2 boost^3")[0] == {"fuzzi", "boost"}


def test_mark_words_marks_stems_and_prefixes_escaped() -> None:
    marked = str(text.mark_words("Prices <rose>; exporters & price-cutting", "price export*"))
    # Hyphens split words (schema v6): "price-cutting" holds the word "price".
    assert marked == (
        "<mark>Prices</mark> &lt;rose&gt;; <mark>exporters</mark> &amp; <mark>price</mark>-cutting"
    )
    assert str(text.mark_words('<b>"x"</b>', "")) == "&lt;b&gt;&#34;x&#34;&lt;/b&gt;"
    # The index's stemmer (Snowball), so every word the search matched is marked: Porter's
    # "bidd" and "submitt" left these unmarked; "U.S." is the "us" a reader types.
    assert str(text.mark_words("Bidding, bids; submitted U.S. plans", "bid submit US")) == (
        "<mark>Bidding</mark>, <mark>bids</mark>; <mark>submitted</mark> <mark>U.S</mark>. plans"
    )
    assert str(text.mark_words("a <script> b", "script")) == "a &lt;<mark>script</mark>&gt; b"


def test_snippet_marks_what_the_index_matched() -> None:
    # Snippets analyse the story's words with the index's stemmer: "bid" finds "bidding".
    from searchapp.highlight import analysed_word, snippet

    assert analysed_word("Bidding") == analysed_word("bids") == "bid"
    out = snippet(["The bidding closed; U.S. bids rose."], [analysed_word("bid"), "us"])
    assert out.count("<mark>") == 3 and "<mark>bidding</mark>" in out and "<mark>U.S</mark>" in out


def _matches_token_by_token(text: str, terms: frozenset[str]) -> list[tuple[int, int, str]]:
    # The reference: every token analysed in turn (what highlight._matches did before).
    from searchapp.highlight import _TOKEN, MAX_SCAN_CHARS, analysed_word

    out = []
    for m in _TOKEN.finditer(text, 0, MAX_SCAN_CHARS):
        form = analysed_word(m.group())
        if form in terms:
            out.append((m.start(), m.end(), form))
    return out


def test_snippet_matches_equal_a_token_by_token_scan() -> None:
    # highlight._matches analyses each distinct token once and lets the regex engine find
    # where the matching ones start; it must find exactly the tokens a full scan finds.
    import random

    from searchapp.highlight import _TOKEN, MAX_SCAN_CHARS, _matches, analysed_word

    edge = (
        "U.S. us US u.s.a. the U.S.-made; o'neil's O’Neil trade’s a..b .b 3.5 x3.5 "
        "_trade trade_ trades.Trade trade'. 'trade' ‘trade’ tradé trade trade"
    )
    tail = "wo " + "word " * (MAX_SCAN_CHARS // 5 - 1) + "trade trade"  # cut by the scan limit
    texts = [edge, tail, "", "trade"]
    shipped = sorted((Path(__file__).parent.parent / "corpus").glob("*.txt"))[:400]
    texts += [p.read_text(encoding="utf-8") for p in shipped]
    rng = random.Random(7)
    checked = 0
    for story in texts:
        forms = sorted({analysed_word(t) for t in _TOKEN.findall(story)} - {""})
        for terms in (
            frozenset({"trade", "tra", "us", "neil", "b", "3.5", "a.b"}),
            frozenset(rng.sample(forms, min(4, len(forms)))),
        ):
            expected = _matches_token_by_token(story, terms)
            assert _matches(story, terms) == expected, (story[:80], sorted(terms))
            checked += len(expected)
    assert checked > 1000  # the comparison saw real matches, not only empty lists
