"""Fast fuzzy expansion: the words of a field within N edits of a word, found with numpy.

Whoosh expands ``word~2`` by computing an edit distance in Python against every word of the
field (a multi-segment reader), or by stepping a Levenshtein automaton through the lexicon (a
single segment): ~1.1 s for ``kremlin~2`` on Reuters. Here each segment's lexicon is read once
into arrays (word lengths and a 32-bucket letter histogram per word) and cached; a query keeps
only the words a cheap, exact bound cannot rule out, then checks those with Whoosh's own
Damerau-Levenshtein distance (the optimal-string-alignment form, transpositions cost 1), so the
words found are the ones Whoosh's FuzzyTerm finds on a multi-segment index (tested).

The bound: an insertion or deletion changes one letter count by 1 and the length by 1, a
substitution changes two counts by 1, a transposition none; so a word within k edits differs
in length by at most k and in letter histogram (L1) by at most 2k. Merging letters into 32
buckets and capping counts at 255 only shrinks that L1 distance, so the bound stays safe.

Whoosh's single-segment automaton has no transposition step (``kremiln~1`` misses "kremlin"
there but finds it on a multi-segment index): this expansion treats both alike.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query
from whoosh.qparser import FuzzyTermPlugin

from searchapp.lru import Lru

BUCKETS = 32
# Segment lexicons kept in memory (one per segment and field); a generation of ~10 segments
# and 6 searched fields needs 60.
LEXICON_CACHE = 256
EXPANSION_CACHE = 512


@dataclass(frozen=True)
class Lexicon:
    """One segment's words of one field with, in order of word length, their letter histograms.

    ``words`` stay in lexicon (code point) order, so a prefix is a bisect range; ``by_len``
    lists them shortest first, so a length window is a slice and its histograms a view.
    """

    words: list[str]
    lengths: np.ndarray  # int64, one per word, in lexicon order
    by_len: np.ndarray  # int64 word numbers, shortest word first
    len_starts: np.ndarray  # int64: by_len[len_starts[L]:len_starts[L + 1]] have length L
    rank: np.ndarray  # int64: position of each word number in by_len
    hist: np.ndarray  # int16 (words, BUCKETS) in by_len order: letter counts by bucket
    codes: np.ndarray  # uint32: every word's code points, one after another
    starts: np.ndarray  # int64: where each word starts in codes

    @classmethod
    def from_words(cls, words: list[str], hist: np.ndarray | None = None) -> Lexicon:
        """Build the arrays in a few numpy passes (no Python loop over letters).

        hist, when given, is these words' Lexicon.hist kept from an earlier build: counting
        the letters is most of the build (~30 ms for Reuters' bodies at 216k, per process).
        """
        lengths, codes = _lengths_and_codes(words)
        by_len = np.argsort(lengths, kind="stable")
        if hist is None or hist.shape != (len(words), BUCKETS) or hist.dtype != np.int16:
            hist = letter_histograms(codes, lengths)[by_len]
        longest = int(lengths.max()) if len(words) else 0
        len_starts = np.searchsorted(lengths[by_len], np.arange(longest + 2), side="left")
        rank = np.empty(len(words), dtype=np.int64)
        rank[by_len] = np.arange(len(words))
        starts = np.cumsum(lengths) - lengths
        hist = np.ascontiguousarray(hist)
        return cls(words, lengths, by_len, len_starts, rank, hist, codes, starts)

    def within(self, text: str, maxdist: int, prefix: int = 0) -> list[str]:
        """Return the words within maxdist edits of text that start with its first `prefix`
        letters (Whoosh's FuzzyTerm semantics), in lexicon order."""
        want = histogram(text).astype(np.int16)
        head = text[:prefix]
        if head:
            lo = bisect.bisect_left(self.words, head)
            # Every word starting with head sorts before head + the highest code point.
            hi = bisect.bisect_left(self.words, head + "\U0010ffff", lo)
            nums = np.arange(lo, hi, dtype=np.int64)
            nums = nums[np.abs(self.lengths[lo:hi] - len(text)) <= maxdist]
            hists = self.hist[self.rank[nums]]
        else:
            top = len(self.len_starts) - 1
            a = self.len_starts[min(max(len(text) - maxdist, 0), top)]
            b = self.len_starts[min(len(text) + maxdist + 1, top)]
            nums, hists = self.by_len[a:b], self.hist[a:b]
        if len(nums) == 0:
            return []
        nums = nums[np.abs(hists - want).sum(axis=1) <= 2 * maxdist]
        if len(nums) == 0:
            return []
        lengths = self.lengths[nums]
        # The survivors' letters as a padded matrix, straight from the flat code array.
        cols = np.arange(int(lengths.max()))
        idx = self.starts[nums][:, None] + cols[None, :]
        letters = np.where(
            cols[None, :] < lengths[:, None],
            self.codes[np.minimum(idx, len(self.codes) - 1)].astype(np.int64),
            -1,
        )
        near = osa_within(letters, lengths, text, maxdist)
        return [self.words[i] for i in np.sort(nums[near]).tolist()]


def _lengths_and_codes(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return the words' lengths (int64) and their code points one after another (uint32).

    Split at the line breaks of the words joined by them: no Python call per word (a per-word
    len() was ~4 ms a process for Reuters' lexicons at 216k). A word holding a line break
    itself takes the per-word way."""
    flat = np.frombuffer("\n".join(words).encode("utf-32-le"), dtype=np.uint32)
    breaks = np.flatnonzero(flat == 10)
    if len(breaks) == len(words) - 1:
        bounds = np.concatenate((np.array([-1]), breaks, np.array([len(flat)])))
        return np.diff(bounds).astype(np.int64) - 1, flat[flat != 10]
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    return lengths, np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)


def letter_histograms(codes: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Return each word's letter counts by bucket (int16, one row per word, capped at 255)
    from the words' code points one after another and their lengths."""
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    flat = np.bincount(owner * BUCKETS + (codes & (BUCKETS - 1)), minlength=len(lengths) * BUCKETS)
    return np.minimum(flat, 255).astype(np.int16).reshape(len(lengths), BUCKETS)


def histogram(text: str) -> np.ndarray:
    """Return a word's letter counts by bucket (as in Lexicon.hist)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    return np.minimum(np.bincount(codes & (BUCKETS - 1), minlength=BUCKETS), 255)


def letter_matrix(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return words as a matrix of code points padded with -1, and their lengths."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    letters = np.full((len(words), int(lengths.max()) if len(words) else 0), -1, dtype=np.int64)
    codes = np.frombuffer("".join(words).encode("utf-32-le"), dtype=np.uint32)
    rows = np.repeat(np.arange(len(words)), lengths)
    cols = np.arange(len(codes)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    letters[rows, cols] = codes
    return letters, lengths


def osa_within(letters: np.ndarray, lengths: np.ndarray, text: str, maxdist: int) -> np.ndarray:
    """Return, for each word (rows of code points padded with -1), whether its
    optimal-string-alignment distance to text is at most maxdist.

    That distance is Damerau-Levenshtein where an adjacent transposition costs 1 and no
    substring is edited twice: whoosh.support.levenshtein's ``distance``, which Whoosh's
    FuzzyTerm uses on a multi-segment index. The dynamic programme runs over the letters of the
    words (rows) and of text (columns), each cell a vector over all the words. Only the band
    of cells within maxdist of the diagonal can stay within maxdist, and every value is capped
    at maxdist + 1: both keep "at most maxdist" exact (costs only grow along a path).
    """
    n, m, k = len(letters), len(text), maxdist
    if n == 0:
        return np.zeros(0, dtype=bool)
    cap = k + 1
    t = [ord(c) for c in text]
    out = np.zeros(n, dtype=bool)
    out[lengths == 0] = m <= k
    prev2 = None
    prev = np.minimum(np.tile(np.arange(m + 1, dtype=np.int64), (n, 1)), cap)
    for i in range(1, letters.shape[1] + 1):
        cur = np.full((n, m + 1), cap, dtype=np.int64)
        cur[:, 0] = min(i, cap)
        a = letters[:, i - 1]
        for j in range(max(1, i - k), min(m, i + k) + 1):
            best = np.minimum(prev[:, j] + 1, cur[:, j - 1] + 1)
            best = np.minimum(best, prev[:, j - 1] + (a != t[j - 1]))
            if prev2 is not None and j > 1:
                swap = (a == t[j - 2]) & (letters[:, i - 2] == t[j - 1]) & (a != t[j - 1])
                if swap.any():
                    best = np.where(swap, np.minimum(best, prev2[:, j - 2] + 1), best)
            cur[:, j] = np.minimum(best, cap)
        done = lengths == i
        out[done] = cur[done, m] <= k
        prev2, prev = prev, cur
    return out


_LEXICONS: Lru[tuple[str, str, str], Lexicon] = Lru(LEXICON_CACHE)
_EXPANSIONS: Lru[tuple[Any, ...], list[str]] = Lru(EXPANSION_CACHE)


def _segment_key(reader: Any) -> tuple[str, str] | None:
    """Return (folder, segment id) naming a segment reader's files, None when it has none."""
    segment = reader.segment() if hasattr(reader, "segment") else None
    if segment is None:
        return None
    folder = getattr(reader._storage, "folder", None) or str(id(reader._storage))
    return str(folder), str(segment.segment_id())


def segment_lexicon(reader: Any, fieldname: str) -> Lexicon:
    """Return a segment's lexicon of a field, read once and cached (segments never change)."""
    seg = _segment_key(reader)
    key = (*seg, fieldname) if seg is not None else None
    found = _LEXICONS.get(key) if key is not None else None
    if found is not None:
        return found
    words = _cached_words(reader, fieldname, seg)
    path = Path(seg[0]) / f"lexicon-{seg[1]}-{fieldname}.hist.npz" if seg is not None else None
    crc = zlib.crc32("\n".join(words).encode("utf-8"))
    saved = _saved_hist(path, crc)
    lex = Lexicon.from_words(words, saved)
    if path is not None and saved is None:
        _save_hist(path, crc, lex.hist)
    if key is not None:
        _LEXICONS.put(key, lex)
    return lex


def _cached_words(reader: Any, fieldname: str, seg: tuple[str, str] | None) -> list[str]:
    """Return a segment's words of a field from the file beside the segment, or from Whoosh.

    Whoosh hands out a lexicon one Python call per word (0.6 s for Reuters' bodies); the
    words are written once beside the segment (``lexicon-<segment>-<field>.txt``, one a line)
    so a restarted server or a new generation reads them back in a few milliseconds.
    """
    path = Path(seg[0]) / f"lexicon-{seg[1]}-{fieldname}.txt" if seg is not None else None
    if path is not None and path.exists():
        with contextlib.suppress(OSError, UnicodeDecodeError):
            text = path.read_text(encoding="utf-8")
            return text.split("\n") if text else []
    field = reader.schema[fieldname]
    words = [field.from_bytes(b) for b in reader.lexicon(fieldname)]
    # Words of the searched fields are runs of letters and digits, never empty or holding a
    # line break; a field where one is would not read back the same, so it is not cached.
    if path is not None and path.parent.is_dir() and not any("\n" in w or not w for w in words):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with contextlib.suppress(OSError):  # a read-only index still works, just slower
            tmp.write_text("\n".join(words), encoding="utf-8")
            os.replace(tmp, path)
    return words


def _saved_hist(path: Path | None, crc: int) -> np.ndarray | None:
    """Return the letter histograms saved beside a segment for words whose text (joined by
    line breaks) has this CRC-32, or None (no file, another word list, unreadable)."""
    if path is None:
        return None
    with (
        contextlib.suppress(OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile),
        np.load(path, allow_pickle=False) as data,
    ):
        if int(data["crc"][0]) == crc:
            return np.asarray(data["hist"])
    return None


def _save_hist(path: Path, crc: int, hist: np.ndarray) -> None:
    """Keep a lexicon's letter histograms beside its segment (atomic; a read-only index
    still works, just slower), so that the next process need not count them again."""
    if not path.parent.is_dir():
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with contextlib.suppress(OSError):
        with open(tmp, "wb") as fh:
            np.savez(fh, crc=np.array([crc], dtype=np.uint32), hist=hist)
        os.replace(tmp, path)


def terms_within(
    reader: Any, fieldname: str, text: str, maxdist: int, prefix: int = 0
) -> list[str]:
    """Return the field's words within maxdist edits of text, sorted (every segment's, once)."""
    if fieldname not in reader.schema:
        return []
    leaves = [r for r, _offset in reader.leaf_readers()]
    segs = [_segment_key(r) for r in leaves]
    key: tuple[Any, ...] | None = None
    if all(s is not None for s in segs):
        key = (tuple(segs), fieldname, text, maxdist, prefix)
        found = _EXPANSIONS.get(key)
        if found is not None:
            return found
    words: set[str] = set()
    for leaf in leaves:
        words.update(segment_lexicon(leaf, fieldname).within(text, maxdist, prefix))
    out = sorted(words)
    if key is not None:
        _EXPANSIONS.put(key, out)
    return out


def forget(folder: str) -> None:
    """Drop the cached lexicons and expansions of one index generation's folder."""
    _LEXICONS.drop(lambda k: k[0] == folder)
    _EXPANSIONS.drop(lambda k: any(s[0] == folder for s in k[0]))


class FastFuzzyTerm(query.FuzzyTerm):  # type: ignore[misc]
    """Whoosh's FuzzyTerm, expanded by terms_within instead of a Python walk of the lexicon.

    Every user of the expansion (the cost guard, the evaluator, snippets, Whoosh's own
    matcher) goes through ``_btexts``, so overriding it is enough.
    """

    def _btexts(self, ixreader: Any) -> list[str]:
        return terms_within(
            ixreader, self.fieldname, self.text, int(self.maxdist), int(self.prefixlength)
        )


class FastFuzzyTermPlugin(FuzzyTermPlugin):  # type: ignore[misc]
    """The parser's ``word~N`` / ``word~N/P`` syntax, producing FastFuzzyTerm queries."""

    class FuzzyTermNode(FuzzyTermPlugin.FuzzyTermNode):  # type: ignore[misc]
        qclass = FastFuzzyTerm
