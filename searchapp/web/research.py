"""Research views on the web: JSON under /api/, pages with SVG charts, CSV downloads.

/api/trends, /api/compare, /api/related, /api/significant answer with researcher.Research's
JSON forms; /trends and /compare draw them (chart, legend, the same numbers as a table, CSV);
/person/NAME, /topic/NAME and /place/NAME show one value's timeline, who and what appear with
it, and its latest stories. Every page takes the search page's query and filters, so "Trends"
on a results page shows the same stories over time.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from searchapp.cluster import open_research
from searchapp.errors import NotFoundError, QueryError
from searchapp.facetspec import BY_NAME, TERM_FACETS
from searchapp.models import SearchRequest
from searchapp.research import INTERVALS, MAX_QUERIES, Timeline
from searchapp.research_tables import compare_table, trends_table
from searchapp.researcher import Research
from searchapp.web.charts import Series, legend, line_chart
from searchapp.web.context import service, settings
from searchapp.web.params import parse_request

bp = Blueprint("research", __name__)

# URL parameters that carry filters from the search page (the facet params, from, to).
FILTER_PARAMS = (*(f.param for f in TERM_FACETS), "from", "to")
ENTITY_FACETS = {"person": "persons", "topic": "topics", "place": "place"}
LATEST = 10
TABLE_ALL = 120  # buckets up to which a table lists every bucket, empty ones too


def research() -> Research:
    """Return the app's Research (one per app, over its SearchService; over a sharded index,
    the same questions summed over the shards)."""
    found: Research | None = current_app.extensions.get("searchapp.research")
    if found is None:
        found = open_research(service())
        current_app.extensions["searchapp.research"] = found
    return found


def _int(name: str, default: int) -> int:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw):
        raise QueryError(f'{name} "{raw[:40]}" is not a whole number: use e.g. {name}={default}')
    return int(raw)


def _request(q: str | None = None) -> SearchRequest:
    """Return the URL's search (query, filters, dates) as a request; q overrides the query."""
    args = MultiDict(request.args)
    if q is not None:
        args.setlist("q", [q])
    return parse_request(args, settings(), snippets=False)


def _filter_pairs() -> list[tuple[str, str]]:
    """Return the URL's filters as (param, value) pairs, to carry along in links and forms."""
    return [(p, v) for p in FILTER_PARAMS for v in request.args.getlist(p) if v.strip()]


def _queries() -> list[str]:
    queries = request.args.getlist("q")
    limit = settings().max_query_chars
    for q in queries:
        if len(q) > limit:
            raise QueryError(
                f"a query is {len(q):,} characters long; at most {limit:,} are accepted: shorten it"
            )
    return queries


