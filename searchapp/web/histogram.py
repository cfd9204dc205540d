"""The date histogram's layout: the interval that fits the span, bounded bars, labelled axes.

Pure functions of the service's date facets (year, month, and day when the results span two
months or less); the template draws the SVG from a Histogram. Bars carry the period each one
covers, so a click selects one period and a drag (app.js) selects a span.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from searchapp.models import FacetValue
from searchapp.web.dates import period_bounds, period_label, span_label

# SVG units; the chart scales uniformly (no stretching), so text keeps its shape.
CHART_W = 300
CHART_H = 112
PLOT_LEFT = 34  # room for the count labels
PLOT_RIGHT = CHART_W - 4
PLOT_TOP = 8
PLOT_BOTTOM = 92  # the date labels sit below
MAX_BAR_W = 26  # one or two bars stay bars, not a solid block
MIN_BAR_H = 3  # a period with one story beside one with 3,000 is still visible
MAX_SLOTS = 400  # beyond this many periods, empty ones are not drawn as gaps
MAX_TICKS = 6
DAYS_MAX = 31  # up to a month of days; up to two months in weeks
MONTHS_MAX = 36  # up to three years in months, else years

LinkFor = Callable[[str, str], str]


@dataclass(frozen=True)
class Bar:
    """One bar: its period (from/to keys), count and geometry in SVG units."""

    key: str
    date_from: str
    date_to: str
    label: str
    count: int
    x: float
    y: float
    width: float
    height: float
    slot_x: float
    slot_w: float
    href: str | None


@dataclass(frozen=True)
class Tick:
    """A label on an axis, at a position in SVG units."""

    text: str
    x: float
    y: float


@dataclass(frozen=True)
class Histogram:
    """The date histogram at one level (year, month, week or day), ready for the template."""

    level: str
    bars: list[Bar]
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    first: str
    last: str
    max_count: int
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def next_key(key: str, level: str) -> str:
    """Return the period after key at this level (weeks are keyed by their Monday)."""
    if level == "year":
        return str(int(key) + 1)
    if level == "month":
        y, m = (int(p) for p in key.split("-"))
        return f"{y + m // 12:04d}-{m % 12 + 1:02d}"
    step = 7 if level == "week" else 1
    return (date.fromisoformat(key) + timedelta(days=step)).isoformat()


def fill(values: list[tuple[str, int]], level: str) -> list[tuple[str, int]]:
    """Return the periods from first to last, with zero counts for the empty ones."""
    if not values:
        return []
    counts = dict(values)
    keys = sorted(counts)
    try:
        filled = [keys[0]]
        while filled[-1] < keys[-1] and len(filled) <= MAX_SLOTS:
            filled.append(next_key(filled[-1], level))
    except ValueError:
        filled = keys
    if len(filled) > MAX_SLOTS:
        filled = keys
    return [(k, counts.get(k, 0)) for k in filled]


def weeks(days: list[FacetValue]) -> list[tuple[str, int]]:
    """Sum day counts into weeks, each keyed by its Monday."""
    totals: dict[str, int] = {}
    for v in days:
        day = date.fromisoformat(v.value)
        monday = (day - timedelta(days=day.weekday())).isoformat()
        totals[monday] = totals.get(monday, 0) + v.count
    return sorted(totals.items())


def _span(first: str, last: str) -> int:
    """Return how many days lie from the start of period first to the end of period last."""
    a, b = period_bounds(first), period_bounds(last)
    if a is None or b is None:
        return 0
    return (b[1] - a[0]).days + 1


def choose_level(facets: dict[str, list[FacetValue]]) -> tuple[str, list[tuple[str, int]]] | None:
    """Pick the interval that fits the span: days, weeks, months or years, and its counts."""
    years, months, days = (facets.get(k) or [] for k in ("year", "month", "day"))
    if days:
        keys = sorted(v.value for v in days)
        if _span(keys[0], keys[-1]) <= DAYS_MAX:
            return "day", [(v.value, v.count) for v in days]
        return "week", weeks(days)
    if months:
        keys = sorted(v.value for v in months)
        first, last = keys[0], keys[-1]
        spanned = (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1
        if spanned <= MONTHS_MAX or not years:
            return "month", [(v.value, v.count) for v in months]
    if years:
        return "year", [(v.value, v.count) for v in years]
    return None


def bounds_of(key: str, level: str) -> tuple[str, str]:
    """Return the from/to keys of one bar's period."""
    if level == "week":
        monday = date.fromisoformat(key)
        return key, (monday + timedelta(days=6)).isoformat()
    return key, key


