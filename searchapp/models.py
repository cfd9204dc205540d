"""Plain data objects passed between the readers, the indexer, the search service and the UIs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

from searchapp.facetspec import BY_NAME, TERM_FACETS


@dataclass(frozen=True)
class Article:
    """One story as the agency printed it.

    ``date`` keeps the agency's own UTC offset (so a page can show local time); ``iso_date``
    gives it in UTC, the form every API returns. ``topics`` and ``persons`` are tuples so that
    an Article is hashable and immutable.
    """

    id: str
    title: str
    body: str = ""
    lead: str = ""
    date: datetime | None = None
    section: str = ""
    topics: tuple[str, ...] = ()
    persons: tuple[str, ...] = ()
    place: str = ""
    photo_credit: str = ""
    source: str = ""
    # The record had no title: this one was made from its lead or body (formats/jsonl.py).
    title_made: bool = False

    @property
    def iso_date(self) -> str | None:
        """The date in UTC as ISO 8601, or None when the story has no date."""
        if self.date is None:
            return None
        return self.date.astimezone(timezone.utc).isoformat()

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready (the export format)."""
        return _json_form(self, EXPORT_FIELDS, self.iso_date)

    def to_row(self) -> dict[str, Any]:
        """Every field for a CSV cell each: lists become "a; b" (tags hold spaces, never ";")."""
        row = self.to_dict()
        row["topics"] = "; ".join(self.topics)
        row["persons"] = "; ".join(self.persons)
        return row


@dataclass(frozen=True)
class RawArticle:
    """An article as read from a file, before its tag lines are split.

    ``topics_line``/``persons_line`` hold the ONE line that joins multi-word tags with spaces;
    splitting them needs a vocabulary learned across the whole corpus (see tags.py), so it
    happens after every file is read. When a file lists one tag per line, the lines are kept
    as ``topics``/``persons`` already split and the ``*_line`` field is empty.
    """

    article: Article
    topics_line: str = ""
    persons_line: str = ""


EXPORT_FIELDS = (
    "id",
    "title",
    "lead",
    "body",
    "date",
    "section",
    "topics",
    "persons",
    "place",
    "photo_credit",
)


# The fields of a hit in the JSON API, in order.
HIT_FIELDS = (
    "id", "title", "title_made", "date", "section", "topics", "persons", "place", "score",
    "snippet", "copies",
)


