"""Facet arrays, loaded once per index generation, and facet counting with numpy.

Every facet value of every story is turned into small integer ordinals held in numpy arrays:
``section`` and ``place`` (one value per story) as one ordinal per document, ``topics`` and
``persons`` (many) as parallel (document, ordinal) entry arrays. Counting a result set, given as
a boolean mask over document numbers, is then one ``bincount`` per facet: ~1 ms at 200k stories,
where Whoosh's ``groupedby`` costs 300 ms (docs/whoosh-notes.md).

The arrays come from the postings of the exact-value ``f_*`` fields (one term per value), read
per segment: segments never change once written, so a segment's arrays are cached in memory
and on disk (``facets-<segment>.npz`` beside the segment) and a new generation reloads only its
new segments. Deletions change per generation and come from the reader each time.
"""

from __future__ import annotations

import contextlib
import os
import threading
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from searchapp import facetspec
from searchapp.errors import QueryError
from searchapp.models import FacetValue
from searchapp.postings import leaf_ids, raw_postings
from searchapp.schema import FACET_FIELDS, NO_DATE

# Derived from the one table of facets (facetspec.py).
MULTI_VALUED = {f.name for f in facetspec.TERM_FACETS if f.multi_valued}
TERM_FACETS = tuple(f.name for f in facetspec.TERM_FACETS)
DATE_FACETS = facetspec.DATE_FACETS


def fold(value: str) -> str:
    """Return a value as users may type it: no case, no accents, single spaces."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().split())


def _read_ts(reader: Any, n: int) -> np.ndarray:
    if not reader.has_column("ts"):
        return np.full(n, NO_DATE, dtype=np.int64)
    col = reader.column_reader("ts")
    try:
        # NumericColumn stores big-endian int64 values back to back; missing trailing values
        # are the default. Reading the bytes in one go beats unpacking 200k values in Python.
        count = col._count
        raw = col._dbfile.get(col._basepos, count * 8)
        ts = np.full(n, NO_DATE, dtype=np.int64)
        ts[:count] = np.frombuffer(raw, dtype=">i8")
        return ts
    except AttributeError:
        return np.fromiter(iter(col), dtype=np.int64, count=n)


@dataclass
class SegmentFacets:
    """A segment's facet arrays, with segment-local value lists."""

    n: int
    ts: np.ndarray
    values: dict[str, list[str]]
    # single-valued: ords[doc] (-1 = none); multi-valued: (docs, ords) entry pairs
    ords: dict[str, np.ndarray] = field(default_factory=dict)
    entry_docs: dict[str, np.ndarray] = field(default_factory=dict)
    entry_ords: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> SegmentFacets:
        """Return the arrays of a segment without documents."""
        seg = cls(n=0, ts=np.zeros(0, np.int64), values={f: [] for f in FACET_FIELDS})
        for facet in FACET_FIELDS:
            if facet in MULTI_VALUED:
                seg.entry_docs[facet] = np.zeros(0, np.int64)
                seg.entry_ords[facet] = np.zeros(0, np.int32)
            else:
                seg.ords[facet] = np.zeros(0, np.int32)
        return seg

    @classmethod
    def from_reader(cls, reader: Any) -> SegmentFacets:
        """Read a segment's facet postings and date column."""
        n = reader.doc_count_all()
        seg = cls(n=n, ts=_read_ts(reader, n), values={})
        for facet, fieldname in FACET_FIELDS.items():
            values: list[str] = []
            docs_parts = []
            ord_parts = []
            if fieldname in reader.indexed_field_names():
                for term in reader.lexicon(fieldname):
                    ids = leaf_ids(raw_postings(reader, fieldname, term))
                    docs_parts.append(ids)
                    ord_parts.append(np.full(len(ids), len(values), dtype=np.int32))
                    values.append(term.decode("utf-8"))
            docs = np.concatenate(docs_parts) if docs_parts else np.zeros(0, np.int64)
            ords = np.concatenate(ord_parts) if ord_parts else np.zeros(0, np.int32)
            seg.values[facet] = values
            if facet in MULTI_VALUED:
                seg.entry_docs[facet] = docs
                seg.entry_ords[facet] = ords
            else:
                per_doc = np.full(n, -1, dtype=np.int32)
                per_doc[docs] = ords
                seg.ords[facet] = per_doc
        return seg

    def save(self, path: Path) -> None:
        """Cache the arrays on disk (atomic; a reader never sees a torn file)."""
        arrays: dict[str, Any] = {"n": np.array([self.n]), "ts": self.ts}
        for facet, values in self.values.items():
            arrays[f"values_{facet}"] = np.array(values, dtype=str)
        for facet, a in self.ords.items():
            arrays[f"ords_{facet}"] = a
        for facet, a in self.entry_docs.items():
            arrays[f"edocs_{facet}"] = a
            arrays[f"eords_{facet}"] = self.entry_ords[facet]
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> SegmentFacets:
        """Load arrays cached by save()."""
        with np.load(path, allow_pickle=False) as data:
            seg = cls(n=int(data["n"][0]), ts=data["ts"], values={})
            for facet in FACET_FIELDS:
                seg.values[facet] = [str(v) for v in data[f"values_{facet}"]]
                if facet in MULTI_VALUED:
                    seg.entry_docs[facet] = data[f"edocs_{facet}"]
                    seg.entry_ords[facet] = data[f"eords_{facet}"]
                else:
                    seg.ords[facet] = data[f"ords_{facet}"]
        return seg


