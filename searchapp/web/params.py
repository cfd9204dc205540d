"""Reading a request: URL parameters -> SearchRequest, and the form state to echo back.

Facet parameters, labels and nouns come from the one facet table (searchapp/facetspec.py).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.datastructures import MultiDict

from searchapp.config import Settings
from searchapp.errors import QueryError
from searchapp.facetspec import TERM_FACETS
from searchapp.models import SORTS, SearchRequest

# Facet name in SearchPage.facets -> URL parameter (the same names as the CLI options).
FACET_PARAMS = {f.name: f.param for f in TERM_FACETS}
FACET_LABELS = {f.name: f.label for f in TERM_FACETS}
FACET_PLURALS = {f.name: f.plural for f in TERM_FACETS}
# The sidebar lists the term facets in the table's order.
SIDEBAR_FACETS = tuple(f.name for f in TERM_FACETS)
# Parameters that make up a search; anything else in the URL is ignored.
SEARCH_PARAMS = ("q", "like", "sort", "per_page", "facet_limit", "from", "to", "page", "strict")
STATE_PARAMS = (*SEARCH_PARAMS, *FACET_PARAMS.values())
MAX_FILTER_VALUES = 50  # selected values per facet: more is a crafted URL, not a person clicking


def int_param(args: MultiDict[str, str], name: str, default: int) -> int:
    """Read a whole-number parameter, or raise QueryError naming it and showing a good value."""
    raw = (args.get(name) or "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"-?\d{1,9}", raw):
        raise QueryError(f'{name} "{raw[:40]}" is not a whole number: use e.g. {name}={default}')
    return int(raw)


def values_param(args: MultiDict[str, str], name: str) -> tuple[str, ...]:
    """Read a repeatable parameter: trimmed, blanks and repeats dropped, at most 50 values."""
    values = tuple(dict.fromkeys(v.strip() for v in args.getlist(name) if v.strip()))
    if len(values) > MAX_FILTER_VALUES:
        raise QueryError(
            f"{len(values)} values of {name} were given; at most {MAX_FILTER_VALUES} are accepted"
        )
    return values


def flag_param(args: MultiDict[str, str], name: str) -> bool:
    """Read a yes/no parameter (1/0, true/false, yes/no, on/off; absent is no)."""
    raw = (args.get(name) or "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise QueryError(f'{name} "{raw[:40]}" is not a yes/no value: use {name}=1 or {name}=0')


def parse_request(
    args: MultiDict[str, str], settings: Settings, *, snippets: bool = True
) -> SearchRequest:
    """Turn URL parameters into a SearchRequest, or raise QueryError naming the bad one."""
    q = args.get("q", "")
    if len(q) > settings.max_query_chars:
        raise QueryError(
            f"the query is {len(q):,} characters long; at most {settings.max_query_chars:,} "
            "are accepted: shorten it"
        )
    sort = (args.get("sort") or "relevance").strip()
    if sort not in SORTS:
        # search() checks this too, but export() does not: a typo must not silently sort oldest.
        raise QueryError(f'sort "{sort}" is not known: use {", ".join(SORTS)}')
    return SearchRequest(
        q=q,
        page=int_param(args, "page", 1),
        per_page=int_param(args, "per_page", settings.per_page),
        sort=sort,
        date_from=(args.get("from") or "").strip() or None,
        date_to=(args.get("to") or "").strip() or None,
        facet_limit=int_param(args, "facet_limit", settings.facet_limit),
        like=(args.get("like") or "").strip() or None,
        snippets=snippets,
        strict=flag_param(args, "strict"),
        filters={f.name: values_param(args, f.param) for f in TERM_FACETS},
    )


def form_state(args: MultiDict[str, str]) -> dict[str, Any]:
    """Return what the search form needs to echo back whatever the URL holds."""
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
