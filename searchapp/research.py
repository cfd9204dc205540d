"""Research views as pure functions over a generation's facet arrays (facets.FacetData).

A result set is a boolean mask over document numbers (SearchService.matches); every question
here is answered with one ``bincount`` over that mask:

* timelines: each dated story falls in one bucket (day, ISO week, month, year: buckets.py),
  so a bucket count is ``bincount(bucket_of[mask])``; the top values of a facet per bucket
  are one more ``bincount`` over (value rank x bucket) pairs;
* co-occurrence: the values of a facet among the stories holding one value, with their lift
  over chance (how much likelier the pair is than if the two values were independent);
* significance: values over-represented in a result set against the whole archive, scored
  like Elasticsearch's significant_terms default (JLH), with both raw counts shown.

Undated stories have no bucket: timelines leave them out and report how many there were.
Parameter checks raise QueryError with the fix, so the CLI exits 2 and the web answers 400.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

import numpy as np

from searchapp.buckets import INTERVALS, Timeline, timeline
from searchapp.buckets import fit_interval as fit_interval  # the views' callers use it here
from searchapp.errors import QueryError
from searchapp.facets import FacetData
from searchapp.facetspec import BY_NAME, BY_PARAM, TERM_FACETS

MAX_TOP = 50
MAX_QUERIES = 5
# Like significant_terms' min_doc_count: a value seen once or twice in a small result set is
# over-represented by chance, not by subject.
MIN_COUNT = 3
WORDS = "words"


# -- parameters -------------------------------------------------------------------------------


def check_interval(interval: str | None) -> str | None:
    """Return a known interval (None: fit the span), or raise naming the choices."""
    if interval is None or not interval.strip():
        return None
    value = interval.strip().lower()
    if value not in INTERVALS:
        raise QueryError(
            f'interval "{interval[:40]}" is not known: use {", ".join(INTERVALS)} '
            "(or leave it out to fit the span)"
        )
    return value


def check_facet(value: str | None, param: str, *, words: bool = False) -> str:
    """Return the facet name for a facet given by name or URL parameter ("persons"/"person")."""
    raw = (value or "").strip().lower()
    if words and raw in (WORDS, "word"):
        return WORDS
    spec = BY_NAME.get(raw) or BY_PARAM.get(raw)
    if spec is None:
        choices = [f.name for f in TERM_FACETS] + ([WORDS] if words else [])
        shown = f'"{(value or "")[:40]}" is not known' if raw else "is missing"
        raise QueryError(f"{param} {shown}: use one of {', '.join(choices)}")
    return spec.name


def check_top(top: int, param: str = "top", most: int = MAX_TOP) -> int:
    """Return top if it is 1..most, else raise naming the range."""
    if not 1 <= top <= most:
        raise QueryError(f"{param} {top} is out of range: use 1 to {most}")
    return top


def check_related(field: str, value: str, with_: str, top: int) -> tuple[str, str]:
    """Check a co-occurrence question; return its field and with_ as facet names."""
    field = check_facet(field, "field")
    with_ = check_facet(with_, "with")
    check_top(top, most=100)
    if not value.strip():
        raise QueryError(
            f"value is missing: name the {field} to start from, e.g. value=James Baker"
        )
    return field, with_


def check_queries(queries: list[str]) -> list[str]:
    """Return the non-blank queries of a comparison: 1 to MAX_QUERIES of them."""
    kept = [q.strip() for q in queries if q and q.strip()]
    if not kept:
        raise QueryError("compare needs at least one query: e.g. q=oil&q=coffee")
    if len(kept) > MAX_QUERIES:
        raise QueryError(
            f"{len(kept)} queries were given; compare takes at most {MAX_QUERIES}: drop "
            f"{len(kept) - MAX_QUERIES} of them"
        )
    return kept


def resolve_value(fd: FacetData, facet: str, value: str) -> str:
    """Return the archive's spelling of a value typed in any case or without accents.

    FacetData.resolve raises QueryError naming the closest values when none matches; of
    several values that fold alike, the exact one or else the first is the subject.
    """
    wanted = value.strip()
    return fd.resolve(facet, [wanted])[0]


# -- trends and comparisons -------------------------------------------------------------------


def _pairs(fd: FacetData, facet: str, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return (document, value ordinal) pairs of a facet for the documents in mask."""
    if BY_NAME[facet].multi_valued:
        docs = fd.entry_docs[facet]
        keep = mask[docs]
        return docs[keep], fd.entry_ords[facet][keep]
    docs = np.flatnonzero(mask)
    ords = fd.ords[facet][docs]
    keep = ords >= 0
    return docs[keep], ords[keep]


