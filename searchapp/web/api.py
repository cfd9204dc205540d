"""The JSON API: the same parameters as the search page, the service's own JSON forms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import chain
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context

from searchapp import __version__
from searchapp.export import csv_lines
from searchapp.facetspec import TERM_FACETS
from searchapp.models import EXPORT_FIELDS, MAX_PER_PAGE, SORTS, Article
from searchapp.web.context import service, settings
from searchapp.web.params import parse_request
from searchapp.web.safejson import html_safe_json

bp = Blueprint("api", __name__, url_prefix="/api")

SUGGEST_DEFAULT = 8
SUGGEST_MAX = 50


@bp.get("/search")
def search() -> Any:
    """Return one page of results: exactly SearchPage.to_dict()."""
    req = parse_request(request.args, settings())
    return jsonify(service().search(req).to_dict())


@bp.get("/article/<article_id>")
def article(article_id: str) -> Any:
    """Return one article: exactly Article.to_dict()."""
    return jsonify(service().get_article(article_id).to_dict())


@bp.get("/suggest")
def suggest() -> Any:
    """Return search-box completions (persons, topics, titles) for a prefix."""
    prefix = request.args.get("q", "")[: settings().max_query_chars]
    raw_limit = request.args.get("limit", "")
    limit = int(raw_limit) if raw_limit.isdigit() else SUGGEST_DEFAULT
    limit = min(max(limit, 1), SUGGEST_MAX)
    return jsonify({"query": prefix, "suggestions": service().suggest(prefix, limit=limit)})


def _jsonl_rows(articles: Iterator[Article]) -> Iterator[str]:
    for article in articles:
        yield html_safe_json(json.dumps(article.to_dict(), ensure_ascii=False)) + "\n"


@bp.get("/export.<fmt>")
def export(fmt: str) -> Any:
    """Stream EVERY match of the search as CSV or JSON lines."""
    if fmt not in ("csv", "jsonl"):
        abort(404)
    req = parse_request(request.args, settings(), snippets=False)
    articles = service().export(req)
    # Pull the first article now: a bad query must fail as a 400 before the 200 header goes out.
    first = next(articles, None)
    rows = chain([first] if first is not None else [], articles)
    if fmt == "csv":
        body, mimetype = csv_lines(rows), "text/csv"
    else:
        body, mimetype = _jsonl_rows(rows), "application/x-ndjson"
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="searchapp-export.{fmt}"'
    return response


# -- OpenAPI ----------------------------------------------------------------------------------


def _param(name: str, schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": schema, "description": description, **extra}


def _search_params(paged: bool = True) -> list[dict[str, Any]]:
    text = {"type": "string"}
    many = {"type": "array", "items": {"type": "string"}}
    date = {"type": "string", "pattern": r"^\d{4}(-\d{1,2}(-\d{1,2})?)?$"}
    params = [
        _param(
            "q",
            text,
            "Query as typed: stories with all the words first, then with some; "
            '"phrases", +word, -word, NOT, AND/OR, wild*, fuzzy~, title:, person:, '
            "date:2017-11 are honoured, the rest read as words (see `reading`). "
            "Empty: every article.",
        ),
        _param(
            "strict",
            {"type": "string", "enum": ["0", "1"], "default": "0"},
            "1: every word required, and a query that does not parse is a 400.",
        ),
        _param(
            "sort",
            {"type": "string", "enum": list(SORTS), "default": "relevance"},
            "Order; relevance without a query means newest.",
        ),
        *(
            _param(f.param, many, f"Only stories with these {f.plural} (repeat it).", explode=True)
            for f in TERM_FACETS
        ),
        _param("from", date, "From this date on (UTC, inclusive): YYYY, YYYY-MM or YYYY-MM-DD."),
        _param("to", date, "Up to this date (UTC, inclusive of the whole period)."),
        _param("like", text, "Stories like this article id (q is then ignored)."),
    ]
    if paged:
        params += [
            _param("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number."),
            _param(
                "per_page",
                {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": 10},
                "Results per page.",
            ),
            _param(
                "facet_limit",
                {"type": "integer", "minimum": 0, "default": 10},
                "Values per facet (0 = all).",
            ),
        ]
    return params


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_spec() -> dict[str, Any]:
    """Return the OpenAPI 3 description of this API."""
    string_list = {"type": "array", "items": {"type": "string"}}
    nullable_string = {"type": "string", "nullable": True}
    facet_values = {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {"value": {"type": "string"}, "count": {"type": "integer"}},
        },
    }
    article = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "lead": {"type": "string"},
            "body": {"type": "string"},
            "date": {**nullable_string, "format": "date-time", "description": "UTC"},
            "section": {"type": "string"},
            "topics": string_list,
            "persons": string_list,
            "place": {"type": "string"},
            "photo_credit": {"type": "string"},
        },
    }
    hit = {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "date": {**nullable_string, "format": "date-time"},
            "section": {"type": "string"},
            "topics": string_list,
            "persons": string_list,
            "place": {"type": "string"},
            "score": {"type": "number", "nullable": True},
            "snippet": {
                "type": "string",
                "description": "HTML: escaped text with matched words in <mark>.",
            },
        },
    }
    page = {
        "type": "object",
        "properties": {
            "query": {"type": "string"},
            "total": {"type": "integer"},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "pages": {"type": "integer"},
            "sort": {"type": "string", "enum": list(SORTS)},
            "took_ms": {"type": "number"},
            "suggestion": {**nullable_string, "description": "Did-you-mean query."},
            "corrected_query": {
                **nullable_string,
                "description": "Set when no result matched and these are the suggestion's.",
            },
            "total_all": {
                "type": "integer",
                "nullable": True,
                "description": "Of total, the stories with every word (listed first).",
            },
            "totals": {"type": "string", "description": "What the totals count, in words."},
            "reading": {
                "type": "object",
                "nullable": True,
                "description": "How the query was read (lenient mode): words, required, "
                "excluded, common (left out), ignored (repairs), text (one sentence).",
            },
            "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
            "facets": {
                "type": "object",
                "description": "section, topics, persons, place, year, month (and day).",
                "additionalProperties": facet_values,
            },
            "facets_truncated": {"type": "object", "additionalProperties": {"type": "boolean"}},
        },
    }
    ok_json = {"description": "OK"}
    errors = {
        "400": _error("Bad query or parameter; the message says what to fix."),
        "414": _error("URL too long."),
        "503": _error("No index yet; the message names the command that builds one."),
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "searchapp",
            "version": __version__,
            "description": "Full-text, faceted search over a news archive. Filters are OR "
            "within a facet and AND across facets.",
        },
        "paths": {
            "/api/search": {
                "get": {
                    "summary": "One page of results with facet counts over all matches.",
                    "parameters": _search_params(),
                    "responses": {
                        "200": {
                            **ok_json,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/SearchPage"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
            "/api/article/{id}": {
                "get": {
                    "summary": "One article, whole.",
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {
                            **ok_json,
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Article"}
                                }
                            },
                        },
                        "404": _error("No article with this id."),
                        "503": errors["503"],
                    },
                }
            },
            "/api/suggest": {
                "get": {
                    "summary": "Search-box completions: persons, topics and titles.",
                    "parameters": [
                        _param("q", {"type": "string"}, "The prefix typed so far."),
                        _param(
                            "limit",
                            {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": SUGGEST_MAX,
                                "default": SUGGEST_DEFAULT,
                            },
                            "Most suggestions returned.",
                        ),
                    ],
                    "responses": {
                        "200": {
                            **ok_json,
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "query": {"type": "string"},
                                            "suggestions": {
                                                "type": "array",
                                                "items": {
                                                    "type": "object",
                                                    "properties": {
                                                        "value": {"type": "string"},
                                                        "kind": {
                                                            "type": "string",
                                                            "enum": ["person", "topic", "title"],
                                                        },
                                                        "count": {"type": "integer"},
                                                    },
                                                },
                                            },
                                        },
                                    }
                                }
                            },
                        },
                        "503": errors["503"],
                    },
                }
            },
            "/api/export.csv": {
                "get": {
                    "summary": "Every match as CSV (columns "
                    + ", ".join(EXPORT_FIELDS)
                    + '; lists joined with "; ").',
                    "parameters": _search_params(paged=False),
                    "responses": {
                        "200": {**ok_json, "content": {"text/csv": {"schema": {"type": "string"}}}},
                        **errors,
                    },
                }
            },
            "/api/export.jsonl": {
                "get": {
                    "summary": "Every match as JSON lines, one Article object per line.",
                    "parameters": _search_params(paged=False),
                    "responses": {
                        "200": {
                            **ok_json,
                            "content": {
                                "application/x-ndjson": {
                                    "schema": {"$ref": "#/components/schemas/Article"}
                                }
                            },
                        },
                        **errors,
                    },
                }
            },
            "/api/openapi.json": {
                "get": {"summary": "This document.", "responses": {"200": ok_json}}
            },
        },
        "components": {
            "schemas": {
                "Article": article,
                "Hit": hit,
                "SearchPage": page,
                "Error": {
                    "type": "object",
                    "properties": {"error": {"type": "string"}},
                    "required": ["error"],
                },
            }
        },
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    """Return the OpenAPI 3 description of the API."""
    from searchapp.web.research_openapi import openapi_paths  # the research endpoints

    spec = openapi_spec()
    spec["paths"].update(openapi_paths(_search_params(paged=False)))
    return jsonify(spec)
