"""Research views (trends, compare, related, significant) over a sharded index, summed exactly.

One index answers them from one mask over its facet arrays (researcher.py). Here each shard
runs a counting function over its own result set (ClusterService's phases 1-2 with the global
statistics, then Shard.map_matches), and the coordinator adds the counts up. Counts are of
values and UTC days, never of document numbers or value ordinals (both differ by shard), and
research.py turns the sums into the same JSON forms as one index: the same buckets, values,
counts, lifts and scores, in the same order.

Every shard must answer: a sum over some of them would be a silently smaller count, so a shard
down refuses the question (ShardsDown, HTTP 503) instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np

from searchapp import buckets, research
from searchapp.cluster import merge
from searchapp.cluster.coordinator import ClusterService, ShardsDown
from searchapp.cluster.words import significant_words
from searchapp.generation import Generation
from searchapp.models import SearchRequest
from searchapp.search import Matches

# -- what each shard counts (run in the shard's actor; module level, so Ray ships a reference)


@dataclass
class TimeCounts:
    """A shard's stories per UTC day, and per (value, day) of one facet, for one result set."""

    stories: int
    undated: int
    days: Counter[int]  # dated stories per day (days since 1970-01-01)
    by: Counter[tuple[str, int]]  # dated stories per (value of the `by` facet, day)


def time_counts(by: str | None, m: Matches, _gen: Generation) -> TimeCounts:
    """Count a result set per day (and per value and day of `by`)."""
    fd, dated = m.facets, m.mask & m.facets.has_date
    days, counts = np.unique(fd.day[dated], return_counts=True)
    pairs: Counter[tuple[str, int]] = Counter()
    if by:
        docs, ords = research._pairs(fd, by, dated)
        if len(docs):
            keys = np.stack([ords.astype(np.int64), fd.day[docs]])
            found, n = np.unique(keys, axis=1, return_counts=True)
            values = fd.values[by]
            pairs = Counter(
                {(values[o], int(d)): int(c) for (o, d), c in zip(found.T, n, strict=True)}
            )
    return TimeCounts(
        int(m.mask.sum()), int((m.mask & ~fd.has_date).sum()),
        Counter(dict(zip(days.tolist(), counts.tolist(), strict=True))), pairs,
    )


def _value_counts(fd: Any, facet: str, mask: np.ndarray) -> Counter[str]:
    ords = research._pairs(fd, facet, mask)[1]
    found, n = np.unique(ords, return_counts=True)
    values = fd.values[facet]
    return Counter({values[o]: int(c) for o, c in zip(found.tolist(), n.tolist(), strict=True)})


def related_counts(
    field: str, value: str, with_: str, m: Matches, _gen: Generation
) -> tuple[int, int, Counter[str], Counter[str]]:
    """Return (stories with field=value, stories, values of with_ among the first, among all)."""
    fd = m.facets
    subject = m.mask & fd.value_mask(field, [value])
    co, df = _value_counts(fd, with_, subject), _value_counts(fd, with_, m.mask)
    return int(subject.sum()), int(m.mask.sum()), co, df


def value_counts(
    field: str, m: Matches, _gen: Generation
) -> tuple[int, Counter[str], int, Counter[str]]:
    """Return (results, their values of field, live stories, the archive's values of field)."""
    fd = m.facets
    fg, bg = _value_counts(fd, field, m.mask), _value_counts(fd, field, fd.live)
    return int(m.mask.sum()), fg, fd.live_count, bg


# -- sums -------------------------------------------------------------------------------------


def _total(counters: Iterable[Counter[Any]]) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for c in counters:
        out.update(c)
    return out


def _per_bucket(tl: buckets.Timeline, days: Counter[int]) -> np.ndarray:
    """Return stories per bucket of tl from stories per day (days outside tl left out)."""
    out = np.zeros(tl.size, dtype=np.int64)
    if tl.size == 0 or not days:
        return out
    day = np.fromiter(days, dtype=np.int64, count=len(days))
    count = np.fromiter(days.values(), dtype=np.int64, count=len(days))
    k = buckets.day_buckets(day, tl.interval) - tl.first
    keep = (k >= 0) & (k < tl.size)
    np.add.at(out, k[keep], count[keep])
    return out


def _span(days: Counter[int]) -> tuple[int, int] | None:
    return (min(days), max(days)) if days else None


def _arrays(counts: Iterable[Counter[str]], values: list[str]) -> list[np.ndarray]:
    """Return each counter as an int64 array over values (sorted: facets.py's value order)."""
    return [np.array([c.get(v, 0) for v in values], dtype=np.int64) for c in counts]


def map_matches(
    service: ClusterService, req: SearchRequest, fn: Callable[[Matches, Generation], Any]
) -> tuple[tuple[str, ...], list[Any]]:
    """Run fn(Matches, Generation) on every shard's result set (scored with the global
    statistics) and return the shards' generations and answers, for the caller to sum. Every
    shard must answer: a sum over some of them would be a silently smaller count."""
    dfs, answers, _down, _used = service._two_phases(req, "map_matches", fn, every=True)
    return tuple(dfs[k].genkey for k in sorted(dfs)), [answers[k] for k in sorted(answers)]


