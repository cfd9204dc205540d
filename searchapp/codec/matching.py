"""Whoosh's matcher, term cursor and fuzzy automata over a columnar segment's arrays.

ColumnarTermsReader (reading.py) hands these out; a matcher reads a term's postings as slices
of the segment's memory-mapped arrays (no unpickling), the cursor and the automata walk the
sorted term table for Whoosh's prefix and fuzzy expansion.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from whoosh.codec import base
from whoosh.formats import Existence, Frequency, Positions
from whoosh.matching import Matcher, ReadTooFar
from whoosh.system import pack_uint

if TYPE_CHECKING:
    from searchapp.codec.reading import ColumnarTermsReader


class ColumnarCursor(base.FieldCursor):
    """Walks one field's terms in order (Whoosh's fuzzy and prefix expansion use it)."""

    def __init__(self, tr: ColumnarTermsReader, lo: int, hi: int, fieldobj: Any) -> None:
        self._tr, self._lo, self._hi, self._fieldobj = tr, lo, hi, fieldobj
        self._i = lo

    def first(self) -> Any:
        self._i = self._lo
        return self.text()

    def find(self, term: Any) -> Any:
        if not isinstance(term, bytes):
            term = self._fieldobj.to_bytes(term)
        self._i = bisect_left(self._tr._table, term, self._lo, self._hi)
        return self.text()

    def next(self) -> Any:
        if self._i < self._hi:
            self._i += 1
        return self.text()

    def is_valid(self) -> bool:
        return self._i < self._hi

    def text(self) -> Any:
        if self._i >= self._hi:
            return None
        return self._fieldobj.from_bytes(self._tr._table[self._i])

    def term_info(self) -> Any:
        return self._tr._info(self._i) if self._i < self._hi else None

    def within(
        self, uterm: str, maxdist: int, prefix: int = 0, transpositions: bool = True
    ) -> list[str]:
        """Return this field's terms within maxdist edits of uterm, the first prefix
        characters equal (see levenshtein_within for what an edit is)."""
        table, lo, hi = self._tr._table, self._lo, self._hi
        words, lengths = self._tr.field_words(lo, hi)
        head = uterm[:prefix].encode("utf-8")
        a, b = lo, hi
        if head:
            # UTF-8 never holds 0xFF: every term starting with head sorts before head+0xFF.
            a = bisect_left(table, head, lo, hi)
            b = bisect_left(table, head + b"\xff", a, hi)
        key = (lo, hi, uterm, maxdist, prefix, transpositions)
        hit = self._tr.fuzzy_cache.get(key)
        if hit is not None:
            return list(hit)
        near = np.flatnonzero(np.abs(lengths[a - lo : b - lo] - len(uterm)) <= maxdist)
        cut = len(uterm[:prefix])
        candidates = [words[a - lo + i] for i in near.tolist()]
        tails = [w[cut:] for w in candidates]
        ok = levenshtein_within(tails, uterm[cut:], maxdist, transpositions)
        found = [w for w, good in zip(candidates, ok.tolist(), strict=True) if good]
        # One search expands a word three times (guard, scoring, snippets): keep a few.
        cache = self._tr.fuzzy_cache
        if len(cache) > 256:
            cache.clear()
        cache[key] = tuple(found)
        return found


class ColumnarAutomata(base.Automata):
    """Fuzzy term expansion over a columnar field: numpy edit distances, no DFA walk."""

    def terms_within(self, fieldcur: Any, uterm: str, maxdist: int, prefix: int = 0) -> Any:
        if not isinstance(fieldcur, ColumnarCursor):
            return super().terms_within(fieldcur, uterm, maxdist, prefix)
        # Whoosh's one-segment expansion is a Levenshtein DFA: no transpositions.
        return fieldcur.within(uterm, maxdist, prefix, transpositions=False)


def levenshtein_within(
    words: list[str], target: str, maxdist: int, transpositions: bool = True
) -> np.ndarray:
    """Return a mask of the words within maxdist edits of target, one numpy row per word.

    Edits are insertions, deletions, substitutions and, with transpositions, swaps of two
    adjacent characters (optimal string alignment). Whoosh counts a swap as one edit on a
    multi-segment reader (damerau_levenshtein) and as two on a one-segment one (its DFA);
    callers choose to match.
    """
    if not words:
        return np.zeros(0, dtype=bool)
    width = max(1, max(map(len, words)))
    grid = np.array(words, dtype=f"<U{width}").view(np.uint32).reshape(len(words), width)
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    # prev[:, j] = distance between target[:i] and word[:j], for every word at once.
    prev = np.broadcast_to(np.arange(width + 1), (len(words), width + 1)).copy()
    before = prev
    codes = [ord(ch) for ch in target]
    for i, code in enumerate(codes, 1):
        cur = np.empty_like(prev)
        cur[:, 0] = i
        # Deletion and substitution candidates for every column at once; only the insertion
        # (from the left neighbour) has to run column by column.
        best = np.minimum(prev[:, 1:] + 1, prev[:, :-1] + (grid != code))
        if transpositions and i > 1:
            swap = (grid[:, :-1] == code) & (grid[:, 1:] == codes[i - 2])
            best[:, 1:] = np.where(swap, np.minimum(best[:, 1:], before[:, :-2] + 1), best[:, 1:])
        for j in range(1, width + 1):
            cur[:, j] = np.minimum(best[:, j - 1], cur[:, j - 1] + 1)
        before, prev = prev, cur
    return prev[np.arange(len(words)), lengths] <= maxdist


class ColumnarMatcher(Matcher):
    """A term's postings as arrays, through Whoosh's Matcher interface."""

    def __init__(
        self,
        tr: ColumnarTermsReader,
        row: int,
        format_: Any,
        term: Any,
        scorer: Any,
        position: int = 0,
    ) -> None:
        self._tr, self._row, self._format, self._term, self._scorer = tr, row, format_, term, scorer
        _docs, freqs, weights = tr.slices(row)
        self._freqs = freqs
        self._weights = weights
        self._i = position
        self._posstart: np.ndarray | None = None

    @cached_property
    def _ids(self) -> list[int]:
        # A Python list only when Whoosh steps through the matcher; postings.py slices arrays.
        return self._tr.slices(self._row)[0].tolist()  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<ColumnarMatcher {self._term!r}>"

    def is_active(self) -> bool:
        return self._i < len(self._ids)

    def reset(self) -> None:
        self._i = 0

    def id(self) -> int:
        return self._ids[self._i]

    def next(self) -> None:
        if self._i >= len(self._ids):
            raise ReadTooFar
        self._i += 1

    def skip_to(self, id: int) -> None:
        if not self.is_active():
            raise ReadTooFar
        if id > self._ids[self._i]:
            self._i = bisect_left(self._ids, id, self._i)

    def all_ids(self) -> Iterator[int]:
        return iter(self._ids[self._i :])

    def term(self) -> Any:
        return self._term

    def copy(self) -> ColumnarMatcher:
        return ColumnarMatcher(self._tr, self._row, self._format, self._term, self._scorer, self._i)

    def replace(self, minquality: float = 0) -> Any:
        from whoosh.matching import NullMatcher

        return self if self.is_active() else NullMatcher()

    def supports_block_quality(self) -> bool:
        return False

    def weight(self) -> float:
        return float(self._weights[self._i])

    def score(self) -> float:
        return self._scorer.score(self)

    def supports(self, astype: str) -> bool:
        return self._format.supports(astype)

    def positions(self) -> list[int]:
        """Return the current posting's positions."""
        if self._posstart is None:
            csum = np.zeros(len(self._freqs) + 1, dtype=np.int64)
            np.cumsum(self._freqs, out=csum[1:])
            self._posstart = csum + int(self._tr.pos_off[self._row])
        a, b = self._posstart[self._i], self._posstart[self._i + 1]
        return self._tr.positions[a:b].tolist()

    def value_as(self, astype: str) -> Any:
        if astype == "positions":
            return self.positions()
        if astype == "frequency":
            return int(self._freqs[self._i])
        if astype == "weight":
            return self.weight()
        if astype == "position_boosts":
            return [(p, 1) for p in self.positions()]
        return self._format.decoder(astype)(self.value())

    def value(self) -> bytes | None:
        fmt = self._format
        if isinstance(fmt, Positions) and type(fmt).encode is Positions.encode:
            return fmt.encode(self.positions())
        if isinstance(fmt, Existence):
            return None  # as Whoosh's own codec
        if isinstance(fmt, Frequency):
            return pack_uint(int(self._freqs[self._i]))
        raise TypeError(f"the columnar codec cannot encode {type(fmt).__name__} values")