def _json_form(obj: Any, names: tuple[str, ...], date: str | None) -> dict[str, Any]:
    """Return the named attributes JSON-ready: tuples as lists, the date as given (ISO UTC)."""
    out: dict[str, Any] = {}
    for name in names:
        value = date if name == "date" else getattr(obj, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    return out


@dataclass(frozen=True)
class ParseProblem:
    """An article that was skipped, and why."""

    path: str
    reason: str


@dataclass
class Report:
    """What an indexing run did."""

    added: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    skipped: list[ParseProblem] = field(default_factory=list)
    seconds: float = 0.0
    total: int = 0
    # Wall seconds per stage (read, prepare, write, commit, finish), for --verbose and benchmarks.
    stages: dict[str, float] = field(default_factory=dict)


SORTS = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
# Defaults of a request; Settings and the CLI use these same values.
DEFAULT_PER_PAGE = 10
DEFAULT_FACET_LIMIT = 10


@dataclass(frozen=True)
class SearchRequest:
    """One search: query text, filters (OR within a facet, AND across), sort and page."""

    q: str = ""
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE
    sort: str = "relevance"
    # Term-facet filters keyed by facetspec name ("section", "topics", …): values OR-ed within
    # a facet, facets AND-ed. Keyed by the table, so a new facet needs no field here.
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    date_from: str | None = None
    date_to: str | None = None
    facet_limit: int = DEFAULT_FACET_LIMIT
    like: str | None = None
    snippets: bool = True
    # Strict: every word required, unreadable syntax an error (scripts). Lenient (default):
    # any text gives an answer, stories with all the words first (searchapp/reading.py).
    strict: bool = False

    def __post_init__(self) -> None:
        # Keep only the facets that are set, as tuples, so equal requests compare equal; a
        # name outside the table is a programming error, not a user's (the UIs check params).
        unknown = set(self.filters) - set(BY_NAME)
        if unknown:
            raise ValueError(f"no facet {sorted(unknown)}: use one of {sorted(BY_NAME)}")
        given = self.filters
        kept = {f.name: tuple(given[f.name]) for f in TERM_FACETS if given.get(f.name)}
        object.__setattr__(self, "filters", kept)

    def with_filters(self, filters: Mapping[str, tuple[str, ...]]) -> SearchRequest:
        """Return a copy with these facet filters (facet name -> values) replaced."""
        return replace(self, filters={**self.filters, **filters})


@dataclass(frozen=True)
class FacetValue:
    """One value of a facet and how many results hold it."""

    value: str
    count: int


@dataclass(frozen=True)
class Hit:
    """One result on a page."""

    id: str
    title: str
    date: str | None
    section: str
    topics: tuple[str, ...]
    persons: tuple[str, ...]
    place: str
    score: float | None
    snippet: str
    lead: str = ""
    # No title in the source: this one was made from the lead or body (shown as such).
    title_made: bool = False
    # Ids of the other results that are copies of this story (dupes.py), folded into this hit.
    copies: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return _json_form(self, HIT_FIELDS, self.date)


@dataclass
class SearchPage:
    """One page of results with facet counts over the whole result set."""

    query: str
    total: int
    page: int
    per_page: int
    took_ms: float
    sort: str
    hits: list[Hit]
    facets: dict[str, list[FacetValue]]
    truncated: dict[str, bool]
    suggestion: str | None = None
    corrected_query: str | None = None
    request: SearchRequest | None = None
    # A sharded index with shards down: "2 of 3 shards answered (...)"; None when complete.
    partial: str | None = None
    # Of `total`, the stories holding every searched word (None: not a lenient word search).
    total_all: int | None = None
    reading: dict[str, Any] | None = None  # how the query was read (reading.Reading.to_dict)
    # Stories of this page folded into its hits as copies (total still counts them).
    copies: int = 0

    def offer_correction(self, fixed: str, other: SearchPage) -> None:
        """Suggest the corrected query; with no results, show the correction's (and say so)."""
        self.suggestion = fixed
        if self.total == 0:
            self.total = other.total
            self.hits = other.hits
            self.facets = other.facets
            self.truncated = other.truncated
            self.total_all = other.total_all
            self.reading = other.reading
            self.copies = other.copies
            self.corrected_query = fixed

    @property
    def totals_text(self) -> str:
        """Say what the totals count: "12 stories with all words, 328 more with some"."""

        def stories(n: int) -> str:
            return f"{n:,} {'story' if n == 1 else 'stories'}"

        if self.total_all is None:
            return stories(self.total)
        if self.total_all == self.total:
            return f"{stories(self.total)} with all words"
        rest = self.total - self.total_all
        return f"{stories(self.total_all)} with all words, {rest:,} more with some"

    @property
    def pages(self) -> int:
        """Return the number of pages."""
        return max(1, -(-self.total // self.per_page))

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (the `search --format json` and /api/search object)."""
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "sort": self.sort,
            "took_ms": round(self.took_ms, 2),
            "suggestion": self.suggestion,
            "corrected_query": self.corrected_query,
            "partial": self.partial,
            "total_all": self.total_all,
            "totals": self.totals_text,
            "reading": self.reading,
            "copies": self.copies,
            "hits": [h.to_dict() for h in self.hits],
            "facets": {
                name: [{"value": v.value, "count": v.count} for v in values]
                for name, values in self.facets.items()
            },
            "facets_truncated": dict(self.truncated),
        }