def bar_label(key: str, level: str) -> str:
    """Return the full name of a bar's period: "Week of March 2, 1987", "March 1987"."""
    if level == "week":
        return "Week of " + period_label(key)
    return period_label(key)


def tick_label(key: str, level: str, first: bool) -> str:
    """Return a short axis label: "1987", "Mar" (with the year at the first and each January)."""
    if level == "year":
        return key
    if level == "month":
        y, m = key.split("-")
        short = period_label(key, short=True).split()[0]
        return f"{short} {y}" if first or m == "01" else short
    d = date.fromisoformat(key)
    return f"{d:%b} {d.day}" + (f", {d.year}" if first and level == "week" else "")


def nice_max(top: int) -> int:
    """Round the largest count up to a readable, even axis maximum (2, 4, 6, 8, 10 × 10^n)."""
    if top <= 1:
        return 1
    step = 1
    while True:
        for mult in (2, 4, 6, 8, 10):
            if top <= step * mult:
                return step * mult
        step *= 10


def histogram(facets: dict[str, list[FacetValue]], link: LinkFor) -> Histogram | None:
    """Lay out the date histogram of a results page (None when no result has a date).

    ``link(from, to)`` returns the URL selecting a period; empty periods get no link.
    """
    chosen = choose_level(facets)
    if chosen is None or not chosen[1]:
        return None
    level, counted = chosen
    slots = fill(counted, level)
    top = max(c for _k, c in slots) or 1
    axis_max = nice_max(top)
    plot_w = PLOT_RIGHT - PLOT_LEFT
    plot_h = PLOT_BOTTOM - PLOT_TOP
    # Few periods: bars keep a bounded width and sit centred instead of filling the plot.
    step = min(plot_w / len(slots), MAX_BAR_W / 0.8)
    width = max(step * 0.8, 0.6)
    left = PLOT_LEFT + (plot_w - step * len(slots)) / 2
    bars = []
    for i, (key, count) in enumerate(slots):
        h = 0.0 if count == 0 else max(MIN_BAR_H, plot_h * count / axis_max)
        date_from, date_to = bounds_of(key, level)
        slot_x = left + i * step
        bars.append(
            Bar(
                key=key,
                date_from=date_from,
                date_to=date_to,
                label=bar_label(key, level),
                count=count,
                x=round(slot_x + (step - width) / 2, 2),
                y=round(PLOT_BOTTOM - h, 2),
                width=round(width, 2),
                height=round(h, 2),
                slot_x=round(slot_x, 2),
                slot_w=round(step, 2),
                href=link(date_from, date_to) if count else None,
            )
        )
    every = max(1, -(-len(bars) // MAX_TICKS))
    x_ticks = [
        Tick(tick_label(b.key, level, i == 0), round(b.slot_x + b.slot_w / 2, 2), CHART_H - 6)
        for i, b in enumerate(bars)
        if i % every == 0
    ]
    y_ticks = [
        Tick(f"{axis_max:,}", PLOT_LEFT - 4, PLOT_TOP + 3),
        Tick("0", PLOT_LEFT - 4, PLOT_BOTTOM + 3),
    ]
    if axis_max % 2 == 0:
        y_ticks.insert(1, Tick(f"{axis_max // 2:,}", PLOT_LEFT - 4, PLOT_TOP + plot_h / 2 + 3))
    return Histogram(
        level=level,
        bars=bars,
        width=CHART_W,
        height=CHART_H,
        plot_left=PLOT_LEFT,
        plot_right=PLOT_RIGHT,
        plot_top=PLOT_TOP,
        plot_bottom=PLOT_BOTTOM,
        first=bar_label(slots[0][0], level),
        last=bar_label(slots[-1][0], level),
        max_count=top,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
    )


def date_trail(
    date_from: str | None, date_to: str | None, link: Callable[[str | None, str | None], str]
) -> list[tuple[str, str]]:
    """Return the drill-down breadcrumbs (label, url) above the histogram.

    One period (from == to) reads as its year › month › day; a span as one crumb.
    """
    trail = [("All dates", link(None, None))]
    if not date_from or date_from != date_to:
        if date_from or date_to:
            trail.append((span_label(date_from, date_to), link(date_from, date_to)))
        return trail
    parts = date_from.split("-")
    for n in range(1, len(parts) + 1):
        key = "-".join(parts[:n])
        trail.append((period_label(key), link(key, key)))
    return trail