_SEGMENT_CACHE: dict[tuple[str, str], SegmentFacets] = {}
_CACHE_LOCK = threading.Lock()


def segment_facets(gen: Path, reader: Any) -> SegmentFacets:
    """Return a segment's arrays from memory, the on-disk cache, or its postings."""
    segment = reader.segment()
    if segment is None:
        # An index with no stories has no segment, only Whoosh's EmptyReader: no arrays.
        return SegmentFacets.empty()
    segid = segment.segment_id()
    key = (str(gen), segid)
    with _CACHE_LOCK:
        cached = _SEGMENT_CACHE.get(key)
    if cached is not None:
        return cached
    path = gen / f"facets-{segid}.npz"
    seg = None
    if path.exists():
        # A damaged file (truncated: BadZipFile) is rebuilt from the postings, not an error.
        with contextlib.suppress(OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile):
            seg = SegmentFacets.load(path)
            if seg.n != reader.doc_count_all():
                seg = None
    if seg is None:
        seg = SegmentFacets.from_reader(reader)
        with contextlib.suppress(OSError):
            seg.save(path)  # read-only index folders still work, just slower to open
    with _CACHE_LOCK:
        _SEGMENT_CACHE[key] = seg
    return seg


def forget_generation(gen: Path) -> None:
    """Drop a generation's segments from the in-memory cache."""
    with _CACHE_LOCK:
        for key in [k for k in _SEGMENT_CACHE if k[0] == str(gen)]:
            del _SEGMENT_CACHE[key]


