"""The research commands: `searchapp trends|compare|related|significant` (see researcher.py).

Registered on the `searchapp` group by cli.py (RESEARCH_COMMANDS). Bad parameters exit 2 with
the same sentence the web API answers with a 400.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from searchapp.cli_common import facet_filters, facet_options, index_option, ray_option
from searchapp.errors import SearchAppError
from searchapp.models import SearchRequest
from searchapp.research_tables import compare_table, trends_table

FORMATS = click.Choice(["text", "csv", "json"])


def _filter_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The search filters, as `search` spells them (repeatable, OR within a facet)."""
    fn = click.option("--to", "date_to", metavar="YYYY[-MM[-DD]]", default=None)(fn)
    fn = click.option("--from", "date_from", metavar="YYYY[-MM[-DD]]", default=None)(fn)
    return facet_options(fn)


def _request(query: str, opts: dict[str, Any]) -> SearchRequest:
    return SearchRequest(
        q=query,
        filters=facet_filters(opts),
        date_from=opts.get("date_from"),
        date_to=opts.get("date_to"),
    )


def _run(index_dir: Path, ask: Callable[[Any], Any], ray_address: str | None = None) -> Any:
    """Ask a Research question (of every shard, on a sharded index); a bad parameter exits 2
    with its sentence (like `search`)."""
    from searchapp.cli_common import _fail
    from searchapp.cluster import open_research, open_service

    try:
        return ask(open_research(open_service(index_dir, ray_address)))
    except SearchAppError as exc:
        _fail(exc)


def _table(header: list[str], rows: list[list[Any]], fmt: str) -> None:
    """Print rows as aligned text columns or as CSV."""
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return
    cells = [header] + [[f"{c:,}" if isinstance(c, int) else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        rest = [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        line = [r[0].ljust(widths[0]), *rest]
        click.echo("  ".join(line).rstrip())


def _json(data: dict[str, Any]) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@click.command()
@click.argument("query", required=False, default="")
@index_option
@ray_option
@_filter_options
@click.option("--by", default=None, help="Also count the top values of: section, topics, "
              "persons, place.")
@click.option("--interval", default=None, help="day, week, month or year (default: fits the "
              "span).")
@click.option("--top", type=int, default=5, show_default=True, help="Values of --by to show.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def trends(query: str, index_dir: Path, ray_address: str | None, by: str | None,
           interval: str | None, top: int, fmt: str, **opts: Any) -> None:
    """Stories per day/week/month/year matching QUERY and filters, and the top values of --by."""
    req = _request(query, opts)
    data, _tl = _run(index_dir, lambda r: r.trends(req, by, interval, top), ray_address)
    if fmt == "json":
        _json(data)
        return
    _table(*trends_table(data), fmt)
    if fmt == "text" and data["undated"]:
        click.echo(f"({data['undated']:,} undated stories are in no {data['interval']})")


@click.command()
@click.argument("queries", nargs=-1, required=True)
@index_option
@ray_option
@_filter_options
@click.option("--interval", default=None, help="day, week, month or year (default: fits).")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def compare(queries: tuple[str, ...], index_dir: Path, ray_address: str | None,
            interval: str | None, fmt: str, **opts: Any) -> None:
    """Up to 5 QUERIES side by side per bucket: stories, and their share of all stories."""
    req = _request("", opts)
    data, _tl = _run(index_dir, lambda r: r.compare(req, list(queries), interval), ray_address)
    if fmt == "json":
        _json(data)
        return
    # Percentages to read in a terminal; CSV has the fractions, as the page's download does.
    _table(*compare_table(data, percent=fmt == "text"), fmt)


@click.command()
@click.argument("query", required=False, default="")
@index_option
@ray_option
@click.option("--person", "persons", default=None, help="Start from this person.")
@click.option("--topic", "topics", default=None, help="Start from this topic.")
@click.option("--place", default=None, help="Start from this dateline place.")
@click.option("--section", default=None, help="Start from this section.")
@click.option("--with", "with_", default="persons", show_default=True,
              help="Count values of: section, topics, persons, place.")
@click.option("--from", "date_from", metavar="YYYY[-MM[-DD]]", default=None)
@click.option("--to", "date_to", metavar="YYYY[-MM[-DD]]", default=None)
@click.option("--top", type=int, default=20, show_default=True)
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def related(query: str, index_dir: Path, ray_address: str | None, with_: str, date_from: str | None,
            date_to: str | None, top: int, fmt: str, **subject: str | None) -> None:
    """Values most often in the same stories as one person, topic, place or section.

    QUERY (optional) narrows the stories first. Lift is how many times likelier the pair is
    than chance: 1 is chance.
    """
    given = {k: v for k, v in subject.items() if v is not None}
    if len(given) != 1:
        click.echo("Error: name exactly one of --person, --topic, --place or --section "
                   '(e.g. --person "James Baker")', err=True)
        sys.exit(2)
    (field, value), = given.items()
    req = SearchRequest(q=query, date_from=date_from, date_to=date_to)
    data = _run(index_dir, lambda r: r.related(req, field, value, with_, top), ray_address)
    if fmt == "json":
        _json(data)
        return
    if fmt == "text":
        click.echo(f"{data['stories']:,} stories with {data['field']} {data['value']}")
    rows = [[r["value"], r["count"], f"{r['lift']:.2f}"] for r in data["related"]]
    _table([data["with"], "stories", "lift"], rows, fmt)


@click.command()
@click.argument("query", required=False, default="")
@index_option
@ray_option
@_filter_options
@click.option("--field", default="topics", show_default=True,
              help="section, topics, persons, place or words.")
@click.option("--top", type=int, default=20, show_default=True)
@click.option("--min-count", type=int, default=3, show_default=True,
              help="Only values in at least this many results.")
@click.option("--format", "fmt", type=FORMATS, default="text", show_default=True)
def significant(query: str, index_dir: Path, ray_address: str | None, field: str, top: int,
                min_count: int, fmt: str, **opts: Any) -> None:
    """Values (or words) over-represented in QUERY's results against the whole archive.

    Score: Elasticsearch's JLH, (share in results - share in archive) x their ratio.
    """
    req = _request(query, opts)
    data = _run(index_dir, lambda r: r.significant(req, field, top, min_count), ray_address)
    if fmt == "json":
        _json(data)
        return
    if fmt == "text":
        click.echo(f"{data['stories']:,} results against {data['background']:,} stories")
    rows = [[s["value"], s["count"], s["background"], f"{s['score']:.4f}"]
            for s in data["significant"]]
    _table([data["field"], "results", "archive", "score"], rows, fmt)


RESEARCH_COMMANDS = (trends, compare, related, significant)
