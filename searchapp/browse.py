"""What the index holds, outside a search: search-box suggestions and index statistics."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from whoosh import query

from searchapp.facets import TERM_FACETS
from searchapp.generation import Generation, article_from_stored

# Longest prefix worth completing: longer input is a query, not a prefix.
MAX_PREFIX = 100


def suggest(gen: Generation, searcher: Any, prefix: str, limit: int) -> list[dict[str, Any]]:
    """Return search-box suggestions: persons, topics and titles starting with prefix."""
    prefix = prefix.strip()
    if not prefix or len(prefix) > MAX_PREFIX:
        return []
    low = prefix.lower()
    out: list[dict[str, Any]] = []
    for facet, hits in facet_matches(gen, low).items():
        kind = SUGGESTED[facet]
        out += [{"value": v, "kind": kind, "count": c} for v, c in hits[:limit]]
    out.sort(key=lambda d: -d["count"])
    out = out[: max(1, limit // 2)] if len(out) > limit // 2 else out
    for _score, title in title_matches(searcher, low, limit - len(out)):
        if title and all(title != d["value"] for d in out):
            out.append({"value": title, "kind": "title", "count": 1})
    return out[:limit]


# The facets whose values the search box offers, and what a suggestion of each is called.
SUGGESTED = {"persons": "person", "topics": "topic"}


def facet_matches(gen: Generation, low: str) -> dict[str, list[tuple[str, int]]]:
    """Return the persons and topics with a word starting with low (lowercased), with their
    story counts, most stories first (a shard's part of a sharded suggest, too)."""
    fd = gen.facets
    out: dict[str, list[tuple[str, int]]] = {}
    for facet in SUGGESTED:
        counts = gen.landing.get(facet) or fd.count_terms(facet, fd.live)
        hits = [(v, c) for v, c in counts if c and _starts_a_word(v, low)]
        hits.sort(key=lambda vc: (-vc[1], vc[0]))
        out[facet] = hits
    return out


def _starts_a_word(value: str, low: str) -> bool:
    return any(w.startswith(low) for w in value.lower().split())


def title_matches(searcher: Any, low: str, limit: int) -> list[tuple[float, str]]:
    """Return up to limit titles holding low's words, the last as a prefix, with Whoosh's
    scores (best first)."""
    words = re.findall(r"\w+", low)
    if not words or limit <= 0:
        return []
    parts = [query.Term("title", w) for w in words[:-1]]
    parts.append(query.Prefix("title", words[-1]))
    q = query.And(parts) if len(parts) > 1 else parts[0]
    try:
        return [
            (float(score), article_from_stored(searcher.stored_fields(docnum)).title)
            for score, docnum in searcher.search(q, limit=limit).top_n
        ]
    except RecursionError:  # Whoosh recurses per ANDed word (docs/whoosh-notes.md)
        return []


def stats(gen: Generation) -> dict[str, Any]:
    """Return what the index holds: stories, dates, size, segments, top facet values."""
    from searchapp.codec import ColumnarCodec

    fd = gen.facets
    segments = gen.ix._segments()
    dated = fd.ts[fd.live & fd.has_date]
    size = sum(p.stat().st_size for p in gen.gen.iterdir() if p.is_file())
    top = {name: fd.count_terms(name, fd.live)[:10] for name in TERM_FACETS}

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(int(ts), timezone.utc).isoformat()

    return {
        "index": str(gen.gen),
        "stories": fd.live_count,
        "first_date": iso(dated.min()) if len(dated) else None,
        "last_date": iso(dated.max()) if len(dated) else None,
        "undated": int((fd.live & ~fd.has_date).sum()),
        "size_bytes": size,
        "segments": len(segments),
        # Segments an older version wrote in Whoosh's own format (or SEARCHAPP_CODEC=whoosh):
        # they still answer, more slowly; a rebuild moves them to the columnar codec.
        "whoosh_format_segments": sum(
            not isinstance(seg.codec(), ColumnarCodec) for seg in segments
        ),
        "top": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in top.items()},
    }
