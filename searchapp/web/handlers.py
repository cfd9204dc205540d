"""Request limits, security headers and every error handler (JSON under /api/, else a page)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from searchapp.errors import NoIndexError, NotFoundError, QueryError, SearchAppError
from searchapp.web.context import settings

log = logging.getLogger("searchapp.web")

# No inline script or style anywhere: JS and CSS come from /static, the histogram is inline SVG
# styled by class. frame-ancestors stops clickjacking; form-action keeps the GET forms at home.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Core errors -> HTTP status; anything else from the core is a server-side problem.
STATUS = {QueryError: 400, NotFoundError: 404, NoIndexError: 503}

TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    413: "Request too large",
    414: "URL too long",
    500: "Something went wrong",
    503: "No index yet",
}


def register(app: Flask) -> None:
    """Install the request limits, the security headers and the error handlers on app."""
    app.before_request(limit_request)
    app.after_request(secure)
    app.register_error_handler(SearchAppError, core_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)


def limit_request() -> None:
    """Refuse over-long URLs (414) and over-large bodies (413) before any route runs."""
    limits = settings()
    # The raw query string (still percent-encoded) is what the client sent and we must parse.
    length = len(request.path) + len(request.query_string) + 1
    if length > limits.max_url_chars:
        abort(414)
    if request.content_length is not None and request.content_length > limits.max_body_bytes:
        abort(413)


def secure(response: Response) -> Response:
    """Add the security headers to every response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def wants_json() -> bool:
    """Say whether this request is for the JSON API (errors answer in JSON there)."""
    return request.path == "/api" or request.path.startswith("/api/")


def error_response(status: int, message: str) -> Any:
    """Return an error as JSON under /api/, else as a page; the message is shown escaped."""
    if wants_json():
        return jsonify({"error": message}), status
    if status in (400, 503) and request.endpoint == "views.index":
        # A bad query or a missing index re-renders the search page around the message.
        from searchapp.web.views import render_search_error

        return render_search_error(message, status)
    title = TITLES.get(status, "Error")
    return render_template("error.html", status=status, title=title, message=message), status


def core_error(exc: SearchAppError) -> Any:
    """Answer a core error with its status and its own sentence (500s say nothing inside)."""
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    if status == 500:
        log.error("core error: %s", exc)
        return error_response(500, "The server could not complete the search. Try again.")
    return error_response(status, str(exc))


def http_error(exc: HTTPException) -> Any:
    """Answer an HTTP error (404, 405, 413, 414) with a sentence saying what to change."""
    status = exc.code or 500
    messages = {
        404: "There is nothing at this address. Check the link, or search the archive.",
        405: f"{request.method} is not allowed here: use GET.",
        413: f"The request body is larger than {settings().max_body_bytes:,} bytes.",
        414: f"The URL is longer than {settings().max_url_chars:,} characters: "
        "use fewer filters or a shorter query.",
    }
    message = messages.get(status) or exc.description or TITLES.get(status, "Error")
    return error_response(status, message)


def unexpected(exc: Exception) -> Any:
    """Log an unexpected error for the operator; the client gets a page without details."""
    log.exception("unhandled error on %s", request.path)
    return error_response(500, "The server hit an unexpected error. Try again in a moment.")
