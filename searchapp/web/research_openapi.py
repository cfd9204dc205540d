"""OpenAPI paths of the research endpoints (web/research.py), merged into /api/openapi.json."""

from __future__ import annotations

from typing import Any

from searchapp.facetspec import TERM_FACETS
from searchapp.research import INTERVALS, MAX_QUERIES, MAX_TOP

FACETS = [f.name for f in TERM_FACETS]
ERROR = {
    "description": "Bad parameter (unknown interval or field, more than 5 queries...): the "
    "message says what to fix.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def _p(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _get(summary: str, params: list[dict[str, Any]]) -> dict[str, Any]:
    return {"get": {"summary": summary, "parameters": params,
                    "responses": {"200": {"description": "OK"}, "400": ERROR}}}


def openapi_paths(search_params: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the research paths; search_params are the search's own (q, filters, dates)."""
    interval = _p("interval", {"type": "string", "enum": list(INTERVALS)},
                  "Bucket size (UTC; ISO weeks). Default: the finest with at most 60 buckets.")
    top = _p("top", {"type": "integer", "minimum": 1, "maximum": MAX_TOP}, "How many values.")
    no_q = [p for p in search_params if p["name"] not in ("q", "sort", "like")]
    return {
        "/api/trends": _get(
            "Stories per bucket for a search, and the top values of a facet per bucket.",
            [*search_params, interval, top,
             _p("by", {"type": "string", "enum": FACETS}, "Facet whose top values to count.")],
        ),
        "/api/compare": _get(
            f"Up to {MAX_QUERIES} queries per bucket: counts and share of all stories "
            "(with the same filters; null where a bucket has none).",
            [_p("q", {"type": "array", "items": {"type": "string"}, "maxItems": MAX_QUERIES},
                "Repeat: q=oil&q=coffee.", explode=True), *no_q, interval],
        ),
        "/api/related": _get(
            "Values of a facet most often in the stories holding field=value, with lift.",
            [*search_params,
             _p("field", {"type": "string", "enum": FACETS}, "Facet of the value.",
                required=True),
             _p("value", {"type": "string"}, "The value (any case).", required=True),
             _p("with", {"type": "string", "enum": FACETS, "default": "persons"},
                "Facet to count."),
             _p("top", {"type": "integer", "minimum": 1, "maximum": 100}, "How many values.")],
        ),
        "/api/significant": _get(
            "Values or words over-represented in a search's results against the archive "
            "(JLH score, with both counts).",
            [*search_params, top,
             _p("field", {"type": "string", "enum": [*FACETS, "words"], "default": "topics"},
                "What to score."),
             _p("min_count", {"type": "integer", "minimum": 1, "default": 3},
                "Only values in at least this many results.")],
        ),
    }
