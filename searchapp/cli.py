"""The command line: `searchapp index|serve|stats|suggest|check` and `search QUERY`.

Kept free of Flask: a one-query `search` process must start fast (the web app is imported
only by `searchapp serve`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import click

from searchapp.errors import QueryError, SearchAppError
from searchapp.facetspec import TERM_FACETS
from searchapp.models import (
    DEFAULT_FACET_LIMIT,
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    SORTS,
    SearchRequest,
)

DEFAULT_CORPUS = "corpus"
DEFAULT_INDEX = "index"

index_option = click.option(
    "--index",
    "index_dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="SEARCHAPP_INDEX",
    default=DEFAULT_INDEX,
    show_default=True,
    show_envvar=True,
    help="Index directory.",
)


# A sharded index (searchapp/cluster) is served by a Ray cluster: this one, or a local one.
ray_option = click.option(
    "--ray-address",
    envvar="RAY_ADDRESS",
    default=None,
    show_envvar=True,
    help="Ray cluster serving a sharded index (HOST:6379 or auto; default: a local one).",
)


def _service(index_dir: Path, ray_address: str | None = None) -> Any:
    """Return the service for index_dir: a sharded one through Ray, else SearchService."""
    from searchapp.cluster import open_service

    return open_service(index_dir, ray_address)


class BadInput(click.ClickException):
    """A query or parameter the user must change: "Error: <sentence>" and exit code 2."""

    exit_code = 2


def _fail(exc: SearchAppError) -> NoReturn:
    """Turn a core error into an exit code with a sentence: 2 for bad queries, else 1."""
    if isinstance(exc, QueryError):
        raise BadInput(str(exc)) from exc
    raise click.ClickException(str(exc)) from exc


@click.group()
@click.version_option(package_name="searchapp")
def main() -> None:
    """searchapp: full-text, faceted search over a news archive."""


# -- index --------------------------------------------------------------------------------


class _Progress:
    """A progress bar on a terminal (with rate and ETA), silence when piped."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.bar: Any = None
        self.stage = ""
        self.label = ""
        self.started = time.monotonic()
        self.done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        if stage != self.stage:
            self.close()
            label = {"read": "Reading ", "index": "Indexing", "commit": "Writing "}.get(
                stage, stage
            )
            self.bar = click.progressbar(
                length=total,
                label=label,
                show_eta=True,
                show_percent=True,
                file=sys.stderr,
                item_show_func=lambda _x: None,
            )
            self.bar.__enter__()
            self.label = label
            self.started = time.monotonic()
            self.stage = stage
            self.done = 0
        if self.bar is not None and done > self.done:
            elapsed = time.monotonic() - self.started
            if elapsed > 0.5:
                self.bar.label = f"{self.label} {done / elapsed:,.0f}/s"
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@main.command()
@click.option(
    "--corpus",
    type=click.Path(path_type=Path),
    envvar="SEARCHAPP_CORPUS",
    default=DEFAULT_CORPUS,
    show_default=True,
    show_envvar=True,
    help="Folder of .txt/.jsonl articles, or one .jsonl file.",
)
@index_option
@click.option("--rebuild", is_flag=True, help="Build a fresh index and switch to it atomically.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Parallel readers.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary.")
@click.option("--verbose", "-v", is_flag=True, help="Also print the time of each stage.")
@click.option("--optimize", is_flag=True, help="Merge the updated index into one segment.")
@click.option(
    "--wait",
    type=click.FloatRange(0, None),
    default=5.0,
    show_default=True,
    help="Seconds to wait for another indexer to finish before giving up.",
)
@click.option(
    "--shards",
    type=click.IntRange(1, 256),
    default=None,
    help="Split the index into N shards served by Ray (see docs/cluster.md).",
)
@ray_option
def index(
    corpus: Path,
    index_dir: Path,
    rebuild: bool,
    workers: int | None,
    quiet: bool,
    verbose: bool,
    optimize: bool,
    wait: float,
    shards: int | None,
    ray_address: str | None,
) -> None:
    """Index the articles in CORPUS (only what changed, unless --rebuild)."""
    from searchapp.cluster.layout import build, is_cluster
    from searchapp.indexer import index_corpus

    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        if shards is not None or is_cluster(index_dir):
            report = build(
                corpus, index_dir, shards=shards, rebuild=rebuild, ray_address=ray_address,
                wait=wait,
            )
        else:
            report = index_corpus(
                corpus,
                index_dir,
                rebuild=rebuild,
                workers=workers,
                progress=progress,
                wait=wait,
                optimize=optimize,
            )
    except SearchAppError as exc:
        progress.close()
        _fail(exc)
    progress.close()
    for problem in report.skipped:
        click.echo(f"skipped {problem.path}: {problem.reason}", err=True)
    if verbose and report.stages:
        click.echo(
            "stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.stages.items()), err=True
        )
    click.echo(_index_summary(report, index_dir))


