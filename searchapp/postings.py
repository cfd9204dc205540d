"""Reading Whoosh posting lists and length columns whole, into numpy arrays.

Whoosh exposes postings one document at a time through matchers (a Python call per posting);
search.py and facets.py need whole lists at once, so these helpers read the decoded blocks of
a segment's posting list directly. They rely on whoosh-reloaded 2.7.5 internals (pinned), and
fall back to the public, slower interfaces where those internals are missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from whoosh.util.numeric import byte_to_length

# Whoosh stores each document's field length as one byte; this table decodes all 256 at once.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)


def raw_postings(reader: Any, fieldname: str, text: bytes) -> Any:
    """Return a segment's matcher for a term, WITHOUT the filter that hides deletions."""
    fmt = reader.schema[fieldname].format
    return reader._terms.matcher(fieldname, text, fmt, scorer=None)


def leaf_postings(matcher: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return every (document number, weight) of a raw posting list, a block at a time.

    Deleted documents are included: callers apply the generation's live mask themselves.
    """
    if not hasattr(matcher, "_read_ids"):
        pairs: list[tuple[int, float]] = []
        while matcher.is_active():
            pairs.append((matcher.id(), matcher.weight()))
            matcher.next()
        return (
            np.array([p[0] for p in pairs], dtype=np.int64),
            np.array([p[1] for p in pairs], dtype=np.float32),
        )
    id_parts, weight_parts = [], []
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        id_parts.append(matcher._ids)
        weight_parts.append(matcher._weights)
        matcher._next_block()
    if not id_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    ids = np.fromiter((i for part in id_parts for i in part), dtype=np.int64)
    weights = np.fromiter((w for part in weight_parts for w in part), dtype=np.float32)
    return ids, weights


def leaf_ids(matcher: Any) -> np.ndarray:
    """Return every document number of a raw posting list (see leaf_postings)."""
    if not hasattr(matcher, "_read_ids"):
        return np.fromiter(matcher.all_ids(), dtype=np.int64)
    parts = []
    while matcher.is_active():
        matcher._read_ids()
        parts.append(matcher._ids)
        matcher._next_block()
    if not parts:
        return np.zeros(0, dtype=np.int64)
    return np.fromiter((i for part in parts for i in part), dtype=np.int64)


def field_lengths(reader: Any, fieldname: str) -> np.ndarray | None:
    """Return a segment's per-document lengths of a field as Whoosh scores them, or None."""
    n = reader.doc_count_all()
    try:
        from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

        col = reader._perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
    except (AttributeError, ImportError):
        return None
    if col is None:
        return np.zeros(n, dtype=np.float64)
    try:
        count = col._count
        raw = np.frombuffer(col._dbfile.get(col._basepos, count), dtype=np.uint8)
    except AttributeError:
        raw = np.fromiter(iter(col), dtype=np.uint8, count=n)
        count = n
    codes = np.zeros(n, dtype=np.uint8)
    codes[:count] = raw[:n]
    return _LENGTH_OF_BYTE[codes]


def leaf_positions(matcher: Any, fmt: Any, wanted: np.ndarray) -> dict[int, list[int]]:
    """Return the positions of a term in the wanted documents (sorted segment docnums).

    Only blocks holding a wanted document have their values decoded: a phrase check then
    costs a decode per candidate, not a Python step per posting as Whoosh's span matcher does.
    """
    found: dict[int, list[int]] = {}
    while matcher.is_active():
        matcher._read_ids()
        ids = np.asarray(matcher._ids, dtype=np.int64)
        hit = np.flatnonzero(np.isin(ids, wanted, assume_unique=True))
        if len(hit):
            matcher._read_values()
            values = matcher._values
            for i in hit:
                found[int(ids[i])] = fmt.decode_positions(values[i])
        matcher._next_block()
    return found


def chained(positions: list[list[int]], slop: int) -> bool:
    """Say whether the words occur in order, each within slop positions of the one before."""
    ends = set(positions[0])
    for later in positions[1:]:
        ends = {p for p in later if any(1 <= p - q <= slop for q in ends)}
        if not ends:
            return False
    return True
