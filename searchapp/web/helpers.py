"""Request parsing and template helpers: URL params <-> SearchRequest, toggle links, dates.

Facet objects from the core know nothing of URLs; every link that adds or removes a filter is
built here from the current request's arguments, so the whole search state stays in the URL.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request, url_for
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

from searchapp.config import Settings
from searchapp.errors import QueryError
from searchapp.models import SORTS, FacetValue, SearchRequest

# Facet name in SearchPage.facets -> URL parameter (the same names as the CLI options).
FACET_PARAMS = {"section": "section", "topics": "topic", "persons": "person", "place": "place"}
FACET_LABELS = {"section": "Section", "topics": "Topics", "persons": "People", "place": "Place"}
# Parameters that make up a search; anything else in the URL is ignored.
SEARCH_PARAMS = ("q", "like", "sort", "per_page", "facet_limit", "from", "to", "page", "strict")
STATE_PARAMS = (*SEARCH_PARAMS, *FACET_PARAMS.values())
MAX_FILTER_VALUES = 50  # selected values per facet: more is a crafted URL, not a person clicking


def _int_param(args: MultiDict[str, str], name: str, default: int) -> int:
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw):
        raise QueryError(f'{name} "{raw[:40]}" is not a whole number: use e.g. {name}={default}')
    return int(raw)


def _values(args: MultiDict[str, str], name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(
            f"{len(values)} values of {name} were given; at most {MAX_FILTER_VALUES} are accepted"
        )
    return values


def _flag(args: MultiDict[str, str], name: str) -> bool:
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise QueryError(f'{name} "{raw[:40]}" is not a yes/no value: use {name}=1 or {name}=0')


def parse_request(
    args: MultiDict[str, str], settings: Settings, *, snippets: bool = True
) -> SearchRequest:
    """Turn URL parameters into a SearchRequest, or raise QueryError naming the bad one."""
    q = args.get("q", "")
    if len(q) > settings.max_query_chars:
        raise QueryError(
            f"the query is {len(q):,} characters long; at most {settings.max_query_chars:,} "
            "are accepted: shorten it"
        )
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        # search() checks this too, but export() does not: a typo must not silently sort oldest.
        raise QueryError(f'sort "{sort}" is not known: use {", ".join(SORTS)}')
    return SearchRequest(
        q=q,
        page=_int_param(args, "page", 1),
        per_page=_int_param(args, "per_page", settings.per_page),
        sort=sort,
        section=_values(args, "section"),
        topics=_values(args, "topic"),
        persons=_values(args, "person"),
        place=_values(args, "place"),
        date_from=(args.get("from") or "").strip() or None,
        date_to=(args.get("to") or "").strip() or None,
        facet_limit=_int_param(args, "facet_limit", settings.facet_limit),
        like=(args.get("like") or "").strip() or None,
        snippets=snippets,
        strict=_flag(args, "strict"),
    )


# -- links ----------------------------------------------------------------------------------


def state_pairs(args: MultiDict[str, str] | None = None) -> list[tuple[str, str]]:
    """Return the current search state as (param, value) pairs, in a stable order."""
    args = request.args if args is None else args
    pairs = []
    for name in STATE_PARAMS:
        pairs += [(name, v) for v in args.getlist(name) if v.strip()]
    return pairs


def search_url(
    endpoint: str = "views.index",
    *,
    add: Iterable[tuple[str, str]] = (),
    remove: Iterable[tuple[str, str | None]] = (),
    keep_page: bool = False,
    **set_: str | None,
) -> str:
    """Return a URL for the current search with parameters added, removed or set.

    ``remove`` drops (param, value) pairs, or every value of param when value is None;
    keyword arguments replace a parameter (None drops it). Any change of what is searched
    returns to page 1, unless keep_page.
    """
    pairs = state_pairs()
    drop = list(remove)
    for name, value in drop:
        pairs = [(k, v) for k, v in pairs if not (k == name and (value is None or v == value))]
    for name, value in set_.items():
        name = name.rstrip("_")  # from_ is the keyword spelling of "from"
        pairs = [(k, v) for k, v in pairs if k != name]
        if value not in (None, ""):
            pairs.append((name, str(value)))
    for name, value in add:
        if (name, value) not in pairs:
            pairs.append((name, value))
    if not keep_page and "page" not in set_:
        pairs = [(k, v) for k, v in pairs if k != "page"]
    base = url_for(endpoint)
    return base + ("?" + urlencode(pairs) if pairs else "")


def page_url(number: int) -> str:
    """Return the URL of another page of the current results."""
    return search_url(page=str(number) if number > 1 else None)


def filter_url(facet: str, value: str) -> str:
    """Return a search URL showing only stories with this facet value (from an article page)."""
    return url_for("views.index") + "?" + urlencode([(FACET_PARAMS.get(facet, facet), value)])


def toggle_url(facet: str, value: str, selected: bool) -> str:
    """Return the current search with one facet value switched on or off."""
    param = FACET_PARAMS.get(facet, facet)
    if selected:
        return search_url(remove=[(param, value)])
    return search_url(add=[(param, value)])


def export_url(fmt: str) -> str:
    """Return the export URL of every match of the current search."""
    pairs = [(k, v) for k, v in state_pairs() if k not in ("page", "per_page", "facet_limit")]
    base = url_for("api.export", fmt=fmt)
    return base + ("?" + urlencode(pairs) if pairs else "")


# -- facets for the sidebar -----------------------------------------------------------------


@dataclass(frozen=True)
class FacetOption:
    """One checkbox of the sidebar."""

    value: str
    count: int | None
    selected: bool


def facet_options(values: list[FacetValue], selected: Iterable[str]) -> list[FacetOption]:
    """Return the checkboxes of a facet: its values, plus selected ones outside the top list."""
    chosen = list(selected)
    shown = {v.value for v in values}
    options = [FacetOption(v.value, v.count, v.value in chosen) for v in values]
    # A selected value must stay in the form, or the next submit would silently drop it.
    options += [FacetOption(v, None, True) for v in chosen if v not in shown]
    return options


# -- dates ----------------------------------------------------------------------------------


def parse_iso(value: str | None) -> datetime | None:
    """Parse an ISO date-time (as the core returns it), or None."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def short_date(value: str | datetime | None) -> str:
    """Format a date like "Nov 21, 2017" (UTC for hits)."""
    when = parse_iso(value) if isinstance(value, str) or value is None else value
    if when is None:
        return "undated"
    return f"{when:%b} {when.day}, {when.year}"


