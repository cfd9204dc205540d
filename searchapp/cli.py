"""The command line: `searchapp index|serve|stats|suggest|check` and `search QUERY`.

Kept free of Flask: a one-query `search` process must start fast (the web app is imported
only by `searchapp serve`).
"""

from __future__ import annotations

import atexit
import importlib
import json
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from searchapp.cli_common import (
    _fail,
    _service,
    facet_filters,
    facet_options,
    index_option,
    ray_option,
)
from searchapp.errors import SearchAppError
from searchapp.models import (
    DEFAULT_FACET_LIMIT,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    SORTS,
    SearchRequest,
)


class LazyGroup(click.Group):
    """A group whose commands from other modules are imported only when one is run or listed.

    A one-query `search` process must not import the indexing and research commands (and what
    they import); click's documented pattern for lazily loaded subcommands.
    """

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})  # command name -> "module:attribute"

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy and cmd_name not in self.commands:
            module, attr = self.lazy[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


# The commands defined elsewhere: indexing (cli_index.py) and the research views
# (cli_research.py).
LAZY_COMMANDS = {
    "index": "searchapp.cli_index:index",
    "check": "searchapp.cli_index:check",
    **{
        name: f"searchapp.cli_research:{name}"
        for name in ("trends", "compare", "related", "significant")
    },
}


def __getattr__(name: str) -> click.Command:
    # `from searchapp.cli import index` keeps working: the command's module loads on first use.
    if name in LAZY_COMMANDS:
        module, attr = LAZY_COMMANDS[name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@click.group(cls=LazyGroup, lazy=LAZY_COMMANDS)
@click.version_option(package_name="searchapp")
def main() -> None:
    """searchapp: full-text, faceted search over a news archive."""


# -- search -------------------------------------------------------------------------------


def _export(rows: Any, fmt: str) -> None:
    from searchapp.export import csv_lines, jsonl_lines

    lines = jsonl_lines(rows) if fmt == "jsonl" else csv_lines(rows)
    # newline="" semantics: the csv module ends rows with \r\n itself.
    sys.stdout.writelines(lines)


def _date_option(name: str, help_text: str) -> Callable[[Any], Any]:
    return click.option(name, metavar="YYYY[-MM[-DD]]", default=None, help=help_text)


@click.command()
@click.argument("query", required=False, default="")
@index_option
@click.option(
    "--limit",
    "-n",
    type=click.IntRange(1, MAX_PER_PAGE),
    default=DEFAULT_PER_PAGE,
    show_default=True,
    help="Results per page.",
)
@click.option("--page", "-p", type=click.IntRange(1, None), default=1, show_default=True)
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="relevance",
    show_default=True,
    help="relevance (ties newest first), newest or oldest.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "jsonl", "csv"]),
    default="text",
    show_default=True,
    help="text for people; json one page; jsonl/csv export EVERY match.",
)
@facet_options
@_date_option("--from", "Stories from this date on (UTC, inclusive).")
@_date_option("--to", "Stories up to this date (UTC, inclusive).")
@click.option(
    "--facet-limit",
    type=click.IntRange(0, None),
    default=DEFAULT_FACET_LIMIT,
    show_default=True,
    help="Values per facet (0 = all).",
)
@click.option("--like", metavar="ID", default=None, help="Stories like this article.")
@click.option(
    "--strict",
    is_flag=True,
    help="Every word required; a query that does not parse is an error (for scripts).",
)
@click.option("--color/--no-color", default=None, help="Colour (default: on a terminal).")
@ray_option
def search(
    query: str,
    index_dir: Path,
    limit: int,
    page: int,
    sort: str,
    fmt: str,
    facet_limit: int,
    like: str | None,
    strict: bool,
    color: bool | None,
    ray_address: str | None,
    **params: Any,
) -> None:
    """Search the archive. An empty QUERY lists every article, newest first.

    QUERY is read leniently: stories with all the words first, then those with
    some; "phrases", +word, -word, NOT, AND/OR, (), "a b"~5, wild*, fuzzy~, title:,
    lead:, body:, section:, topic:, person:, place:, date:2017-11,
    date:[2017-11-01 TO 2017-11-30], date:yesterday are honoured; what does not parse is
    read as words, and the first line says how. --strict: every word required, errors.
    """
    req = SearchRequest(
        q=query,
        page=page,
        per_page=limit,
        sort=sort,
        date_from=params.get("from"),
        date_to=params.get("to"),
        facet_limit=facet_limit,
        like=like,
        snippets=fmt in ("text", "json"),
        strict=strict,
        filters=facet_filters(params),
    )
    try:
        service = _service(index_dir, ray_address)
        if fmt in ("jsonl", "csv"):
            _export(service.export(req), fmt)
            return
        result = service.search(req)
    except SearchAppError as exc:
        _fail(exc)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
    else:
        use_color = sys.stdout.isatty() if color is None else color
        from searchapp.textout import print_page

        print_page(result, use_color, facet_limit)
    if result.partial:
        click.echo(f"partial answer: {result.partial}", err=True)


main.add_command(search)


# What sets the size of numpy's BLAS thread pool (OpenBLAS reads them when numpy loads).
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")


def search_main() -> None:
    """Entry point of the `search` console script."""
    # One query does no matrix products, so numpy's BLAS needs no thread pool: starting one
    # (a thread per core) cost a one-query process ~50 ms at 216k on 2 busy cores
    # (bench/README.md). Set before numpy loads; a user's own setting wins.
    if not any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        os.environ["OPENBLAS_NUM_THREADS"] = "1"
    try:
        search(prog_name="search")
    except SystemExit as exc:
        _end_process(exc)
        raise


def _end_process(exc: SystemExit) -> None:
    """End a one-query process at once, without tearing the interpreter down.

    Python's own exit frees every module and object one by one (a search at 216k leaves ~36k
    objects, numpy arrays and mapped index files): ~50-60 ms CPU of a ~350 ms process, for
    no one (bench/README.md, "Cold `search` process").
    The exit functions still run and the output is flushed first; a process with other threads
    (a Ray client), or whose output cannot be flushed, ends the ordinary way (which reports it).
    """
    code = exc.code
    if not (code is None or isinstance(code, int)) or threading.active_count() != 1:
        return
    try:
        sys.stdout.flush()
        sys.stderr.flush()
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    os._exit(code or 0)


@main.command()
@click.argument("article_id", metavar="ID")
@index_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="text to read; json: every field (the export form).",
)
def show(article_id: str, index_dir: Path, fmt: str) -> None:
    """Print one story in full: ID as `search` lists it (e.g. 000_fb76c108e539c208)."""
    try:
        article = _service(index_dir).get_article(article_id.strip())
    except SearchAppError as exc:
        _fail(exc)
        return
    if fmt == "json":
        click.echo(json.dumps(article.to_dict(), ensure_ascii=False, indent=2))
        return
    from searchapp.textout import article_lines

    for line in article_lines(article):
        click.echo(line)


