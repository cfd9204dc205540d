"""`searchapp serve`: bind first, then say what is served, then log one line per request.

A port that is taken, forbidden or not of this machine is one sentence and exit 1, with
nothing printed before it (binding happens before the start line).
"""

from __future__ import annotations

import errno
import logging
import socket
import sys
from pathlib import Path
from typing import Any

import click

from searchapp.config import Settings
from searchapp.errors import SearchAppError
from searchapp.web import create_app
from searchapp.web.accesslog import with_access_log
from searchapp.web.context import SERVICE_KEY


def story_count(index_dir: Path, service: Any = None) -> str:
    """Return "3,001 stories" for the start line, or why there is nothing to search yet."""
    from searchapp.search import SearchService

    try:
        n = int((service or SearchService(index_dir)).stats()["stories"])
    except SearchAppError:
        return "no index yet: build it with `searchapp index`"
    return f"{n:,} {'story' if n == 1 else 'stories'}"


def bind_error(exc: OSError, host: str, port: int) -> str:
    """Return the sentence for a socket that cannot be opened: taken, forbidden or unknown."""
    if exc.errno == errno.EADDRINUSE:
        return (
            f"port {port} on {host} is already in use by another program: "
            f"stop it, or pick another port with --port {port + 1 if port < 65535 else 8000}"
        )
    if exc.errno == errno.EACCES:
        return f"not allowed to open port {port}: ports below 1024 need root; use --port 8000"
    if exc.errno in (errno.EADDRNOTAVAIL, errno.EAFNOSUPPORT) or isinstance(exc, socket.gaierror):
        return f"cannot listen on {host}: it is not an address of this machine; try 127.0.0.1"
    return f"cannot listen on {host}:{port}: {exc.strerror or exc}"


def _access_logger(quiet: bool) -> logging.Logger:
    access = logging.getLogger("searchapp.access")
    access.propagate = False
    if not quiet and not access.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        access.addHandler(handler)
    access.setLevel(logging.WARNING if quiet else logging.INFO)
    return access


def run(settings: Settings, host: str, port: int, threads: int, *, quiet: bool, debug: bool) -> int:
    """Serve until interrupted; return the exit code (1 when the port cannot be opened)."""
    app = create_app(settings)
    stories = story_count(settings.index_dir, app.extensions[SERVICE_KEY])
    start_line = (
        f"serving {settings.index_dir}/ ({stories}) "
        f"on http://{host}:{port}/"
    )
    if debug:
        click.echo(start_line + " (debug)", err=True)
        try:
            app.run(host=host, port=port, debug=True)
        except OSError as exc:
            click.echo(f"Error: {bind_error(exc, host, port)}", err=True)
            return 1
        return 0
    import waitress.server

    access = _access_logger(quiet)
    try:
        server = waitress.server.create_server(
            with_access_log(app, access), host=host, port=port, threads=threads, ident="searchapp"
        )
    except OSError as exc:
        click.echo(f"Error: {bind_error(exc, host, port)}", err=True)
        return 1
    click.echo(start_line + " (Ctrl+C stops it)", err=True)
    try:
        server.run()
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
    return 0
