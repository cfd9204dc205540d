"""What every command shares: the --index/--ray-address options, the service, exit codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import click

from searchapp.errors import QueryError, SearchAppError

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