# -- suggest, stats, serve ------------------------------------------------------------------


def _ask(
    index_dir: Path, method: str, *args: Any, ray_address: str | None = None, **kwargs: Any
) -> Any:
    """Call one SearchService method; a core error becomes its exit code and sentence."""
    try:
        return getattr(_service(index_dir, ray_address), method)(*args, **kwargs)
    except SearchAppError as exc:
        _fail(exc)


@main.command()
@click.argument("prefix")
@index_option
@click.option("--limit", type=click.IntRange(1, 50), default=8, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@ray_option
def suggest(prefix: str, index_dir: Path, limit: int, fmt: str, ray_address: str | None) -> None:
    """Suggest completions of PREFIX from persons, topics and titles."""
    items = _ask(index_dir, "suggest", prefix, limit=limit, ray_address=ray_address)
    if fmt == "json":
        click.echo(json.dumps(items, ensure_ascii=False, indent=2))
        return
    for item in items:
        click.echo(f"{item['value']}\t{item['kind']}\t{item['count']}")


@main.command()
@index_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@ray_option
def stats(index_dir: Path, fmt: str, ray_address: str | None) -> None:
    """Show what the index holds."""
    data = _ask(index_dir, "stats", ray_address=ray_address)
    if fmt == "json":
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    click.echo(f"index      {data['index']}")
    click.echo(f"stories    {data['stories']:,} ({data['undated']:,} undated)")
    click.echo(f"dates      {data['first_date']} to {data['last_date']}")
    segs = f"{data['segments']} segment" + ("" if data["segments"] == 1 else "s")
    click.echo(f"size       {data['size_bytes'] / 1e6:,.1f} MB in {segs}")
    if data.get("whoosh_format_segments"):
        click.echo(
            f"format     {data['whoosh_format_segments']} of {data['segments']} segments in "
            "Whoosh's own format (slower phrases, more memory): `searchapp index --rebuild` "
            "moves them to the columnar format"
        )
    for name, values in data["top"].items():
        shown = ", ".join(f"{v['value']} ({v['count']:,})" for v in values[:5])
        click.echo(f"{name:<10} {shown}")


@main.command()
@index_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="Do not log requests.")
@click.option("--debug", is_flag=True, help="Flask's development server, with reloader.")
@ray_option
def serve(
    index_dir: Path, host: str, port: int, threads: int, quiet: bool, debug: bool,
    ray_address: str | None,
) -> None:
    """Serve the search page and JSON API (waitress; Flask's server only with --debug).

    Logs one line per request to stderr in the Common Log Format (--quiet: none).
    """
    from searchapp.config import Settings
    from searchapp.web.server import run

    settings = Settings(index_dir=index_dir, ray_address=ray_address)
    try:
        code = run(settings, host, port, threads, quiet=quiet, debug=debug)
    except SearchAppError as exc:  # a sharded index whose Ray cluster cannot be reached
        _fail(exc)
    sys.exit(code)


if __name__ == "__main__":
    main()
