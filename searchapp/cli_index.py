"""`searchapp index` (with its progress bar and summary) and `searchapp check`."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click

from searchapp.cli_common import DEFAULT_CORPUS, BadInput, _fail, index_option, ray_option
from searchapp.errors import SearchAppError


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


@click.command()
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
@click.option(
    "--optimize",
    is_flag=True,
    help="Merge the updated index into one segment (through Whoosh's writer, story by story: "
    "--rebuild is faster).",
)
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
@click.option(
    "--changed",
    "changed_files",
    multiple=True,
    metavar="FILE",
    help="Only these corpus files changed (written or deleted): stat and read just them. "
    "Repeatable.",
)
@click.option(
    "--changed-from",
    metavar="LIST",
    default=None,
    help="Read the changed files' names from LIST, one a line (- for standard input).",
)
@click.argument("more_changed", nargs=-1, metavar="[FILE]...")
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
    changed_files: tuple[str, ...],
    changed_from: str | None,
    more_changed: tuple[str, ...],
) -> None:
    """Index the articles in CORPUS (only what changed, unless --rebuild).

    With --changed FILE [FILE]... (or --changed-from LIST), only the named files are looked
    at: a feed's new, rewritten or deleted files.
    """
    from searchapp.cluster import is_cluster

    if more_changed and not (changed_files or changed_from is not None):
        raise BadInput(
            f"unexpected argument {more_changed[0]!r}: name the files that changed with "
            "--changed FILE [FILE]..., or give none to scan the whole corpus"
        )
    changed_files = (*changed_files, *more_changed)
    changed = _changed_names(corpus, changed_files, changed_from, rebuild, shards)
    if changed is not None and is_cluster(index_dir):
        raise BadInput(
            f"--changed: {index_dir} is a sharded index, which --changed does not update yet; "
            "run `searchapp index` without it"
        )
    from searchapp.indexer import index_corpus
    from searchapp.indexrun import columnar_enabled

    try:
        columnar = columnar_enabled()
    except SearchAppError as exc:  # a mistyped SEARCHAPP_CODEC
        _fail(exc)
    if optimize and not rebuild and columnar:
        # Measured at 216k stories: the merge took 181 s and a 2 GB process, the streamed
        # rebuild 39 s and 924 MB (bench/README.md). Said, not swapped: an update keeps the
        # stories of a file it cannot read this time, a rebuild does not.
        click.echo(
            "note: --optimize merges every segment through Whoosh's writer, story by story "
            "(at 216k stories: 3 minutes and a 2 GB process); `searchapp index --rebuild` "
            "builds the same stories from the corpus in a fifth of the time and half the "
            "memory",
            err=True,
        )
    progress = _Progress(enabled=not quiet and sys.stderr.isatty())
    try:
        if shards is not None or is_cluster(index_dir):
            from searchapp.cluster.layout import build

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
                changed=changed,
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


def _changed_names(
    corpus: Path,
    given: tuple[str, ...],
    listed: str | None,
    rebuild: bool,
    shards: int | None,
) -> list[str] | None:
    """The corpus names of the files --changed and --changed-from name (None: neither)."""
    if not given and listed is None:
        return None
    from searchapp.changed import corpus_names, read_list

    if rebuild or shards is not None:
        other = "--rebuild" if rebuild else "--shards"
        raise BadInput(
            f"--changed and {other} do not go together: {other} reads the whole corpus; "
            "drop one of them"
        )
    try:
        names = [*given, *(read_list(listed) if listed is not None else [])]
        return corpus_names(corpus, names)
    except SearchAppError as exc:  # ChangedFileError, or a corpus path that is unusable
        raise BadInput(str(exc)) from exc


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


@click.command()
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
