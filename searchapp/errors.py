"""Errors the core raises. Every message names the input at fault and says how to fix it."""

from __future__ import annotations


class SearchAppError(Exception):
    """Base class: a problem the user can act on; shown without a traceback."""


class ArticleError(SearchAppError):
    """One article could not be read; the run skips it and reports ``path: reason``."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CorpusError(SearchAppError):
    """The corpus path itself is unusable (missing, not a folder or a .jsonl file)."""


class QueryError(SearchAppError):
    """A query or search parameter is invalid (HTTP 400, CLI exit 2)."""


class NoIndexError(SearchAppError):
    """There is no index to search yet, or it cannot be opened (HTTP 503)."""


class IndexBusyError(SearchAppError):
    """Another indexer holds the index lock."""


class NotFoundError(SearchAppError):
    """An article id that the index does not hold (HTTP 404)."""
