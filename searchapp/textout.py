"""The CLI's text for people: a results page with its facets, and one story in full.

Kept free of Flask (a one-query `search` process must start fast) and apart from cli.py,
which holds the commands and their options.
"""

from __future__ import annotations

import html
from typing import Any

import click

from searchapp.facetspec import TERM_FACETS
from searchapp.models import Article, SearchPage


def style(text: str, color: bool, **kwargs: Any) -> str:
    return click.style(text, **kwargs) if color else text


def snippet_text(snippet: str, color: bool) -> str:
    # The service returns HTML; a terminal gets the marks as bold yellow, the rest unescaped.
    parts = snippet.replace("</mark>", "<mark>").split("<mark>")
    out = []
    for i, part in enumerate(parts):
        text = html.unescape(part)
        out.append(style(text, color, fg="yellow", bold=True) if i % 2 else text)
    return "".join(out)


def plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def facet_lines(page: SearchPage, limit: int, color: bool) -> list[str]:
    """Return one compact line per facet: "Topics    crude 74 · acq 15 · … (+12 more)".

    Term facets come cut to --facet-limit by the service; months are cut here (the busiest
    ones, shown in date order).
    """
    rows: list[tuple[str, list[tuple[str, int]], bool]] = []
    for spec in TERM_FACETS:
        values = page.facets.get(spec.name) or []
        pairs = [(v.value, v.count) for v in values]
        rows.append((spec.label, pairs, bool(page.truncated.get(spec.name))))
    months = [(v.value, v.count) for v in page.facets.get("month") or []]
    if months:
        shown = months
        if limit and len(months) > limit:
            busiest = sorted(months, key=lambda m: -m[1])[:limit]
            shown = sorted(busiest)
        rows.append(("Months", shown, len(shown) < len(months)))
    width = max((len(label) for label, pairs, _more in rows if pairs), default=0) + 2
    lines = []
    for label, pairs, more in rows:
        if not pairs:
            continue
        text = " · ".join(f"{value} {count:,}" for value, count in pairs)
        if more:
            text += " …"
        lines.append(style(f"{label:<{width}}", color, dim=True) + text)
    return lines


def print_page(page: SearchPage, color: bool, facet_limit: int = 10) -> None:
    if page.corrected_query:
        click.echo(f'No results for "{page.query}"; showing results for "{page.corrected_query}".')
    elif page.suggestion:
        click.echo(f"Did you mean: {page.suggestion}?")
    if page.reading and page.reading.get("noteworthy"):
        # How a lenient reading read the query ("searched for the words …; `(` was ignored").
        click.echo(style(page.reading["text"][:1].upper() + page.reading["text"][1:], color))
    # With two words or more, say what the totals count (all words first, then some).
    totals = plural(page.total, "result", "results")
    if page.total_all is not None:
        totals = page.totals_text
    click.echo(
        style(
            f"{totals}, page {page.page} of {page.pages} "
            f"({page.took_ms:.1f} ms)"
            + (f"; {page.copies} shown as copies below" if page.copies else ""),
            color,
            dim=True,
        )
    )
    for i, hit in enumerate(page.hits, (page.page - 1) * page.per_page + 1):
        click.echo()
        date = (hit.date or "undated")[:10]
        copies = f" ({len(hit.copies) + 1} copies)" if hit.copies else ""
        made = " (no title; from the text)" if hit.title_made else ""
        click.echo(f"{i:>3}. " + style(hit.title, color, bold=True) + made + copies)
        meta = f"     {date} · {hit.section}" + (f" · {hit.place}" if hit.place else "")
        # The id is what `searchapp show ID` and `search --like ID` take.
        click.echo(style(meta, color, fg="cyan") + style(f"  id {hit.id}", color, dim=True))
        if hit.snippet:
            click.echo("     " + snippet_text(hit.snippet, color))
    lines = facet_lines(page, facet_limit, color)
    if lines and page.total:
        click.echo()
        for line in lines:
            click.echo(line)


def article_lines(article: Article) -> list[str]:
    """Return one story as `searchapp show` prints it: title, kicker, id, text, tags."""
    when = "undated"
    if article.date is not None:
        d = article.date
        offset = d.strftime("%z")
        zone = "UTC" if offset in ("", "+0000") else f"UTC{offset[0]}{int(offset[1:3])}"
        if offset and offset[3:] not in ("", "00"):
            zone += f":{offset[3:]}"
        when = f"{d:%B} {d.day}, {d.year}, {d:%H:%M} {zone}"
    lines = [article.title, " · ".join(x for x in (article.section, article.place, when) if x)]
    lines.append(f"id {article.id}")
    for block in (article.lead, article.body):
        for para in block.split("\n\n"):
            if para.strip():
                lines += ["", para.strip()]
    if article.photo_credit:
        lines += ["", f"Photo: {article.photo_credit}"]
    tags = [
        (label, values)
        for label, values in (("Topics", article.topics), ("Persons", article.persons))
        if values
    ]
    if tags:
        lines.append("")
        lines += [f"{label}: " + "; ".join(values) for label, values in tags]
    return lines
