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
    fd = gen.facets
    low = prefix.lower()
    out: list[dict[str, Any]] = []
    for facet, kind in (("persons", "person"), ("topics", "topic")):
        counts = dict(gen.landing.get(facet) or fd.count_terms(facet, fd.live))
        matches = [
            v
            for v in fd.values[facet]
            if any(w.startswith(low) for w in v.lower().split()) and counts.get(v)
        ]
        matches.sort(key=lambda v: (-counts[v], v))
        out += [{"value": v, "kind": kind, "count": counts[v]} for v in matches[:limit]]
    out.sort(key=lambda d: -d["count"])
    out = out[: max(1, limit // 2)] if len(out) > limit // 2 else out
    words = re.findall(r"\w+", low)
    if words:
        parts = [query.Term("title", w) for w in words[:-1]]
        parts.append(query.Prefix("title", words[-1]))
        q = query.And(parts) if len(parts) > 1 else parts[0]
        try:
            results = searcher.search(q, limit=limit - len(out))
            for _score, docnum in results.top_n:
                title = article_from_stored(searcher.stored_fields(docnum)).title
                if title and all(title != d["value"] for d in out):
                    out.append({"value": title, "kind": "title", "count": 1})
        except RecursionError:
            pass
    return out[:limit]


def stats(gen: Generation) -> dict[str, Any]:
    """Return what the index holds: stories, dates, size, segments, top facet values."""
    fd = gen.facets
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
        "segments": len(gen.ix._segments()),
        "top": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in top.items()},
    }