def utc_offset_label(when: datetime) -> str:
    """Return "UTC+3", "UTC-5", "UTC+5:30" or "UTC" for a date's own offset."""
    offset = when.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{mins:02d}" if mins else "")


def local_datetime(when: datetime | None) -> str:
    """Format an article's date as printed: "November 21, 2017, 08:07 UTC+3"."""
    if when is None:
        return "Undated"
    return f"{when:%B} {when.day}, {when.year}, {when:%H:%M} {utc_offset_label(when)}"


def period_label(key: str, short: bool = False) -> str:
    """Return a readable label for a histogram key: "1987", "March 1987", "March 5, 1987"."""
    parts = key.split("-")
    try:
        if len(parts) == 1:
            return key
        names = calendar.month_abbr if short else calendar.month_name
        month = names[int(parts[1])]
        if len(parts) == 2:
            return f"{month} {parts[0]}"
        return f"{month} {int(parts[2])}, {parts[0]}"
    except (ValueError, IndexError):
        return key


# -- the date histogram ----------------------------------------------------------------------

CHART_W = 300
CHART_H = 80
MAX_FILLED_BARS = 400  # beyond this many slots, empty periods are not drawn as gaps


@dataclass(frozen=True)
class Bar:
    """One bar of the histogram, with its geometry in SVG units."""

    key: str
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    href: str | None


@dataclass(frozen=True)
class Histogram:
    """The date histogram at one level (year, month or day), ready for the template."""

    level: str
    bars: list[Bar]
    width: int
    height: int
    first: str
    last: str
    max_count: int


def _next_key(key: str, level: str) -> str:
    if level == "year":
        return str(int(key) + 1)
    if level == "month":
        y, m = (int(p) for p in key.split("-"))
        return f"{y + m // 12:04d}-{m % 12 + 1:02d}"
    d = date.fromisoformat(key) + timedelta(days=1)
    return d.isoformat()


def _fill(values: list[FacetValue], level: str) -> list[tuple[str, int]]:
    """Return the periods from first to last, with zero counts for empty ones."""
    counts = {v.value: v.count for v in values}
    keys = [v.value for v in values]
    try:
        filled = [keys[0]]
        while filled[-1] != keys[-1] and len(filled) <= MAX_FILLED_BARS:
            filled.append(_next_key(filled[-1], level))
    except ValueError:
        filled = keys
    if len(filled) > MAX_FILLED_BARS:
        filled = keys
    return [(k, counts.get(k, 0)) for k in filled]


