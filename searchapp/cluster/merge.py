"""Pure merges of the shards' answers into what one index of every story would answer.

Each function mirrors the single-index code it stands in for (named in its docstring), so the
two stay comparable line by line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from datetime import datetime, timezone
from typing import Any

from searchapp.cluster.shard import Dfs, Key, Part
from searchapp.facets import DATE_FACETS, TERM_FACETS, FacetData, cut_facets
from searchapp.models import FacetValue
from searchapp.scoring import CollectionStats
from searchapp.spelling import _WORD

# (shard, docnum, score) of one merged result.
Picked = tuple[int, int, float | None]


def collection(dfs: Iterable[Dfs]) -> CollectionStats:
    """Return the totals over every shard that BM25 needs (phase 1 of a search)."""
    count = 0
    lengths: Counter[str] = Counter()
    freqs: Counter[Hashable] = Counter()
    for d in dfs:
        count += d.doc_count
        lengths.update(d.field_lengths)
        freqs.update(d.doc_freqs)
    return CollectionStats(count, dict(lengths), dict(freqs))


class Values(FacetData):
    """The facet values of every shard, for FacetData.resolve (no arrays: nothing to count)."""

    def __init__(self, vocabs: Iterable[dict[str, list[str]]]) -> None:
        merged: dict[str, set[str]] = {}
        for vocab in vocabs:
            for facet, values in vocab.items():
                merged.setdefault(facet, set()).update(values)
        self.values = {facet: sorted(vals) for facet, vals in merged.items()}
        self.index = {f: {v: i for i, v in enumerate(vals)} for f, vals in self.values.items()}
        self._folded_cache = {}


def _key(sort: str, k: Key) -> tuple[Any, ...]:
    score, ts, dated, _doc, _id, every = k
    # As results.top (all words first, score, then newest) and Generation.newest/oldest.
    if sort == "relevance":
        return (not every, -(score or 0.0), -ts)
    if sort == "newest":
        return (not dated, -ts)
    return (not dated, ts)


def order(parts: dict[int, Part], sort: str, need: int) -> list[Picked]:
    """Return the first `need` results over every shard, in the one-index order: stories
    equal on every key by id (descending but for "oldest"), as results.by_id orders them."""
    keyed = [(shard, k) for shard, part in parts.items() for k in part.keys]
    keyed.sort(key=lambda item: item[1][4], reverse=sort != "oldest")
    keyed.sort(key=lambda item: _key(sort, item[1]))  # stable: ties stay in id order
    return [(shard, k[3], k[0]) for shard, k in keyed[:need]]


def relaxed(dfs: Iterable[Dfs]) -> frozenset[str]:
    """Return the phrases no shard holds (read as their words, as one index reads them)."""
    held: dict[str, bool] = {}
    for d in dfs:
        for label, here in d.phrases.items():
            held[label] = held.get(label, False) or here
    return frozenset(label for label, anywhere in held.items() if not anywhere)


def facets(
    parts: Iterable[Part], facet_limit: int
) -> tuple[dict[str, list[FacetValue]], dict[str, bool]]:
    """Sum the shards' facet counts and cut them as facets.assemble does."""
    parts = list(parts)
    counted: dict[str, list[tuple[str, int]]] = {}
    for name in TERM_FACETS:
        total: Counter[str] = Counter()
        for p in parts:
            total.update(dict(p.terms[name]))
        counted[name] = sorted(((v, c) for v, c in total.items() if c), key=lambda x: (-x[1], x[0]))
    spans = [p.months for p in parts if p.months is not None]
    spanned = max(s[1] for s in spans) - min(s[0] for s in spans) + 1 if spans else 0
    for name in DATE_FACETS:
        if name == "day" and spanned > 2:
            continue
        total = Counter()
        for p in parts:
            total.update(dict(p.dates[name]))
        counted[name] = sorted(total.items())
    return cut_facets(counted, facet_limit)


def words(text: str) -> list[str]:
    """Return the words did-you-mean looks at (spelling.corrected's)."""
    return [m.group(1) for m in _WORD.finditer(text)]


def suggestions(parts: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """browse.suggest over every shard: facet values by summed count, then titles by score."""
    out: list[dict[str, Any]] = []
    for facet, kind in (("persons", "person"), ("topics", "topic")):
        counts: Counter[str] = Counter()
        for p in parts:
            counts.update(dict(p[facet]))
        ranked = sorted(counts, key=lambda v: (-counts[v], v))
        out += [{"value": v, "kind": kind, "count": counts[v]} for v in ranked[:limit]]
    out.sort(key=lambda d: -d["count"])
    out = out[: max(1, limit // 2)] if len(out) > limit // 2 else out
    titles = sorted((t for p in parts for t in p["titles"]), key=lambda t: -t[0])
    room = limit - len(out)
    for _score, title in titles:
        if room <= 0:
            break
        if title and all(title != d["value"] for d in out):
            out.append({"value": title, "kind": "title", "count": 1})
            room -= 1
    return out[:limit]


def stats(index_dir: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """browse.stats over every shard: sums, the overall date range, top values summed."""
    ranges = [p["range"] for p in parts if p["range"] is not None]

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(int(ts), timezone.utc).isoformat()

    top = {}
    for name in TERM_FACETS:
        total: Counter[str] = Counter()
        for p in parts:
            total.update(dict(p["top"][name]))
        ranked = sorted(total.items(), key=lambda x: (-x[1], x[0]))[:10]
        top[name] = [{"value": v, "count": c} for v, c in ranked]
    return {
        "index": index_dir,
        "stories": sum(p["stories"] for p in parts),
        "first_date": iso(min(r[0] for r in ranges)) if ranges else None,
        "last_date": iso(max(r[1] for r in ranges)) if ranges else None,
        "undated": sum(p["undated"] for p in parts),
        "size_bytes": sum(p["size_bytes"] for p in parts),
        "segments": sum(p["segments"] for p in parts),
        "whoosh_format_segments": sum(p.get("whoosh_format_segments", 0) for p in parts),
        "shards": len(parts),
        "top": top,
    }
