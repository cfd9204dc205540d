"""The sidebar's facet lists and the chips of the active filters.

The view asks the service for every value of every facet (facet_limit=0) and cuts the lists
here, so that a ticked value outside the top ones still shows its own count, and one facet
at a time can open to a long list with a filter box ("More places…").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from searchapp.models import FacetValue, SearchRequest
from searchapp.web.dates import span_label
from searchapp.web.params import FACET_LABELS, FACET_PARAMS, FACET_PLURALS
from searchapp.web.urls import search_url

MORE_LIMIT = 250  # values of the one opened facet; its filter box finds one among them


@dataclass(frozen=True)
class FacetOption:
    """One checkbox of the sidebar."""

    value: str
    count: int | None
    selected: bool


@dataclass(frozen=True)
class FacetList:
    """One facet of the sidebar: its checkboxes and whether more values are hidden."""

    name: str
    param: str
    label: str
    plural: str
    options: list[FacetOption]
    hidden: int | None  # values not shown (None: some, not counted)
    opened: bool  # this is the facet opened with "More …"

    @property
    def more(self) -> bool:
        """Say whether values are left out (a "More …" link)."""
        return self.hidden is None or self.hidden > 0


def facet_options(
    values: list[FacetValue], selected: Iterable[str], limit: int = 0
) -> tuple[list[FacetOption], int]:
    """Return a facet's checkboxes (the top ``limit`` values, 0 = all, plus every selected one)
    and how many values are left out.

    A selected value must stay in the form, or the next submit would silently drop it; its
    count is its own when the service counted it, else None (no story holds it).
    """
    chosen = list(selected)
    top = values if limit <= 0 else values[:limit]
    shown = {v.value for v in top}
    counts = {v.value: v.count for v in values}
    options = [FacetOption(v.value, v.count, v.value in chosen) for v in top]
    options += [FacetOption(v, counts.get(v), True) for v in chosen if v not in shown]
    hidden = len(values) - len(top)
    return options, hidden


def facet_lists(
    facets: dict[str, list[FacetValue]],
    req: SearchRequest,
    names: Iterable[str],
    limit: int,
    opened: str | None,
    truncated: dict[str, bool] | None = None,
) -> list[FacetList]:
    """Return the sidebar's facets; ``opened`` (a URL parameter) shows up to MORE_LIMIT values.

    ``truncated`` names the facets the service itself cut: they have more values, uncounted.
    """
    chosen = req.filters
    out = []
    for name in names:
        param = FACET_PARAMS[name]
        is_open = opened == param
        hidden: int | None
        options, hidden = facet_options(
            facets.get(name, []), chosen.get(name, ()), MORE_LIMIT if is_open else limit
        )
        if truncated and truncated.get(name) and not hidden:
            hidden = None
        if options:
            out.append(
                FacetList(
                    name, param, FACET_LABELS[name], FACET_PLURALS[name], options, hidden, is_open
                )
            )
    return out


def active_filters(req: SearchRequest) -> list[dict[str, Any]]:
    """Return the active filters as chips: label, value and the URL that removes it."""
    chips = []
    for facet, values in req.filters.items():
        param = FACET_PARAMS[facet]
        for value in values:
            chips.append(
                {
                    "label": FACET_LABELS[facet],
                    "value": value,
                    "remove": search_url(remove=[(param, value)]),
                }
            )
    if req.date_from or req.date_to:
        chips.append(
            {
                "label": "Date",
                "value": span_label(req.date_from, req.date_to),
                "remove": search_url(from_=None, to=None),
            }
        )
    return chips
