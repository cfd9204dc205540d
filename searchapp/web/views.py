"""HTML pages: the search page (also the browsable archive) and the article page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from searchapp.errors import QueryError
from searchapp.models import SearchRequest
from searchapp.web import service, settings
from searchapp.web.helpers import (
    FACET_PARAMS,
    active_filters,
    date_trail,
    histogram,
    parse_request,
)

bp = Blueprint("views", __name__)

SIDEBAR_FACETS = ("section", "topics", "persons", "place")
MORE_LIKE_THIS = 5


def _form_state() -> dict[str, Any]:
    """Return what the search form needs to echo back whatever the URL holds."""
    args = request.args
    return {
        "q": args.get("q", ""),
        "sort": args.get("sort", ""),
        "like": args.get("like", ""),
        "per_page": args.get("per_page", ""),
        "facet_limit": args.get("facet_limit", ""),
        "date_from": args.get("from", ""),
        "date_to": args.get("to", ""),
        "filters": [
            (param, v) for param in FACET_PARAMS.values() for v in args.getlist(param) if v.strip()
        ],
    }


@bp.get("/")
def index() -> Any:
    """Search the archive; with no query, browse it newest first."""
    req = parse_request(request.args, settings())
    page = service().search(req)
    like_article = None
    if req.like:
        like_article = service().get_article(req.like)
    return render_template(
        "search.html",
        form=_form_state(),
        req=req,
        page=page,
        error=None,
        like_article=like_article,
        chips=active_filters(req),
        histogram=histogram(page.facets),
        date_trail=date_trail(req.date_from, req.date_to),
        sidebar_facets=SIDEBAR_FACETS,
        controls_form="like-form" if req.like else "search-form",
    )


def render_search_error(message: str, status: int) -> Any:
    """Re-render the search page around an error (a bad query, or no index to search)."""
    return (
        render_template(
            "search.html",
            form=_form_state(),
            req=None,
            page=None,
            error=message,
            error_status=status,
            like_article=None,
            chips=[],
            histogram=None,
            date_trail=[],
            sidebar_facets=SIDEBAR_FACETS,
            controls_form="search-form",
        ),
        status,
    )


@bp.get("/article/<article_id>")
def article(article_id: str) -> Any:
    """Show one story as printed, with links to stories like it."""
    story = service().get_article(article_id)
    similar = None
    try:
        similar = service().search(
            SearchRequest(like=story.id, per_page=MORE_LIKE_THIS, snippets=False)
        )
    except QueryError:
        similar = None  # a story too short to compare is still worth reading
    return render_template(
        "article.html",
        article=story,
        similar=similar,
        like_url=url_for("views.index", like=story.id),
    )
