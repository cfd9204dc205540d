"""What every command shares: the --index/--ray-address options, the service, exit codes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import click

from searchapp.errors import QueryError, SearchAppError
from searchapp.facetspec import TERM_FACETS

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


def facet_options(fn: Callable[..., Any]) -> Callable[..., Any]:
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


def facet_filters(params: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Return SearchRequest filters from the values of facet_options."""
    return {f.name: tuple(params.get(f"facet_{f.name}", ())) for f in TERM_FACETS}


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
