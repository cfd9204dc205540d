"""One index generation as the search side sees it: the opened index, a searcher per thread,
the facet arrays, the newest/oldest orders and the caches derived from them.

A generation's files never change once its TOC is written, so everything here is computed once
per (generation directory, TOC) and shared by every thread. Each thread keeps its own Whoosh
searcher (one Searcher shared by threads fails ~1 in 15 searches), and a changed index is met
with a fresh Generation, never ``Searcher.refresh()`` (which resurrects deleted stories): see
docs/whoosh-notes.md.
"""

from __future__ import annotations

import json
import pickle
import struct
import threading
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from searchapp import store
from searchapp.facets import FacetData
from searchapp.lru import Lru
from searchapp.models import Article
from searchapp.postings import field_lengths, leaf_postings, raw_postings

TERM_CACHE_SIZE = 512


class Damaged(ValueError):
    """Index data that decodes to nonsense (a corrupt stored record)."""


# What a damaged index file raises when decoded (a truncated TOC, a corrupt segment).
DAMAGE = (OSError, EOFError, zlib.error, struct.error, pickle.UnpicklingError, Damaged)


def article_from_stored(stored: dict[str, Any]) -> Article:
    """Rebuild an Article from its stored JSON blob (the agency's UTC offset restored)."""
    try:
        data = json.loads(stored["doc"])
        if not isinstance(data, dict) or "id" not in data:
            raise Damaged("a stored story is not a JSON object with an id")
    except (KeyError, TypeError, ValueError) as exc:
        raise Damaged(f"a stored story cannot be read: {exc}") from exc
    when = None
    if data.get("date"):
        when = datetime.fromisoformat(data["date"])
        offset = data.get("utc_offset_min", 0)
        when = when.astimezone(timezone(timedelta(minutes=offset)))
    return Article(
        id=data["id"],
        title=data.get("title", ""),
        lead=data.get("lead", ""),
        body=data.get("body", ""),
        date=when,
        section=data.get("section", ""),
        topics=tuple(data.get("topics", ())),
        persons=tuple(data.get("persons", ())),
        place=data.get("place", ""),
        photo_credit=data.get("photo_credit", ""),
        source=stored.get("source", ""),
        title_made=bool(data.get("title_made")),
    )


def _orders(fd: FacetData) -> tuple[np.ndarray, np.ndarray]:
    # Undated stories go last in both orders; equal dates fall back to document number.
    docs = np.arange(fd.n)
    undated = ~fd.has_date
    newest = np.lexsort((-docs, -fd.ts, undated))
    oldest = np.lexsort((docs, fd.ts, undated))
    return newest, oldest


class Generation:
    """Everything derived from one index generation (one TOC of one gen directory)."""

    def __init__(self, gen: Path, ix: Any, term_cache_size: int = TERM_CACHE_SIZE) -> None:
        self.gen = gen
        self.ix = ix
        self.toc: int = ix.latest_generation()
        # The searcher that reads the facet arrays is kept as the opening thread's searcher:
        # a one-query process opens one, not two.
        searcher = ix.searcher()
        self.facets = FacetData(gen, searcher)
        # The date orders (two sorts of every story) are made on first use: a relevance search
        # never needs them.
        self._date_orders: tuple[np.ndarray, np.ndarray] | None = None
        # Decoded posting lists kept per generation (0 = none: every search reads the index).
        self.term_cache_size = term_cache_size
        self._terms: Lru[tuple[str, str], tuple[np.ndarray, np.ndarray]] = Lru(term_cache_size)
        # Facet counts of the landing page (no query, no filter), the same for every visitor.
        self.landing: dict[str, list[tuple[str, int]]] = {}
        self._lengths: dict[str, np.ndarray | None] = {}
        self._avg_lengths: dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._local.searcher = searcher

    @property
    def newest(self) -> np.ndarray:
        """Document numbers newest first (undated stories last)."""
        return self._orders()[0]

    @property
    def oldest(self) -> np.ndarray:
        """Document numbers oldest first (undated stories last)."""
        return self._orders()[1]

    def _orders(self) -> tuple[np.ndarray, np.ndarray]:
        orders = self._date_orders
        if orders is None:
            # Two threads may both sort the first time: the same arrays, one kept.
            orders = self._date_orders = _orders(self.facets)
        return orders

    @classmethod
    def open(cls, index_dir: Path, term_cache_size: int = TERM_CACHE_SIZE) -> Generation:
        """Open the live generation of an index directory."""
        gen, ix = store.open_generation(index_dir)
        return cls(gen, ix, term_cache_size)

    def is_current(self, index_dir: Path) -> bool:
        """Return whether this is still the live generation, at the same TOC."""
        if store.current_generation(index_dir) != self.gen:
            return False
        try:
            return bool(self.ix.latest_generation() == self.toc)
        except OSError:
            return False

    def searcher(self) -> Any:
        """Return this thread's searcher (created on first use; released with the Generation)."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is None:
            searcher = self.ix.searcher()
            self._local.searcher = searcher
        return searcher

    def forget_searcher(self) -> None:
        """Drop this thread's searcher (after an error, so the next call opens a fresh one)."""
        self._local.searcher = None

    # -- per-generation caches over the index's data ----------------------------------------

    def postings(self, searcher: Any, fieldname: str, text: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return a term's document numbers and weights (term frequencies), cached per term."""
        key = (fieldname, text)
        hit = self._terms.get(key)
        if hit is not None:
            return hit
        id_parts, weight_parts = [], []
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            btext = reader.schema[fieldname].to_bytes(text)
            if (fieldname, btext) in reader:
                ids, weights = leaf_postings(raw_postings(reader, fieldname, btext))
                id_parts.append(ids + offset)
                weight_parts.append(weights)
        if id_parts:
            found = (np.concatenate(id_parts), np.concatenate(weight_parts))
        else:
            found = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        self._terms.put(key, found)
        return found

    def lengths(self, searcher: Any, fieldname: str) -> np.ndarray | None:
        """Return every document's length in a field (as Whoosh stores it), or None."""
        with self._lock:
            if fieldname in self._lengths:
                return self._lengths[fieldname]
        parts = [field_lengths(sub.reader(), fieldname) for sub, _ in searcher.leaf_searchers()]
        arrays = [p for p in parts if p is not None]
        lengths = np.concatenate(arrays) if arrays and len(arrays) == len(parts) else None
        with self._lock:
            self._lengths[fieldname] = lengths
        return lengths

    def avg_length(self, searcher: Any, fieldname: str) -> float:
        """Return a field's mean length over all documents (Whoosh's avg_field_length)."""
        avg = self._avg_lengths.get(fieldname)
        if avg is None:
            avg = searcher.reader().field_length(fieldname) / (self.facets.n or 1) or 1.0
            self._avg_lengths[fieldname] = avg
        return avg
