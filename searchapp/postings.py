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

from searchapp.codec.reading import ColumnarMatcher, ColumnarPerDocReader, ColumnarTermsReader

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
    if isinstance(matcher, ColumnarMatcher):
        # The columnar codec's postings are arrays already: slices of the mapped file.
        _docs, _freqs, weights = matcher._tr.slices(matcher._row)
        return _docs.astype(np.int64), np.array(weights, dtype=np.float32)
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
    if isinstance(matcher, ColumnarMatcher):
        return matcher._tr.slices(matcher._row)[0].astype(np.int64)
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
    perdoc = getattr(reader, "_perdoc", None)
    if isinstance(perdoc, ColumnarPerDocReader):
        codes = perdoc.length_codes(fieldname)
        return np.zeros(n, np.float64) if codes is None else _LENGTH_OF_BYTE[codes]
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
    if isinstance(matcher, ColumnarMatcher):
        return _columnar_positions(matcher, wanted)
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


def _columnar_positions(matcher: ColumnarMatcher, wanted: np.ndarray) -> dict[int, list[int]]:
    """Positions straight from the columnar codec's arrays: no decoding at all."""
    tr, row = matcher._tr, matcher._row
    docs, freqs, _weights = tr.slices(row)
    idx = np.searchsorted(docs, wanted)
    valid = idx < len(docs)
    idx = idx[valid]
    hit = idx[docs[idx] == wanted[valid]]
    starts = np.zeros(len(freqs) + 1, dtype=np.int64)
    np.cumsum(freqs, out=starts[1:])
    starts += int(tr.pos_off[row])
    positions = tr.positions
    return {
        int(docs[i]): positions[starts[i] : starts[i + 1]].tolist() for i in hit.tolist()
    }


def phrase_docs(matchers: list[Any], wanted: np.ndarray, slop: int) -> np.ndarray | None:
    """Return the wanted documents where the words occur in order (as chained() decides),
    computed over whole position arrays; None unless every matcher is a columnar one."""
    if not matchers or not all(isinstance(m, ColumnarMatcher) for m in matchers):
        return None
    ends: np.ndarray | None = None
    for m in matchers:
        keys = _position_keys(m, wanted)
        if ends is not None:
            # A position continues the chain if an end lies 1..slop positions before it.
            ok = np.zeros(len(keys), dtype=bool)
            for delta in range(1, max(1, slop) + 1):
                probe = keys - delta
                at = np.searchsorted(ends, probe)
                at[at == len(ends)] = 0
                ok |= ends[at] == probe
            keys = keys[ok]
        ends = keys
        if not len(ends):
            break
    assert ends is not None
    return np.unique(ends >> 32)


def _position_keys(matcher: ColumnarMatcher, wanted: np.ndarray) -> np.ndarray:
    """Return sorted doc << 32 | position keys of a term's positions in the wanted docs."""
    tr, row = matcher._tr, matcher._row
    docs, freqs, _weights = tr.slices(row)
    idx = np.searchsorted(docs, wanted)
    valid = idx < len(docs)
    hit = idx[valid][docs[idx[valid]] == wanted[valid]]
    counts = freqs[hit].astype(np.int64)
    starts = np.zeros(len(freqs) + 1, dtype=np.int64)
    np.cumsum(freqs, out=starts[1:])
    first = starts[hit] + int(tr.pos_off[row])
    run = np.repeat(first - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    gather = run + np.arange(int(counts.sum()), dtype=np.int64)
    doc_of = np.repeat(docs[hit].astype(np.int64), counts)
    return (doc_of << 32) | tr.positions[gather].astype(np.int64)


def expand_words(q: Any, reader: Any) -> Any:
    """Return the words a wildcard, prefix or fuzzy query expands to (Whoosh's _btexts).

    A fuzzy word over columnar segments expands per segment with the codec's numpy edit
    distances: the union is what Whoosh's multi-segment reader computes term by term in
    Python (damerau_levenshtein over every word sharing the prefix: seconds at 216k stories).
    """
    from whoosh import query

    if isinstance(q, query.FuzzyTerm):
        leaves = [r for r, _offset in reader.leaf_readers()] if not reader.is_atomic() else []
        if leaves and all(isinstance(r._terms, ColumnarTermsReader) for r in leaves):
            found: set[str] = set()
            fieldobj = reader.schema[q.fieldname]
            for leaf in leaves:
                cursor = leaf._terms.cursor(q.fieldname, fieldobj)
                found.update(cursor.within(q.text, q.maxdist, q.prefixlength))
            return sorted(found)
    return q._btexts(reader)


def chained(positions: list[list[int]], slop: int) -> bool:
    """Say whether the words occur in order, each within slop positions of the one before."""
    ends = set(positions[0])
    for later in positions[1:]:
        ends = {p for p in later if any(1 <= p - q <= slop for q in ends)}
        if not ends:
            return False
    return True