def _csv(header: list[str], rows: list[list[Any]], name: str) -> Response:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    response = Response(buffer.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="searchapp-{name}.csv"'
    return response


def _bucket_links(tl: Timeline, pairs: list[tuple[str, str]], q: str = "") -> list[str]:
    """Return, per bucket, the search page URL of that bucket's stories (same query, filters)."""
    base = ([("q", q)] if q else []) + [(k, v) for k, v in pairs if k not in ("from", "to")]
    prefix = url_for("views.index") + "?" + urlencode(base) + ("&" if base else "")
    links = []
    for i in range(tl.size):
        first, last = tl.dates(i)
        links.append(f"{prefix}from={first.isoformat()}&to={last.isoformat()}")
    return links


def _table_rows(totals: list[int]) -> list[int]:
    """Return the buckets a table lists: all of them, or past TABLE_ALL only non-empty ones.

    A ten-year weekly table is 500+ rows, mostly of weeks without a single story; those rows
    say nothing a reader needs and cost most of the page's time (the CSV has every bucket).
    """
    if len(totals) <= TABLE_ALL:
        return list(range(len(totals)))
    return [i for i, t in enumerate(totals) if t]


# -- JSON API -------------------------------------------------------------------------------


def _trends() -> tuple[dict[str, Any], Timeline]:
    req = _request()
    return research().trends(
        req, request.args.get("by"), request.args.get("interval"), _int("top", 5)
    )


def _compare() -> tuple[dict[str, Any], Timeline]:
    return research().compare(_request(""), _queries(), request.args.get("interval"))


@bp.get("/api/trends")
def api_trends() -> Any:
    """Stories per bucket for a search, and the top values of `by` per bucket."""
    return jsonify(_trends()[0])


@bp.get("/api/compare")
def api_compare() -> Any:
    """Up to 5 queries (q=…&q=…) per bucket: counts and share of all stories."""
    return jsonify(_compare()[0])


@bp.get("/api/related")
def api_related() -> Any:
    """The values of `with` most often in the stories holding field=value."""
    args = request.args
    return jsonify(
        research().related(
            _request(),
            args.get("field") or "",
            args.get("value") or "",
            args.get("with") or "persons",
            _int("top", 20),
        )
    )


@bp.get("/api/significant")
def api_significant() -> Any:
    """Values or words over-represented in a search's results against the whole archive."""
    args = request.args
    return jsonify(
        research().significant(
            _request(), args.get("field") or "topics", _int("top", 20), _int("min_count", 3)
        )
    )


# -- CSV --------------------------------------------------------------------------------------


@bp.get("/trends.csv")
def trends_csv() -> Any:
    """The trends table as CSV: one row per bucket, stories and each top value."""
    data, _tl = _trends()
    return _csv(*trends_table(data), "trends")


@bp.get("/compare.csv")
def compare_csv() -> Any:
    """The comparison as CSV: per bucket, all stories, then each query's count and share."""
    data, _tl = _compare()
    return _csv(*compare_table(data), "compare")


# -- pages ------------------------------------------------------------------------------------


def _noun(interval: str) -> str:
    return {"day": "Day", "week": "Week (ISO)", "month": "Month", "year": "Year"}[interval]


@bp.get("/trends")
def trends_page() -> Any:
    """Coverage of a search over time, and its top people/topics/… per bucket."""
    args = request.args
    if "by" not in args:
        args = MultiDict(args)
        args["by"] = "persons"
    by = args.get("by") or None
    req = _request()
    data, tl = research().trends(req, by, args.get("interval"), _int("top", 5))
    noun = _noun(data["interval"])
    label = f"“{req.q}”" if req.q else "All stories"
    coverage = line_chart(
        f"{label}: stories per {data['interval']}",
        data["buckets"],
        [Series("Stories", data["total"])],
        x_title=noun,
        y_title="Stories",
        chart_id="coverage",
    )
    series = [Series(s["value"], s["counts"]) for s in data["series"]]
    by_chart = None
    heading = BY_NAME[data["by"]].plural if data["by"] else ""
    if series:
        by_chart = line_chart(
            f"Top {heading} in {label}, stories per {data['interval']}",
            data["buckets"],
            series,
            x_title=noun,
            y_title="Stories",
            chart_id="top-values",
        )
    pairs = _filter_pairs()
    page_pairs = ([("q", req.q)] if req.q else []) + pairs
    extra = [(k, v) for k in ("by", "interval", "top") for v in args.getlist(k) if v]
    return render_template(
        "research_trends.html",
        data=data,
        req=req,
        label=label,
        noun=noun,
        coverage=coverage,
        coverage_legend=legend([Series("Stories", [])]),
        by_chart=by_chart,
        by_label=heading,
        by_legend=legend(series) if series else None,
        links=_bucket_links(tl, pairs, req.q),
        rows=_table_rows(data["total"]),
        filters=pairs,
        intervals=INTERVALS,
        facets=TERM_FACETS,
        interval_param=args.get("interval") or "",
        by_param=by or "",
        top=_int("top", 5),
        csv_url=url_for("research.trends_csv") + "?" + urlencode(page_pairs + extra),
        results_url=url_for("views.index") + ("?" + urlencode(page_pairs) if page_pairs else ""),
        compare_url=url_for("research.compare_page")
        + "?"
        + urlencode(([("q", req.q)] if req.q else [("q", "")]) + pairs),
    )


@bp.get("/compare")
def compare_page() -> Any:
    """Up to 5 queries side by side: share of all stories, and counts, per bucket."""
    queries = _queries()
    given = [q for q in queries if q.strip()]
    data: dict[str, Any] | None = None
    charts: dict[str, Any] = {}
    tl = None
    if given:
        data, tl = _compare()
        noun = _noun(data["interval"])
        series = data["series"]
        shares = [Series(s["q"], s["share"]) for s in series]
        counts = [Series(s["q"], s["counts"]) for s in series]
        charts = {
            "share": line_chart(
                f"Share of all stories per {data['interval']}",
                data["buckets"],
                shares,
                x_title=noun,
                y_title="Share of all stories",
                percent=True,
                chart_id="share",
            ),
            "counts": line_chart(
                f"Stories per {data['interval']}",
                data["buckets"],
                counts,
                x_title=noun,
                y_title="Stories",
                chart_id="counts",
            ),
            "legend": legend(shares),
            "noun": noun,
        }
    pairs = _filter_pairs()
    slots = (given + [""] * MAX_QUERIES)[: max(MAX_QUERIES, len(given))]
    extra = [("interval", v) for v in request.args.getlist("interval") if v]
    return render_template(
        "research_compare.html",
        data=data,
        charts=charts,
        slots=slots,
        filters=pairs,
        intervals=INTERVALS,
        interval_param=request.args.get("interval") or "",
        links=_bucket_links(tl, pairs) if tl is not None else [],
        rows=_table_rows(data["all"]) if data else [],
        csv_url=url_for("research.compare_csv")
        + "?"
        + urlencode([("q", q) for q in given] + pairs + extra),
    )


def _entity(kind: str, name: str) -> Any:
    facet = ENTITY_FACETS[kind]
    r = research()
    try:
        value = r.resolve(facet, name)
    except QueryError as exc:
        raise NotFoundError(str(exc)) from exc
    spec = BY_NAME[facet]
    req = SearchRequest(filters={facet: (value,)}, snippets=False)
    data, tl = r.trends(req, None, None)
    chart = line_chart(
        f"Stories with {spec.noun} {value}, per {data['interval']}",
        data["buckets"],
        [Series("Stories", data["total"])],
        x_title=_noun(data["interval"]),
        y_title="Stories",
        chart_id="timeline",
    )
    related = {
        other: r.related(SearchRequest(), facet, value, other, 10)["related"]
        for other in ("persons", "topics", "place")
    }
    latest = service().search(
        SearchRequest(filters={facet: (value,)}, sort="newest", per_page=LATEST, snippets=False)
    )
    pairs = [(spec.param, value)]
    return render_template(
        "research_entity.html",
        kind=kind,
        spec=spec,
        value=value,
        data=data,
        chart=chart,
        legend=legend([Series("Stories", [])]),
        related=related,
        latest=latest,
        links=_bucket_links(tl, pairs),
        search_url=url_for("views.index") + "?" + urlencode(pairs),
        trends_url=url_for("research.trends_page") + "?" + urlencode(pairs),
        csv_url=url_for("research.trends_csv") + "?" + urlencode(pairs),
        entity_url=entity_url,
    )


def entity_url(facet: str, value: str) -> str | None:
    """Return the page of a person, topic or place (None for sections: no page)."""
    kind = {v: k for k, v in ENTITY_FACETS.items()}.get(facet)
    return url_for(f"research.{kind}_page", name=value) if kind else None


@bp.get("/person/<path:name>")
def person_page(name: str) -> Any:
    """One person: timeline, who and what appear with them, latest stories."""
    return _entity("person", name)


@bp.get("/topic/<path:name>")
def topic_page(name: str) -> Any:
    """One topic: timeline, people and places with it, latest stories."""
    return _entity("topic", name)


@bp.get("/place/<path:name>")
def place_page(name: str) -> Any:
    """One dateline place: timeline, people and topics there, latest stories."""
    return _entity("place", name)
