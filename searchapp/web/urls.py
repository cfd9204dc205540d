"""Building links: the whole search state lives in the URL, so every link is made from it.

Facet objects from the core know nothing of URLs; every link that adds or removes a filter, turns
a page, opens a story or returns to the results is built here from the current request's
arguments (or from explicit pairs, for links made outside a request).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from flask import request, url_for
from werkzeug.datastructures import MultiDict

from searchapp.web.paging import page_of
from searchapp.web.params import FACET_PARAMS, STATE_PARAMS

# Parameters that say which result an article was opened from (kept apart from the search).
RANK_PARAM = "n"


def state_pairs(args: MultiDict[str, str] | None = None) -> list[tuple[str, str]]:
    """Return the current search state as (param, value) pairs, in a stable order."""
    args = request.args if args is None else args
    pairs = []
    for name in STATE_PARAMS:
        pairs += [(name, v) for v in args.getlist(name) if v.strip()]
    return pairs


def with_query(base: str, pairs: Iterable[tuple[str, str]]) -> str:
    """Return base with the pairs as its query string (none: base alone)."""
    pairs = list(pairs)
    return base + ("?" + urlencode(pairs) if pairs else "")


def edit_pairs(
    pairs: list[tuple[str, str]],
    *,
    add: Iterable[tuple[str, str]] = (),
    remove: Iterable[tuple[str, str | None]] = (),
    keep_page: bool = False,
    set_: dict[str, str | None] | None = None,
) -> list[tuple[str, str]]:
    """Return pairs with values added, removed or set (the pure core of search_url)."""
    set_ = set_ or {}
    for name, value in remove:
        pairs = [(k, v) for k, v in pairs if not (k == name and (value is None or v == value))]
    for name, value in set_.items():
        name = name.rstrip("_")  # from_ is the keyword spelling of "from"
        pairs = [(k, v) for k, v in pairs if k != name]
        if value not in (None, ""):
            pairs.append((name, str(value)))
    for name, value in add:
        if (name, value) not in pairs:
            pairs.append((name, value))
    if not keep_page and "page" not in set_:
        pairs = [(k, v) for k, v in pairs if k != "page"]
    return pairs


def search_url(
    endpoint: str = "views.index",
    *,
    add: Iterable[tuple[str, str]] = (),
    remove: Iterable[tuple[str, str | None]] = (),
    keep_page: bool = False,
    **set_: str | None,
) -> str:
    """Return a URL for the current search with parameters added, removed or set.

    ``remove`` drops (param, value) pairs, or every value of param when value is None;
    keyword arguments replace a parameter (None drops it). Any change of what is searched
    returns to page 1, unless keep_page.
    """
    pairs = edit_pairs(state_pairs(), add=add, remove=remove, keep_page=keep_page, set_=set_)
    return with_query(url_for(endpoint), pairs)


def clear_filters_url() -> str:
    """Return the current search without any facet or date filter."""
    return search_url(remove=[(p, None) for p in FACET_PARAMS.values()], from_=None, to=None)


def page_url(number: int) -> str:
    """Return the URL of another page of the current results."""
    return search_url(page=str(number) if number > 1 else None)


def filter_url(facet: str, value: str) -> str:
    """Return a search URL showing only stories with this facet value (from an article page)."""
    return with_query(url_for("views.index"), [(FACET_PARAMS.get(facet, facet), value)])


def toggle_url(facet: str, value: str, selected: bool) -> str:
    """Return the current search with one facet value switched on or off."""
    param = FACET_PARAMS.get(facet, facet)
    if selected:
        return search_url(remove=[(param, value)])
    return search_url(add=[(param, value)])


def export_url(fmt: str) -> str:
    """Return the export URL of every match of the current search."""
    pairs = [(k, v) for k, v in state_pairs() if k not in ("page", "per_page", "facet_limit")]
    return with_query(url_for("api.export", fmt=fmt), pairs)


def article_url(
    article_id: str, rank: int | None = None, pairs: list[tuple[str, str]] | None = None
) -> str:
    """Return a story's URL carrying the search it was found by and its rank in the results.

    The article page reads them back to keep the query in the box, mark its words, link back
    to the same results page and step to the previous and next result.
    """
    state = state_pairs() if pairs is None else pairs
    carried = [(k, v) for k, v in state if k != "page"]
    if rank is not None:
        carried.append((RANK_PARAM, str(rank)))
    return with_query(url_for("views.article", article_id=article_id), carried)


def results_url(pairs: list[tuple[str, str]], rank: int | None, per_page: int) -> str:
    """Return the results page a story was opened from (the page holding its rank)."""
    carried = [(k, v) for k, v in pairs if k != "page"]
    if rank is not None and page_of(rank, per_page) > 1:
        carried.append(("page", str(page_of(rank, per_page))))
    return with_query(url_for("views.index"), carried)