class FacetData:
    """A whole index generation's facet arrays, over top-level document numbers."""

    def __init__(self, gen: Path, searcher: Any) -> None:
        leaves = searcher.leaf_searchers()
        segs = []
        live_parts = []
        for sub, _offset in leaves:
            reader = sub.reader()
            seg = segment_facets(gen, reader)
            segs.append(seg)
            live = np.ones(seg.n, dtype=bool)
            if reader.has_deletions():
                deleted = np.fromiter(reader._perdoc.deleted_docs(), dtype=np.int64)
                live[deleted] = False
            live_parts.append(live)
        offsets = [offset for _sub, offset in leaves]
        self.n = sum(s.n for s in segs)
        self.live = np.concatenate(live_parts) if live_parts else np.zeros(0, bool)
        self.ts = np.concatenate([s.ts for s in segs]) if segs else np.zeros(0, np.int64)
        self.has_date = self.ts != NO_DATE
        self.values: dict[str, list[str]] = {}
        self.index: dict[str, dict[str, int]] = {}
        self.ords: dict[str, np.ndarray] = {}
        self.entry_docs: dict[str, np.ndarray] = {}
        self.entry_ords: dict[str, np.ndarray] = {}
        for facet in FACET_FIELDS:
            # Merge segment vocabularies into one sorted value list for the generation.
            vocab = sorted({v for s in segs for v in s.values[facet]})
            index = {v: i for i, v in enumerate(vocab)}
            self.values[facet] = vocab
            self.index[facet] = index
            remaps = [
                np.array([index[v] for v in s.values[facet]] or [0], dtype=np.int32) for s in segs
            ]
            if facet in MULTI_VALUED:
                docs = [s.entry_docs[facet] + off for s, off in zip(segs, offsets, strict=False)]
                ords = [remap[s.entry_ords[facet]] for s, remap in zip(segs, remaps, strict=False)]
                self.entry_docs[facet] = np.concatenate(docs) if docs else np.zeros(0, np.int64)
                self.entry_ords[facet] = np.concatenate(ords) if ords else np.zeros(0, np.int32)
            else:
                parts = []
                for s, remap in zip(segs, remaps, strict=False):
                    local = s.ords[facet]
                    parts.append(np.where(local >= 0, remap[np.maximum(local, 0)], -1))
                self.ords[facet] = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        # Calendar fields in UTC, for the date facets and filters.
        # One calendar conversion (days to months); the rest is integer division, half the
        # time of converting seconds three times (~9 ms at 216k, in every process). Months count
        # from 1970-01.
        self.day = np.where(self.has_date, self.ts, 0) // 86400  # days since 1970-01-01
        self.month = self.day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        self.year = self.month // 12 + 1970  # floor division: exact before 1970 too
        self.live_count = int(self.live.sum())
        self._folded_cache: dict[str, dict[str, list[str]]] = {}

    # -- filters ---------------------------------------------------------------------------

    def resolve(self, facet: str, typed: Iterable[str]) -> tuple[str, ...]:
        """Return the values the index holds for values as a user typed them.

        An exact value is kept; otherwise every value equal to it without case and accents
        (``energy`` -> ``Energy``, ``sao paulo`` -> ``São Paulo``). A value matching none raises
        QueryError naming the facet and the closest values the index holds.
        """
        folded = self._folded(facet)
        found: list[str] = []
        for value in typed:
            exact = value in self.index[facet]
            matches = [value] if exact else folded.get(fold(value), [])
            if not matches:
                import difflib  # only for a value the index lacks

                spec = facetspec.BY_NAME[facet]
                close = difflib.get_close_matches(fold(value), list(folded), n=3, cutoff=0.6)
                names = [folded[c][0] for c in close]
                if names:
                    hint = "did you mean " + " or ".join(f"'{n}'" for n in names) + "?"
                else:
                    hint = f"the index holds no such {spec.noun}: check the spelling"
                raise QueryError(f"no {spec.noun} '{value}': {hint}")
            found += [m for m in matches if m not in found]
        return tuple(found)

    def _folded(self, facet: str) -> dict[str, list[str]]:
        # Built on first use per facet and generation (a few ms for 20k persons).
        cached = self._folded_cache.get(facet)
        if cached is None:
            cached = {}
            for value in self.values[facet]:
                cached.setdefault(fold(value), []).append(value)
            self._folded_cache[facet] = cached
        return cached

    def value_mask(self, facet: str, selected: Iterable[str]) -> np.ndarray:
        """Return the documents holding ANY of the selected values of a facet."""
        index = self.index[facet]
        wanted = [index[v] for v in selected if v in index]
        mask = np.zeros(self.n, dtype=bool)
        if not wanted:
            return mask
        if facet in MULTI_VALUED:
            hit = np.isin(self.entry_ords[facet], wanted)
            mask[self.entry_docs[facet][hit]] = True
        else:
            mask = np.isin(self.ords[facet], wanted)
        return mask

    def date_mask(self, start: int | None, end: int | None) -> np.ndarray:
        """Return the dated documents with start <= ts < end (epoch seconds, UTC)."""
        mask = self.has_date.copy()
        if start is not None:
            mask &= self.ts >= start
        if end is not None:
            mask &= self.ts < end
        return mask

    # -- counting --------------------------------------------------------------------------

    def count_terms(self, facet: str, mask: np.ndarray) -> list[tuple[str, int]]:
        """Return (value, count) for the documents in mask, by count then value."""
        values = self.values[facet]
        if facet in MULTI_VALUED:
            ords = self.entry_ords[facet][mask[self.entry_docs[facet]]]
        else:
            ords = self.ords[facet][mask]
            ords = ords[ords >= 0]
        counts = np.bincount(ords, minlength=len(values))
        nz = np.flatnonzero(counts)
        # values are sorted, so a stable sort on -count gives "count desc, then value asc"
        order = nz[np.argsort(-counts[nz], kind="stable")]
        return [(values[i], int(counts[i])) for i in order]

    def count_dates(self, kind: str, mask: np.ndarray) -> list[tuple[str, int]]:
        """Return (YYYY | YYYY-MM | YYYY-MM-DD, count) in time order."""
        mask = mask & self.has_date
        keys = {"year": self.year, "month": self.month, "day": self.day}[kind][mask]
        if len(keys) == 0:
            return []
        # Counting into bins from the earliest key, not np.unique: a sort of every matching
        # story was most of a broad query's date facets at 216k stories.
        low = int(keys.min())
        binned = np.bincount(keys - low)
        present = np.flatnonzero(binned)
        uniq, counts = present + low, binned[present]
        if kind == "year":
            labels = [str(int(y)) for y in uniq]
        else:
            unit = "M" if kind == "month" else "D"
            labels = np.datetime_as_string(uniq.astype(f"datetime64[{unit}]")).tolist()
        return list(zip(labels, counts.tolist(), strict=True))

    def months_spanned(self, mask: np.ndarray) -> int:
        """Return how many calendar months the dated documents in mask span (first to last)."""
        months = self.month[mask & self.has_date]
        if len(months) == 0:
            return 0
        return int(months.max() - months.min()) + 1