def choose_level(facets: dict[str, list[FacetValue]]) -> str | None:
    """Pick the histogram level: years when the results span several, else months, else days."""
    years, months, days = (facets.get(k) or [] for k in ("year", "month", "day"))
    if len(years) > 1:
        return "year"
    if len(months) > 2 or (months and not days):
        return "month"
    if days:
        return "day"
    return "month" if months else None


def histogram(facets: dict[str, list[FacetValue]]) -> Histogram | None:
    """Lay out the date histogram of a results page (None when no result has a date)."""
    level = choose_level(facets)
    if level is None:
        return None
    slots = _fill(facets[level], level)
    top = max(c for _k, c in slots) or 1
    step = CHART_W / len(slots)
    gap = min(2.0, step * 0.2)
    bars = []
    for i, (key, count) in enumerate(slots):
        # Never let a non-zero bar vanish: at least 1.5 units tall.
        h = 0.0 if count == 0 else max(1.5, CHART_H * count / top)
        bars.append(
            Bar(
                key=key,
                label=period_label(key),
                count=count,
                x=round(i * step + gap / 2, 2),
                y=round(CHART_H - h, 2),
                width=round(max(step - gap, 0.5), 2),
                height=round(h, 2),
                href=search_url(from_=key, to=key) if count else None,
            )
        )
    return Histogram(
        level=level,
        bars=bars,
        width=CHART_W,
        height=CHART_H,
        first=period_label(slots[0][0], short=True),
        last=period_label(slots[-1][0], short=True),
        max_count=top,
    )


def date_trail(date_from: str | None, date_to: str | None) -> list[tuple[str, str]]:
    """Return the drill-down breadcrumbs (label, url) above the histogram."""
    trail = [("All dates", search_url(from_=None, to=None))]
    if not date_from or date_from != date_to:
        if date_from or date_to:
            span = f"{date_from or '…'} to {date_to or '…'}"
            trail.append((span, search_url()))
        return trail
    parts = date_from.split("-")
    for n in range(1, len(parts) + 1):
        key = "-".join(parts[:n])
        trail.append((period_label(key), search_url(from_=key, to=key)))
    return trail


# -- paragraphs -----------------------------------------------------------------------------


def paragraphs(text: str) -> list[str]:
    """Split a story body into paragraphs on blank lines."""
    return [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()]


def page_numbers(current: int, last: int, around: int = 2) -> list[int | None]:
    """Return page numbers to link, with None for a gap: 1 … 4 5 [6] 7 8 … 20."""
    wanted = {1, last, *range(current - around, current + around + 1)}
    numbers = sorted(n for n in wanted if 1 <= n <= last)
    out: list[int | None] = []
    for n in numbers:
        if out and n - (out[-1] or 0) > 1:
            out.append(None)
        out.append(n)
    return out


def code_spans(text: str) -> Markup:
    """Escape a message, then show its `backticked` commands as <code> (safe: escaped first)."""
    return Markup(re.sub(r"`([^`<>]+)`", r"<code>\1</code>", str(escape(text))))


def register(app: Flask) -> None:
    """Make the helpers available to every template."""
    app.jinja_env.globals.update(
        search_url=search_url,
        page_url=page_url,
        toggle_url=toggle_url,
        filter_url=filter_url,
        export_url=export_url,
        facet_options=facet_options,
        page_numbers=page_numbers,
        FACET_PARAMS=FACET_PARAMS,
        FACET_LABELS=FACET_LABELS,
    )
    app.jinja_env.filters.update(
        short_date=short_date,
        local_datetime=local_datetime,
        paragraphs=paragraphs,
        period_label=period_label,
        thousands=lambda n: f"{n:,}",
        code_spans=code_spans,
    )


def active_filters(req: SearchRequest) -> list[dict[str, Any]]:
    """Return the active filters as chips: label, value and the URL that removes it."""
    chips = []
    for facet, values in req.filters().items():
        param = FACET_PARAMS[facet]
        for value in values:
            chips.append(
                {
                    "label": FACET_LABELS[facet],
                    "value": value,
                    "remove": search_url(remove=[(param, value)]),
                }
            )
    if req.date_from or req.date_to:
        if req.date_from == req.date_to:
            value = period_label(req.date_from or "")
        else:
            value = f"{req.date_from or '…'} – {req.date_to or '…'}"
        chips.append({"label": "Date", "value": value, "remove": search_url(from_=None, to=None)})
    return chips
