"""HTML pages: the search page (also the browsable archive) and the article page."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask import Blueprint, render_template, request, url_for

from searchapp.errors import QueryError
from searchapp.models import Hit, SearchRequest
from searchapp.web.context import service, settings
from searchapp.web.facetview import active_filters, facet_lists
from searchapp.web.histogram import date_trail, histogram
from searchapp.web.paging import first_rank
from searchapp.web.params import FACET_PARAMS, SIDEBAR_FACETS, form_state, parse_request
from searchapp.web.urls import RANK_PARAM, article_url, results_url, search_url, state_pairs

bp = Blueprint("views", __name__)

MORE_LIKE_THIS = 5


def _date_link(date_from: str | None, date_to: str | None) -> str:
    return search_url(from_=date_from, to=date_to)


def _opened_facet() -> str | None:
    """Return the facet parameter opened with "More …", if it names one."""
    more = request.args.get("more", "")
    return more if more in FACET_PARAMS.values() else None


@bp.get("/")
def index() -> Any:
    """Search the archive; with no query, browse it newest first."""
    req = parse_request(request.args, settings())
    opened = _opened_facet()
    # With a ticked value or an opened facet, every value is counted and the sidebar cuts the
    # lists itself, so a ticked value outside the top ones keeps its own count (facetview.py).
    # Otherwise the service cuts them: building every value costs a few ms a page.
    every = bool(req.filters) or opened is not None
    page = service().search(replace(req, facet_limit=0) if every else req)
    # The service matched `section=energy` to the index's own "Energy": tick and chip that.
    if page.request is not None:
        req = req.with_filters(page.request.filters)
    like_article = None
    if req.like:
        like_article = service().get_article(req.like)
    chips = active_filters(req)
    facets = facet_lists(
        page.facets, req, SIDEBAR_FACETS, req.facet_limit, opened, None if every else page.truncated
    )
    chart = histogram(page.facets, _date_link)
    return render_template(
        "search.html",
        **_search_context(
            req=req,
            page=page,
            like_article=like_article,
            chips=chips,
            facets=facets,
            opened=opened,
            # No results and no filter to remove: no empty Filters panel.
            show_sidebar=bool(facets or chart or chips),
            histogram=chart,
            date_trail=date_trail(req.date_from, req.date_to, _date_link),
            first_rank=first_rank(page.page, page.per_page),
            controls_form="like-form" if req.like else "search-form",
        ),
    )


def _search_context(**given: Any) -> dict[str, Any]:
    """Return the search template's context: the form echoed back, defaults for the rest."""
    context: dict[str, Any] = {
        "form": form_state(request.args),
        "req": None,
        "page": None,
        "error": None,
        "error_status": None,
        "like_article": None,
        "chips": [],
        "facets": [],
        "opened": None,
        "show_sidebar": False,
        "histogram": None,
        "date_trail": [],
        "first_rank": 1,
        "controls_form": "search-form",
    }
    context.update(given)
    return context


def render_search_error(message: str, status: int) -> Any:
    """Re-render the search page around an error (a bad query, or no index to search)."""
    return render_template("search.html", **_search_context(error=message, error_status=status)), (
        status
    )


def _rank() -> int | None:
    raw = request.args.get(RANK_PARAM, "")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**9 else None


def _at(req: SearchRequest, rank: int) -> tuple[Hit | None, int]:
    """Return the result at this rank of the search (or None past the end) and the total."""
    one = replace(req, page=rank, per_page=1, facet_limit=1, snippets=False)
    page = service().search(one)
    return (page.hits[0] if page.hits else None), page.total


def _result_context() -> dict[str, Any]:
    """Return the search a story was opened from: back link, previous and next results.

    A story opened from nowhere (no search parameters) has none; a search that no longer
    parses (a hand-edited link) only loses its navigation, never the story.
    """
    pairs = state_pairs()
    rank = _rank()
    nav: dict[str, Any] = {"back_url": None, "prev": None, "next": None, "rank": None, "total": 0}
    if not pairs and rank is None:
        return nav
    try:
        req = parse_request(request.args, settings(), snippets=False)
        nav["back_url"] = results_url(pairs, rank, req.per_page)
        if rank is not None:
            next_hit, total = _at(req, rank + 1)
            prev_hit = _at(req, rank - 1)[0] if rank > 1 else None
            if next_hit is not None:
                nav["next"] = (next_hit, article_url(next_hit.id, rank + 1, pairs))
            if prev_hit is not None:
                nav["prev"] = (prev_hit, article_url(prev_hit.id, rank - 1, pairs))
            nav["rank"], nav["total"] = (rank, total) if rank <= total else (None, total)
    except QueryError:
        return nav
    return nav


@bp.get("/article/<article_id>")
def article(article_id: str) -> Any:
    """Show one story as printed, with the search it came from and stories like it."""
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
        form=form_state(request.args),
        similar=similar,
        like_url=url_for("views.index", like=story.id),
        nav=_result_context(),
    )
