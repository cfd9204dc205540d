"""Duplicate stories: copies of one story collapse into one hit that lists the others.

Wire services re-send stories: Reuters holds exact copies and re-sends with a paragraph added
or a figure corrected, minutes apart ("STUDY GROUP URGES INCREASED U.S. OIL RESERVES" at 11:20
and 11:28). Two stories are copies when they have the same title (ignoring case and spacing),
the same UTC day, and near-identical bodies: at least CONTAINMENT of the shorter body's word
3-shingles also occur in the other (or both bodies are empty). Same-title stories with other
bodies ("WALL STREET STOCKS LOWER IN EARLY TRADING", hours apart) stay apart: they share under
a fifth of their shingles.

Cost: a story's title and body are only read when another story of the result set has the
same day and the same title length, which the generation's arrays give without reading
anything (a sort by (day, title length) made once per generation). Collapsing happens while a
page is filled: walking the results in order, each story not yet absorbed becomes a hit and
absorbs its copies from the rest of the result set. Totals and facets count stories, copies
included; exports keep every story.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from searchapp.generation import Generation, article_from_stored
from searchapp.lru import Lru

CONTAINMENT = 0.8
SHINGLE = 3
FINGERPRINT_CACHE = 4096
_WORDS = re.compile(r"\w+")
DAY = 86_400


class Fingerprint:
    """What two stories are compared by: the id, the normalised title, the body's shingles.

    The shingles are hashed on first use: most candidates of a block differ in title, and
    hashing every body was 70% of a deep page's time at 216k stories (page 20 of "oil":
    1.8 s, the time limit is 2 s; bench/cluster.py stopped on it).
    """

    __slots__ = ("_body", "_shingles", "id", "title")

    def __init__(self, id: str, title: str, body: str) -> None:
        self.id = id
        self.title = title
        self._body = body
        self._shingles: np.ndarray | None = None

    @property
    def shingles(self) -> np.ndarray:
        """Sorted unique int64 hashes of the body's word 3-grams (per process, never stored)."""
        if self._shingles is None:
            # Two threads may both compute it: the same value, so no lock.
            words = _WORDS.findall(self._body.casefold())
            grams = {tuple(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1))}
            self._shingles = np.unique(np.fromiter((hash(g) for g in grams if g), dtype=np.int64))
            self._body = ""
        return self._shingles


def fingerprint(article: Any) -> Fingerprint:
    """Return a story's fingerprint."""
    return Fingerprint(article.id, " ".join(article.title.casefold().split()), article.body)


def same_story(a: Fingerprint, b: Fingerprint) -> bool:
    """Return whether two stories (already known to share a day) are copies of one story."""
    if a.title != b.title:
        return False
    if len(a.shingles) == 0 or len(b.shingles) == 0:
        return len(a.shingles) == len(b.shingles)
    shared = len(np.intersect1d(a.shingles, b.shingles, assume_unique=True))
    return shared >= CONTAINMENT * min(len(a.shingles), len(b.shingles))


class Dupes:
    """One generation's candidate blocks (same day, same title length) and fingerprints."""

    def __init__(self, gen: Generation, searcher: Any) -> None:
        fd = gen.facets
        title_lengths = gen.lengths(searcher, "title")
        if title_lengths is None:
            tlen = np.zeros(fd.n, dtype=np.int64)
        else:
            tlen = np.minimum(np.round(title_lengths).astype(np.int64), 4095)
        # Undated stories are never copies of each other (they share no date): key -1 each
        # would make one huge block, so they get no key at all (see block()).
        key = np.where(fd.has_date, (fd.ts // DAY) * 4096 + tlen, -1)
        self.order = np.argsort(key, kind="stable")
        self.keys = key[self.order]
        self.key = key
        self._prints: Lru[int, Fingerprint] = Lru(FINGERPRINT_CACHE)

    def block(self, doc: int) -> np.ndarray:
        """Return the documents with doc's day and title length (doc included)."""
        k = self.key[doc]
        if k < 0:
            return np.zeros(0, dtype=np.int64)
        lo, hi = np.searchsorted(self.keys, [k, k + 1])
        return self.order[lo:hi]

    def fingerprint(self, searcher: Any, doc: int) -> Fingerprint:
        """Return a document's fingerprint, read once and kept (bounded)."""
        found = self._prints.get(doc)
        if found is not None:
            return found
        fp = fingerprint(article_from_stored(searcher.stored_fields(doc)))
        self._prints.put(doc, fp)
        return fp

    def copies(self, searcher: Any, doc: int, final: np.ndarray, taken: set[int]) -> list[int]:
        """Return the other results that are copies of doc, in document order."""
        block = self.block(doc)
        if len(block) < 2:
            return []
        others = [int(d) for d in block[final[block]] if d != doc and int(d) not in taken]
        if not others:
            return []
        mine = self.fingerprint(searcher, doc)
        return sorted(d for d in others if same_story(mine, self.fingerprint(searcher, d)))


_PER_GENERATION: weakref.WeakKeyDictionary[Generation, Dupes] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def for_generation(gen: Generation, searcher: Any) -> Dupes:
    """Return the generation's Dupes (built on first use, dropped with the generation)."""
    with _LOCK:
        found = _PER_GENERATION.get(gen)
    if found is None:
        found = Dupes(gen, searcher)
        with _LOCK:
            found = _PER_GENERATION.setdefault(gen, found)
    return found


Ordered = Callable[[Any, Any, int], list[tuple[int, float | None]]]


def collapse(
    ev: Any, sel: Any, ordered: Ordered, lo: int, per_page: int
) -> tuple[list[tuple[int, float | None]], dict[int, list[int]]]:
    """Return the page's hits as (docnum, score) after folding copies, and each hit's copies.

    The walk starts from the first result on every page, so a story absorbed on page 1 never
    reappears on page 2. When copies were folded the results run short: ask for more.
    """
    d = for_generation(ev.gen, ev.searcher)
    want = lo + per_page
    need = want
    while True:
        picked = ordered(ev, sel, need)
        hits: list[tuple[int, float | None]] = []
        copies: dict[int, list[int]] = {}
        taken: set[int] = set()
        for docnum, score in picked:
            if docnum in taken:
                continue
            ev.deadline.check()
            found = d.copies(ev.searcher, docnum, sel.final, taken)
            taken.update(found)
            taken.add(docnum)
            hits.append((docnum, score))
            if found:
                copies[docnum] = found
            if len(hits) == want:
                break
        if len(hits) >= want or len(picked) < need:
            page = hits[lo:]
            return page, {doc: copies[doc] for doc, _ in page if doc in copies}
        need += want - len(hits)


def copy_ids(ev: Any, copies: dict[int, list[int]]) -> dict[int, tuple[str, ...]]:
    """Return each hit's copies as story ids, in id order (document numbers depend on how an
    index was built: a sharded index lists them alike, searchapp/cluster/fold.py)."""
    d = for_generation(ev.gen, ev.searcher)
    return {
        doc: tuple(sorted(d.fingerprint(ev.searcher, c).id for c in others))
        for doc, others in copies.items()
    }
