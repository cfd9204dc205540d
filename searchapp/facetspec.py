"""The one table of term facets: everything else (schema fields, facet arrays, request filters,
URL parameters, CLI options, sidebar labels, OpenAPI parameters) is derived from it.

Adding a facet is one line here (plus the Article attribute that holds its values).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FacetSpec:
    """One term facet: how it is stored, asked for and shown."""

    name: str  # key in SearchRequest filters, JSON facets and Article attributes
    field: str  # exact-value Whoosh field holding one term per value
    param: str  # URL parameter (repeat it to select several values)
    option: str  # CLI option (repeatable)
    label: str  # sidebar heading
    noun: str  # one value, in sentences: "no section 'Enrgy'", "More places…"
    plural: str  # several values, in sentences
    multi_valued: bool  # a story holds several values (topics, persons) or at most one


TERM_FACETS: tuple[FacetSpec, ...] = (
    FacetSpec("section", "f_section", "section", "--section", "Section", "section", "sections",
              False),
    FacetSpec("topics", "f_topic", "topic", "--topic", "Topics", "topic", "topics", True),
    FacetSpec("persons", "f_person", "person", "--person", "People", "person", "people", True),
    FacetSpec("place", "f_place", "place", "--place", "Place", "place", "places", False),
)

BY_NAME: dict[str, FacetSpec] = {f.name: f for f in TERM_FACETS}
BY_PARAM: dict[str, FacetSpec] = {f.param: f for f in TERM_FACETS}

# Date facets are computed from the story's timestamp, not from a field of values.
DATE_FACETS: tuple[str, ...] = ("year", "month", "day")