def _ranked(counts: np.ndarray, top: int) -> np.ndarray:
    """Return the ordinals of the top counts, count descending then value (sorted) ascending."""
    nz = np.flatnonzero(counts)
    return nz[np.argsort(-counts[nz], kind="stable")][:top]


def top_series(
    fd: FacetData, tl: Timeline, mask: np.ndarray, facet: str, top: int
) -> list[tuple[str, np.ndarray]]:
    """Return the top values of a facet over the dated stories of mask, each per bucket."""
    if tl.size == 0:
        return []
    docs, ords = _pairs(fd, facet, mask & fd.has_date)
    values = fd.values[facet]
    picked = _ranked(np.bincount(ords, minlength=len(values)), top)
    rank = np.full(len(values), -1, dtype=np.int64)
    rank[picked] = np.arange(len(picked))
    r = rank[ords]
    keep = r >= 0
    cells = r[keep] * tl.size + (tl.keys[docs[keep]] - tl.first)
    grid = np.bincount(cells, minlength=len(picked) * tl.size).reshape(len(picked), tl.size)
    return [(values[o], grid[i]) for i, o in enumerate(picked)]


def trends(
    fd: FacetData, mask: np.ndarray, interval: str | None, by: str | None, top: int
) -> tuple[dict[str, Any], Timeline]:
    """Return stories per bucket and the top values of `by` per bucket (the /api/trends form)."""
    tl = timeline(fd, [mask], interval)
    series = top_series(fd, tl, mask, by, top) if by else []
    days = fd.day[mask & fd.has_date]
    stories, undated = int(mask.sum()), int((mask & ~fd.has_date).sum())
    dated = (int(days.min()), int(days.max())) if len(days) else None
    return trends_form(tl, tl.counts(fd, mask), by, series, stories, undated, dated), tl


def trends_form(
    tl: Timeline, total: np.ndarray, by: str | None, series: list[tuple[str, np.ndarray]],
    stories: int, undated: int, days: tuple[int, int] | None,
) -> dict[str, Any]:
    """Return the /api/trends form of counts (over one index, or summed over shards)."""
    return {
        "interval": tl.interval,
        "buckets": tl.labels,
        "total": [int(c) for c in total],
        "by": by,
        "series": [{"value": v, "counts": [int(c) for c in counts]} for v, counts in series],
        "stories": stories,
        "undated": undated,
        # The first and last story's day (UTC): bucket labels only say the week or month.
        "first": str(np.datetime64(days[0], "D")) if days else None,
        "last": str(np.datetime64(days[1], "D")) if days else None,
    }


def share(counts: np.ndarray, everything: np.ndarray) -> list[float | None]:
    """Return counts / everything per bucket; None where the bucket holds no story at all.

    None, not 0: a week the archive has no stories for says nothing about a subject's share
    (Reuters-21578 has such gaps), and a chart must break its line there, not dip to 0%.
    """
    return [
        round(float(c) / float(e), 6) if e else None
        for c, e in zip(counts.tolist(), everything.tolist(), strict=True)
    ]


def compare(
    fd: FacetData, queries: list[str], masks: list[np.ndarray], everything: np.ndarray,
    interval: str | None,
) -> tuple[dict[str, Any], Timeline]:
    """Return each query's stories per bucket, and their share of `everything` per bucket."""
    tl = timeline(fd, masks, interval)
    counts = [(tl.counts(fd, m), int(m.sum())) for m in masks]
    return compare_form(tl, queries, counts, tl.counts(fd, everything)), tl