def assemble(
    fd: FacetData,
    base: np.ndarray,
    filters: dict[str, np.ndarray],
    dates: np.ndarray | None,
    final: np.ndarray,
    facet_limit: int,
    landing: dict[str, list[tuple[str, int]]] | None = None,
) -> tuple[dict[str, list[FacetValue]], dict[str, bool]]:
    """Return a result set's facets (values with counts) and which were cut at facet_limit.

    base is the query's documents, filters each facet filter's, dates the date range's, final
    all of them together. A term facet counts base AND the date range AND every OTHER filter
    (multi-select: a second section can be ticked); the date histogram counts the results
    themselves (drill-down narrows it). landing, when given, caches counts that are the same
    for every caller (the landing page: no query, no filter).
    """
    counted: dict[str, list[tuple[str, int]]] = {}
    for name in TERM_FACETS:
        if landing is not None and name in landing:
            counted[name] = landing[name]
            continue
        mask = base.copy() if dates is None else base & dates
        for other, m in filters.items():
            if other != name:
                mask &= m
        counted[name] = fd.count_terms(name, mask)
        if landing is not None:
            landing[name] = counted[name]
    for name in DATE_FACETS:
        if name == "day" and fd.months_spanned(final) > 2:
            continue
        if landing is not None and name in landing:
            counted[name] = landing[name]
            continue
        counted[name] = fd.count_dates(name, final)
        if landing is not None:
            landing[name] = counted[name]
    return cut_facets(counted, facet_limit)


def cut_facets(
    counted: dict[str, list[tuple[str, int]]], facet_limit: int
) -> tuple[dict[str, list[FacetValue]], dict[str, bool]]:
    """Return counted facets cut at facet_limit (0: all), and which were cut.

    Date facets are never cut: the histogram needs every bar. One index and the shards' merge
    (cluster/merge.py) both end here, so their pages cut alike.
    """
    facets: dict[str, list[FacetValue]] = {}
    truncated: dict[str, bool] = {}
    for name, values in counted.items():
        cut = values if facet_limit == 0 or name in DATE_FACETS else values[:facet_limit]
        facets[name] = [FacetValue(v, c) for v, c in cut]
        truncated[name] = len(cut) < len(values)
    return facets, truncated
