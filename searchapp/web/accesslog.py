"""One line per request in the Common Log Format, written when the response is finished.

A WSGI wrapper rather than a Flask hook, so that streamed exports are logged with the bytes
really sent, and static files and errors are logged like everything else. Waitress itself
logs no requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

log = logging.getLogger("searchapp.access")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def clf_line(environ: dict[str, Any], status: str, size: int | None, when: float) -> str:
    """Return a Common Log Format line: host - - [time] "request" status bytes."""
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    request = f"{environ.get('REQUEST_METHOD', '-')} {path}{'?' + query if query else ''} " + (
        environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    )
    # The request line is what the client sent: escape quotes and control characters so one
    # request stays one line that log tools can split.
    request = request.encode("unicode_escape", "backslashreplace").decode("ascii")
    request = request.replace('"', '\\"')
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(when))
    code = status.split(" ", 1)[0] or "-"
    return (
        f'{environ.get("REMOTE_ADDR", "-")} - - [{stamp}] "{request}" {code} '
        f"{size if size else '-'}"
    )


class _Counted:
    """The response body, counting bytes as they go out; logs the line on close()."""

    def __init__(self, body: Iterable[bytes], done: Callable[[int], None]) -> None:
        self.body = body
        self.done = done
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.body:
            self.size += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done(self.size)


def with_access_log(app: WSGIApp, logger: logging.Logger = log) -> WSGIApp:
    """Wrap a WSGI app so that every request is logged once, after its response."""

    def logged(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        when = time.time()
        seen: dict[str, str] = {"status": "-"}

        def start(status: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            seen["status"] = status
            return start_response(status, headers, *exc)

        body = app(environ, start)
        return _Counted(
            body, lambda size: logger.info(clf_line(environ, seen["status"], size, when))
        )

    return logged
