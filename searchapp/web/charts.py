"""Server-rendered SVG line charts: labelled axes, a legend, readable without JavaScript.

Colours are SVG presentation attributes (not style attributes, which the CSP forbids) from
the Okabe-Ito palette, told apart by colour-blind readers too; every series also has its own
dash pattern so the chart survives greyscale printing. Text comes in as plain strings and is
escaped here: a person's name is data from an article.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
DASHES = ("", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4")
WIDTH, HEIGHT = 760, 300
LEFT, RIGHT, TOP, BOTTOM = 64, 36, 16, 56
CHAR_WIDTH = 6.6  # of an 11px label, to keep x labels apart
MAX_POINTS = 120  # buckets up to which every value gets a dot with its own tooltip


@dataclass(frozen=True)
class Series:
    """One line: its name (legend) and one value per bucket."""

    name: str
    values: list[float] | list[float | None]  # None: no value (the line breaks there)


def nice_ticks(top: float, percent: bool = False) -> list[float]:
    """Return 0 and 4-6 round steps up to at least top (1, 2, 2.5 or 5 x a power of ten)."""
    if top <= 0:
        return [0.0, 1.0] if not percent else [0.0, 0.01]
    raw = top / 5
    # A plain search for the step's power of ten; counts are whole, so steps below 1 only
    # happen for shares (percent), where 0.0001 = 0.01% is fine enough.
    power = 1e-4 if percent else 1.0
    while power * 10 <= raw:
        power *= 10
    steps = (1, 2, 5, 10) if not percent and power == 1.0 else (1, 2, 2.5, 5, 10)
    step = next(m * power for m in steps if m * power >= raw)
    ticks = [0.0]
    while ticks[-1] < top:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float | None, percent: bool, decimals: int = 2) -> str:
    if value is None:
        return "no stories at all"
    if percent:
        return f"{value * 100:.{decimals}f}%"
    return f"{int(value):,}" if float(value).is_integer() else f"{value:,.1f}"


def _decimals(ticks: list[float]) -> int:
    """Return the decimals that print every percent tick exactly (0%, 2.5%, 5%: one)."""
    for d in range(4):
        if all(abs(round(t * 100, d) - t * 100) < 1e-9 for t in ticks):
            return d
    return 4


def line_chart(
    title: str,
    labels: list[str],
    series: list[Series],
    *,
    x_title: str,
    y_title: str,
    percent: bool = False,
    chart_id: str = "chart",
) -> Markup:
    """Return an accessible SVG line chart of series over labelled buckets."""
    n = len(labels)
    top = max((v for s in series for v in s.values if v is not None), default=0.0)
    ticks = nice_ticks(top, percent)
    places = _decimals(ticks) if percent else 0
    y_max = ticks[-1] or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n if n else 0)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / y_max)

    out = [
        f'<svg class="chart" id="{escape(chart_id)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-labelledby="{escape(chart_id)}-title" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    # Horizontal grid lines with the y axis's tick labels.
    for t in ticks:
        ty = y(t)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
            f'stroke="#e3e0d8" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="#4a525c">{escape(_fmt(t, percent, places))}</text>'
        )
    out.append(
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#6b737d"/>'
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#6b737d"/>'
    )
    # As many bucket labels as fit without touching, evenly spaced, starting at the first.
    widest = max((len(label) for label in labels), default=1) * CHAR_WIDTH + 14
    fits = max(2, int(plot_w // widest))
    every = max(1, -(-n // fits))
    for i, label in enumerate(labels):
        if i % every:
            continue
        out.append(
            f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{TOP + plot_h}" y2="{TOP + plot_h + 4}" '
            f'stroke="#6b737d"/>'
            f'<text x="{x(i):.1f}" y="{TOP + plot_h + 17}" text-anchor="middle" font-size="11" '
            f'fill="#4a525c">{escape(label)}</text>'
        )
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
        f'font-size="12" fill="#1b1f24">{escape(x_title)}</text>'
        f'<text x="14" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" font-size="12" '
        f'fill="#1b1f24" transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">'
        f"{escape(y_title)}</text>"
    )
    for k, s in enumerate(series):
        colour, dash = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        out.append(f'<g class="series"><title>{escape(s.name)}</title>')
        # One polyline per run of values: a None (no value) breaks the line.
        runs: list[list[str]] = [[]]
        runs_at: list[list[str]] = []  # the run each bucket belongs to
        for i, v in enumerate(s.values):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(v):.1f}")
            runs_at.append(runs[-1])
        for run in runs:
            if len(run) > 1:
                out.append(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                    f'stroke-width="2"{dash_attr}/>'
                )
        for i, v in enumerate(s.values):
            # Past MAX_POINTS buckets the dots merge into the line and cost most of the page:
            # only a lone value (no line through it) keeps its dot. The table has every value.
            if v is None or (n > MAX_POINTS and len(runs_at[i]) > 1):
                continue
            out.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="{2.5 if n > 40 else 3.5}" '
                f'fill="{colour}"><title>{escape(s.name)}, {escape(labels[i])}: '
                f"{escape(_fmt(v, percent))}</title></circle>"
            )
        out.append("</g>")
    out.append("</svg>")
    return Markup("".join(out))


def legend(series: list[Series]) -> Markup:
    """Return the chart's legend as an HTML list (a line sample in each series' colour)."""
    items = []
    for k, s in enumerate(series):
        colour, dash = PALETTE[k % len(PALETTE)], DASHES[k % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        items.append(
            '<li><svg width="28" height="10" aria-hidden="true">'
            f'<line x1="0" x2="28" y1="5" y2="5" stroke="{colour}" stroke-width="3"{dash_attr}/>'
            f"</svg> {escape(s.name)}</li>"
        )
    return Markup('<ul class="legend">' + "".join(items) + "</ul>")