def compare_form(
    tl: Timeline, queries: list[str], counts: list[tuple[np.ndarray, int]], base: np.ndarray
) -> dict[str, Any]:
    """Return the /api/compare form: each query's (bucket counts, stories) and all stories'."""
    series = [
        {"q": q, "counts": [int(c) for c in per], "share": share(per, base), "stories": n}
        for q, (per, n) in zip(queries, counts, strict=True)
    ]
    return {
        "interval": tl.interval,
        "buckets": tl.labels,
        "all": [int(c) for c in base],
        "series": series,
    }


# -- co-occurrence and significance -----------------------------------------------------------


def related(
    fd: FacetData, base: np.ndarray, field: str, value: str, with_: str, top: int
) -> dict[str, Any]:
    """Return the values of `with_` most often in the stories of base holding field=value.

    lift = P(other | value) / P(other) within base: 1 is chance, 2 is twice as often as the
    other value appears in base at all.
    """
    subject = base & fd.value_mask(field, [value])
    size = len(fd.values[with_])
    co = np.bincount(_pairs(fd, with_, subject)[1], minlength=size)
    df = np.bincount(_pairs(fd, with_, base)[1], minlength=size)
    n, m = int(subject.sum()), int(base.sum())
    return related_form(fd.values[with_], co, df, n, m, field, value, with_, top)


def related_form(
    values: list[str], co: np.ndarray, df: np.ndarray, n: int, m: int,
    field: str, value: str, with_: str, top: int,
) -> dict[str, Any]:
    """Rank co-occurrence counts (co: with the subject, df: in base; over sorted values)."""
    own = bisect_left(values, value)
    if with_ == field and own < len(values) and values[own] == value:
        co[own] = 0  # a value always appears with itself
    out = []
    for o in _ranked(co, top):
        lift = (co[o] / n) / (df[o] / m)
        out.append({"value": values[o], "count": int(co[o]), "lift": round(lift, 3)})
    return {"field": field, "value": value, "with": with_, "stories": n, "related": out}


def jlh(fg: np.ndarray, fg_n: int, bg: np.ndarray, bg_n: int) -> np.ndarray:
    """Return Elasticsearch's JLH score: (fg% - bg%) * fg% / bg%, 0 where not over-represented."""
    fg_p = fg / max(fg_n, 1)
    bg_p = np.divide(bg, max(bg_n, 1), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where((bg_p > 0) & (fg_p > bg_p), (fg_p - bg_p) * (fg_p / bg_p), 0.0)
    return np.asarray(score, dtype=np.float64)


def significant(
    values: list[str], fg: np.ndarray, fg_n: int, bg: np.ndarray, bg_n: int, top: int,
    min_count: int = MIN_COUNT,
) -> list[dict[str, Any]]:
    """Return the values with the highest JLH score among those in >= min_count results."""
    score = jlh(fg, fg_n, bg, bg_n)
    score[fg < min_count] = 0.0
    nz = np.flatnonzero(score > 0)
    # Highest score first; ties by foreground count, then value order.
    order = nz[np.lexsort((nz, -fg[nz], -score[nz]))][:top]
    return [
        {
            "value": values[i],
            "count": int(fg[i]),
            "background": int(bg[i]),
            "score": round(float(score[i]), 6),
        }
        for i in order
    ]


def significant_values(
    fd: FacetData, mask: np.ndarray, facet: str, top: int, min_count: int = MIN_COUNT
) -> list[dict[str, Any]]:
    """Return the values of a facet over-represented in mask against every live story."""
    size = len(fd.values[facet])
    fg = np.bincount(_pairs(fd, facet, mask)[1], minlength=size)
    bg = np.bincount(_pairs(fd, facet, fd.live)[1], minlength=size)
    return significant(fd.values[facet], fg, int(mask.sum()), bg, fd.live_count, top, min_count)
