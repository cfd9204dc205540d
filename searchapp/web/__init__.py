"""The web front end: create_app(settings) -> a Flask app with the search pages and JSON API.

The only package that imports Flask. Views stay thin: parse the URL into a SearchRequest
(helpers.py), call the one SearchService of the app, render. Every response, errors and static
files included, carries the security headers set in ``_secure``.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, abort, current_app, jsonify, render_template, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from searchapp.cluster import open_service
from searchapp.config import Settings
from searchapp.errors import NoIndexError, NotFoundError, QueryError, SearchAppError
from searchapp.search import SearchService

log = logging.getLogger(__name__)

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


def html_safe_json(text: str) -> str:
    """Escape <, >, & and ' inside JSON text: the same data, but inert if a browser sniffs it."""
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("'", "\\u0027")
    )


class SafeJSONProvider(DefaultJSONProvider):
    """Flask's JSON, keeping to_dict()'s key order, with HTML-significant characters escaped."""

    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Serialize obj like Flask does, then escape it with html_safe_json."""
        return html_safe_json(super().dumps(obj, **kwargs))


def create_app(settings: Settings | None = None) -> Flask:
    """Return the Flask app serving one index (one SearchService shared by every request)."""
    settings = settings or Settings()
    app = Flask(__name__)
    app.json = SafeJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config["SEARCHAPP_SETTINGS"] = settings
    app.extensions["searchapp"] = open_service(settings.index_dir, settings.ray_address)

    from searchapp.web import helpers
    from searchapp.web.api import bp as api_bp
    from searchapp.web.views import bp as views_bp

    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp)
    helpers.register(app)

    app.before_request(_limit_request)
    app.after_request(_secure)
    app.register_error_handler(SearchAppError, _core_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def service() -> SearchService:
    """Return the app's SearchService."""
    svc: SearchService = current_app.extensions["searchapp"]
    return svc


def settings() -> Settings:
    """Return the app's Settings."""
    s: Settings = current_app.config["SEARCHAPP_SETTINGS"]
    return s


def _limit_request() -> None:
    """Refuse over-long URLs (414) and over-large bodies (413) before any route runs."""
    limits = settings()
    # The raw query string (still percent-encoded) is what the client sent and we must parse.
    length = len(request.path) + len(request.query_string) + 1
    if length > limits.max_url_chars:
        abort(414)
    if request.content_length is not None and request.content_length > limits.max_body_bytes:
        abort(413)


def _secure(response: Response) -> Response:
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


def _core_error(exc: SearchAppError) -> Any:
    status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 500)
    if status == 500:
        log.error("core error: %s", exc)
        return error_response(500, "The server could not complete the search. Try again.")
    return error_response(status, str(exc))


def _http_error(exc: HTTPException) -> Any:
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


def _unexpected(exc: Exception) -> Any:
    # Logged for the operator; the client gets a page without details (never a traceback).
    log.exception("unhandled error on %s", request.path)
    return error_response(500, "The server hit an unexpected error. Try again in a moment.")