def _index_summary(report: Any, index_dir: Path) -> str:
    """One line saying what an indexing run did (an IndexReport from indexer.py)."""
    skipped = f", {len(report.skipped):,} skipped" if report.skipped else ""
    if not (report.total or report.files or report.deleted):
        return f"0 stories in {index_dir}: the corpus holds no .txt or .jsonl files yet{skipped}"
    if not (report.added or report.updated or report.deleted):
        files = f"{report.files:,} file" + ("" if report.files == 1 else "s")
        stories = f"{report.total:,} stor" + ("y" if report.total == 1 else "ies")
        return f"nothing changed: {stories} in {files} ({index_dir}){skipped}"
    rate = (report.added + report.updated) / report.seconds if report.seconds else 0
    made = (
        f"; {report.titles_made:,} titles made from the lead or body" if report.titles_made else ""
    )
    return (
        f"{report.total:,} stories in {index_dir}: {report.added:,} added, "
        f"{report.updated:,} updated, {report.deleted:,} deleted, "
        f"{len(report.skipped):,} skipped, {report.unchanged:,} unchanged "
        f"({report.seconds:.1f} s, {rate:,.0f} stories/s){made}"
    )


# -- search -------------------------------------------------------------------------------


def _export(rows: Any, fmt: str) -> None:
    from searchapp.export import csv_lines, jsonl_lines

    lines = jsonl_lines(rows) if fmt == "jsonl" else csv_lines(rows)
    # newline="" semantics: the csv module ends rows with \r\n itself.
    sys.stdout.writelines(lines)


def _date_option(name: str, help_text: str) -> Callable[[Any], Any]:
    return click.option(name, metavar="YYYY[-MM[-DD]]", default=None, help=help_text)


def _facet_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add one repeatable filter option per facet of the table (facetspec.TERM_FACETS)."""
    for spec in reversed(TERM_FACETS):
        fn = click.option(
            spec.option,
            f"facet_{spec.name}",
            multiple=True,
            metavar=spec.noun.upper(),
            help=f"Only stories with this {spec.noun} (repeatable; case and accents ignored).",
        )(fn)
    return fn


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
@_facet_options
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
    ).with_filters({f.name: params[f"facet_{f.name}"] for f in TERM_FACETS})
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


def search_main() -> None:
    """Entry point of the `search` console script."""
    search(prog_name="search")


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
    click.echo(f"size       {data['size_bytes'] / 1e6:,.1f} MB in {data['segments']} segments")
    for name, values in data["top"].items():
        shown = ", ".join(f"{v['value']} ({v['count']:,})" for v in values[:5])
        click.echo(f"{name:<10} {shown}")


@main.command()
@index_option
def check(index_dir: Path) -> None:
    """Read the whole index and report damage (exit 1 with the fix if any)."""
    from searchapp.store import check_generation, current_generation

    if current_generation(index_dir) is None:
        # Nothing to check is not damage: one sentence, and how to build the index.
        raise click.ClickException(
            f"no index in {index_dir}: build one with `searchapp index --index {index_dir}`"
        )
    gen, problems = check_generation(index_dir)
    if not problems:
        click.echo(f"{gen}: OK")
        return
    for problem in problems:
        click.echo(f"damaged: {problem}", err=True)
    raise click.ClickException(
        f"the index in {index_dir} is damaged: rebuild it from the corpus with "
        f"`searchapp index --rebuild --index {index_dir}`"
    )


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


# -- research views: trends, compare, related, significant (cli_research.py) ------------------

from searchapp.cli_research import RESEARCH_COMMANDS  # noqa: E402 (needs main defined above)

for _command in RESEARCH_COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