class ClusterResearch:
    """researcher.Research's questions over a ClusterService: the same checks and forms."""

    def __init__(self, service: ClusterService) -> None:
        self.service = service

    def _map(self, req: SearchRequest, fn: Callable[..., Any]) -> tuple[Any, list[Any]]:
        return map_matches(self.service, req, fn)

    def trends(
        self, req: SearchRequest, by: str | None, interval: str | None, top: int = 5
    ) -> tuple[dict[str, Any], buckets.Timeline]:
        """Research.trends: stories per bucket, and the top values of `by` per bucket."""
        interval = research.check_interval(interval)
        by = research.check_facet(by, "by") if by else None
        research.check_top(top)
        _gens, parts = self._map(req, partial(time_counts, by))
        days = _total(p.days for p in parts)
        tl = buckets.span(_span(days), interval, None)
        series: list[tuple[str, np.ndarray]] = []
        if by and tl.size:
            pairs = _total(p.by for p in parts)
            per_value: dict[str, Counter[int]] = {}
            for (value, day), n in pairs.items():
                per_value.setdefault(value, Counter())[day] += n
            values = sorted(per_value)
            totals = np.array([sum(per_value[v].values()) for v in values], dtype=np.int64)
            picked = research._ranked(totals, top)
            series = [(values[o], _per_bucket(tl, per_value[values[o]])) for o in picked]
        stories, undated = sum(p.stories for p in parts), sum(p.undated for p in parts)
        data = research.trends_form(
            tl, _per_bucket(tl, days), by, series, stories, undated, _span(days)
        )
        return {"q": req.q, **data}, tl

    def compare(
        self, req: SearchRequest, queries: list[str], interval: str | None
    ) -> tuple[dict[str, Any], buckets.Timeline]:
        """Research.compare: up to 5 queries per bucket, as counts and shares."""
        interval = research.check_interval(interval)
        queries = research.check_queries(queries)
        req = replace(req, like=None)
        count = partial(time_counts, None)
        for _attempt in range(2):
            gens, everything = self._map(replace(req, q=""), count)
            answers = [self._map(replace(req, q=q), count) for q in queries]
            if any(g != gens for g, _parts in answers):
                continue  # an update landed between two questions: ask them all again
            per_query = [_total(p.days for p in parts) for _g, parts in answers]
            tl = buckets.span(_span(_total(per_query)), interval, None)
            counts = [
                (_per_bucket(tl, days), sum(p.stories for p in parts))
                for days, (_g, parts) in zip(per_query, answers, strict=True)
            ]
            base = _per_bucket(tl, _total(p.days for p in everything))
            return research.compare_form(tl, queries, counts, base), tl
        raise research.QueryError("the index changed during the comparison: ask again")

    def resolve(self, facet: str, value: str) -> str:
        """Return the archive's spelling of a value (any case), over every shard's values."""
        return research.resolve_value(self._values(), facet, value)

    def _values(self) -> merge.Values:
        vocabs, down = self.service._all("vocab")
        if down:
            raise ShardsDown(f"{self.service._partial(down)}: try again")
        return merge.Values(vocabs[k][1] for k in sorted(vocabs))

    def related(
        self, req: SearchRequest, field: str, value: str, with_: str, top: int = 20
    ) -> dict[str, Any]:
        """Research.related: the values of `with_` most often with field=value."""
        field, with_ = research.check_related(field, value, with_, top)
        value = self.resolve(field, value)
        _gens, parts = self._map(req, partial(related_counts, field, value, with_))
        co, df = _total(p[2] for p in parts), _total(p[3] for p in parts)
        values = sorted(df)
        co_a, df_a = _arrays((co, df), values)
        n, m = sum(p[0] for p in parts), sum(p[1] for p in parts)
        data = research.related_form(values, co_a, df_a, n, m, field, value, with_, top)
        return {"q": req.q, **data}

    def significant(
        self, req: SearchRequest, field: str, top: int = 20, min_count: int = research.MIN_COUNT
    ) -> dict[str, Any]:
        """Research.significant: values (or words) over-represented in a search's results."""
        field = research.check_facet(field, "field", words=True)
        research.check_top(top)
        if min_count < 1:
            raise research.QueryError(f"min_count {min_count} is out of range: use 1 or more")
        if field == research.WORDS:
            stories, background, items = significant_words(self._map, req, top, min_count)
        else:
            _gens, parts = self._map(req, partial(value_counts, field))
            fg, bg = _total(p[1] for p in parts), _total(p[3] for p in parts)
            values = sorted(bg)
            fg_a, bg_a = _arrays((fg, bg), values)
            stories, background = sum(p[0] for p in parts), sum(p[2] for p in parts)
            items = research.significant(values, fg_a, stories, bg_a, background, top, min_count)
        return {
            "q": req.q, "field": field, "stories": stories, "background": background,
            "significant": items,
        }
