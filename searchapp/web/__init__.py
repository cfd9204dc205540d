"""The web front end: create_app(settings) -> a Flask app with the search pages and JSON API.

The only package that imports Flask. Views stay thin: parse the URL into a SearchRequest
(params.py), call the one SearchService of the app (context.py), render. Every response, errors
and static files included, carries the security headers set in handlers.py.

Modules by concern: params (URL -> request), urls (request -> links), facetview (sidebar
options and chips), dates (date labels), histogram (the date chart's layout), paging (page
numbers, previous/next story), text (paragraphs, marked words), templating (Jinja globals).
"""

from __future__ import annotations

from flask import Flask

from searchapp.cluster import open_service
from searchapp.config import Settings
from searchapp.web.context import SERVICE_KEY, SETTINGS_KEY
from searchapp.web.safejson import SafeJSONProvider, html_safe_json

__all__ = ["create_app", "html_safe_json"]


def create_app(settings: Settings | None = None) -> Flask:
    """Return the Flask app serving one index (one SearchService shared by every request)."""
    from searchapp.web import handlers, templating
    from searchapp.web.api import bp as api_bp
    from searchapp.web.research import bp as research_bp
    from searchapp.web.views import bp as views_bp

    settings = settings or Settings()
    app = Flask(__name__)
    app.json = SafeJSONProvider(app)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.config[SETTINGS_KEY] = settings
    app.extensions[SERVICE_KEY] = open_service(settings.index_dir, settings.ray_address)

    app.register_blueprint(views_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(research_bp)
    templating.register(app)
    handlers.register(app)
    return app
