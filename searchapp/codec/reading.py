"""Whoosh's reader interfaces over a columnar segment (tables.py): terms, postings, per-doc.

Whoosh's own Searcher, query parser and merges use these classes; searchapp's hot paths
(postings.py) bypass the matcher and slice the arrays directly.
"""

from __future__ import annotations

import pickle
from bisect import bisect_left
from collections.abc import Iterator
from functools import cached_property
from typing import Any, cast

import numpy as np
from whoosh.codec import base
from whoosh.filedb.structfile import BufferFile
from whoosh.formats import Existence, Frequency, Positions
from whoosh.matching import Matcher, ReadTooFar
from whoosh.reading import TermInfo, TermNotFound
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length

from searchapp.codec.container import Container, DamagedFile
from searchapp.codec.tables import PERDOC_EXT, TERMS_EXT


def open_container(storage: Any, segment: Any, ext: str) -> Container:
    """Open one of a segment's files, memory-mapped when the storage is a folder."""
    name = segment.make_filename(ext)
    fpath = getattr(storage, "_fpath", None)
    if fpath is not None:
        return Container(fpath(name))
    with storage.open_file(name) as fh:
        return Container(name, data=fh.read())


class _TermTable:
    """Sorted term bytes as a sequence, for bisect (no dict built at open time)."""

    def __init__(self, blob: np.ndarray, offsets: np.ndarray) -> None:
        self._blob: Any = blob.tobytes() if len(blob) < 1 << 16 else memoryview(cast(Any, blob))
        self._off: Any = offsets.tolist() if len(offsets) < 1 << 16 else offsets

    def __len__(self) -> int:
        return len(self._off) - 1

    def __getitem__(self, i: int) -> bytes:
        return bytes(self._blob[int(self._off[i]) : int(self._off[i + 1])])


class ColumnarTermsReader(base.TermsReader):
    def __init__(self, storage: Any, segment: Any) -> None:
        self._c = c = open_container(storage, segment, TERMS_EXT)
        self._fields: dict[str, list[Any]] = c.meta["fields"]
        self._order = sorted(self._fields)
        self._table = _TermTable(c.array("term_blob"), c.array("term_off"))
        self.post_off = c.array("post_off")
        self.pos_off = c.array("pos_off")
        self.docs = c.array("docs")
        self.freqs = c.array("freqs")
        self.weights = c.array("weights")
        self.positions = c.array("positions")
        self._tot_weight = c.array("tot_weight")
        self._max_weight = c.array("max_weight")
        self._min_len = c.array("min_len")
        self._max_len = c.array("max_len")
        self._check_shape()
        self._words: dict[tuple[int, int], tuple[list[str], np.ndarray]] = {}
        self.fuzzy_cache: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def _check_shape(self) -> None:
        """Cheap consistency checks at open (checksums are `searchapp check`'s job)."""
        t = len(self._table)
        ok = (
            len(self.post_off) == len(self.pos_off) == t + 1
            and len(self._tot_weight) == len(self._min_len) == t
            and int(self.post_off[-1]) == len(self.docs) == len(self.freqs) == len(self.weights)
            and int(self.pos_off[-1]) == len(self.positions)
            and int(self._table._off[-1]) == len(self._table._blob)
        )
        ok = ok and all(0 <= lo <= hi <= t for lo, hi, *_rest in self._fields.values())
        if not ok:
            raise DamagedFile(f"{self._c.path}: its arrays do not fit together")

    # -- lookups -------------------------------------------------------------------------

    def index_of(self, fieldname: str, tbytes: bytes) -> int:
        """Return the term's row, or -1."""
        span = self._fields.get(fieldname)
        if span is None:
            return -1
        lo, hi = span[0], span[1]
        i = bisect_left(self._table, tbytes, lo, hi)
        return i if i < hi and self._table[i] == tbytes else -1

    def _info(self, i: int) -> TermInfo:
        a, b = int(self.post_off[i]), int(self.post_off[i + 1])
        return TermInfo(
            weight=float(self._tot_weight[i]),
            df=b - a,
            minlength=int(self._min_len[i]),
            maxlength=int(self._max_len[i]),
            maxweight=float(self._max_weight[i]),
            minid=int(self.docs[a]) if b > a else None,
            maxid=int(self.docs[b - 1]) if b > a else 0,
        )

    def __contains__(self, term: Any) -> bool:
        return self.index_of(term[0], term[1]) >= 0

    def indexed_field_names(self) -> list[str]:
        return list(self._order)

    def _rows_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, int]]:
        started = False
        for name in self._order:
            if name < fieldname:
                continue
            lo, hi = self._fields[name][0], self._fields[name][1]
            if not started and name == fieldname:
                lo = bisect_left(self._table, prefix, lo, hi)
            started = True
            for i in range(lo, hi):
                yield name, i

    def terms(self) -> Iterator[tuple[str, bytes]]:
        return ((n, self._table[i]) for n, i in self._rows_from("", b""))

    def terms_from(self, fieldname: str, prefix: bytes) -> Iterator[tuple[str, bytes]]:
        return ((n, self._table[i]) for n, i in self._rows_from(fieldname, prefix))

    def items(self) -> Iterator[tuple[tuple[str, bytes], TermInfo]]:
        return (((n, self._table[i]), self._info(i)) for n, i in self._rows_from("", b""))

    def items_from(self, fieldname: str, prefix: bytes) -> Iterator[Any]:
        rows = self._rows_from(fieldname, prefix)
        return (((n, self._table[i]), self._info(i)) for n, i in rows)

    def term_info(self, fieldname: str, tbytes: bytes) -> TermInfo:
        i = self.index_of(fieldname, tbytes)
        if i < 0:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return self._info(i)

    def frequency(self, fieldname: str, tbytes: bytes) -> float:
        i = self.index_of(fieldname, tbytes)
        if i < 0:
            raise KeyError(tbytes)
        return float(self._tot_weight[i])

    def doc_frequency(self, fieldname: str, tbytes: bytes) -> int:
        i = self.index_of(fieldname, tbytes)
        if i < 0:
            raise KeyError(tbytes)
        return int(self.post_off[i + 1] - self.post_off[i])

    def matcher(self, fieldname: str, tbytes: bytes, format_: Any, scorer: Any = None) -> Any:
        i = self.index_of(fieldname, tbytes)
        if i < 0:
            raise TermNotFound(f"No term {fieldname}:{tbytes!r}")
        return ColumnarMatcher(self, i, format_, (fieldname, tbytes), scorer)

    def cursor(self, fieldname: str, fieldobj: Any) -> Any:
        span = self._fields.get(fieldname, [0, 0])
        return ColumnarCursor(self, span[0], span[1], fieldobj)

    # -- arrays for postings.py ----------------------------------------------------------

    def slices(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return a term's (docs, freqs, weights) arrays."""
        a, b = int(self.post_off[i]), int(self.post_off[i + 1])
        return self.docs[a:b], self.freqs[a:b], self.weights[a:b]

    def field_words(self, lo: int, hi: int) -> tuple[list[str], np.ndarray]:
        """Return a field's terms decoded, and their lengths (cached for fuzzy expansion)."""
        cached = self._words.get((lo, hi))
        if cached is None:
            words = [self._table[i].decode("utf-8") for i in range(lo, hi)]
            lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
            cached = self._words[(lo, hi)] = (words, lengths)
        return cached

    def verify(self, doc_count: int) -> list[str]:
        """Check checksums, then that every offset and document number is in range."""
        problems = self._c.verify()
        if problems:
            return problems
        name = self._c.path
        for label, off, size in [
            ("term", self._table._off, len(self._table._blob)),
            ("postings", self.post_off, len(self.docs)),
            ("positions", self.pos_off, len(self.positions)),
        ]:
            arr = np.asarray(off)
            if (
                len(arr) != len(self._table) + 1
                or arr[0] != 0
                or np.any(np.diff(arr) < 0)
                or (arr[-1] != size)
            ):
                problems.append(f"{name}: {label} offsets are not consistent")
        if len(self.docs) and (self.docs.min() < 0 or self.docs.max() >= doc_count):
            problems.append(f"{name}: a posting names a document outside the segment")
        if not (len(self.docs) == len(self.freqs) == len(self.weights)):
            problems.append(f"{name}: posting arrays differ in length")
        return problems

    def close(self) -> None:
        self._c.close()


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


class ColumnarPerDocReader(base.PerDocumentReader):
    def __init__(self, storage: Any, segment: Any) -> None:
        self._segment = segment
        self._c = c = open_container(storage, segment, PERDOC_EXT)
        self._doccount: int = c.meta["doc_count"]
        self._stats: dict[str, list[int]] = c.meta["lengths"]
        self._columns: list[str] = c.meta["columns"]
        self._stored_off = c.array("stored_off")
        self._stored = c.raw("stored_blob")
        self._codes: dict[str, np.ndarray] = {}
        if len(self._stored_off) != self._doccount + 1 or int(self._stored_off[-1]) != len(
            self._stored
        ):
            raise DamagedFile(f"{c.path}: stored-field offsets do not fit the stories")

    def doc_count(self) -> int:
        return self._doccount - self._segment.deleted_count()

    def doc_count_all(self) -> int:
        return self._doccount

    def has_deletions(self) -> bool:
        return self._segment.has_deletions()

    def is_deleted(self, docnum: int) -> bool:
        return self._segment.is_deleted(docnum)

    def deleted_docs(self) -> Any:
        return self._segment.deleted_docs()

    def supports_columns(self) -> bool:
        return True

    def has_column(self, fieldname: str) -> bool:
        return fieldname in self._columns

    def list_columns(self) -> list[str]:
        return list(self._columns)

    def column_reader(self, fieldname: str, column: Any) -> Any:
        data = self._c.raw(f"col_{fieldname}")
        return column.reader(BufferFile(data), 0, len(data), self._doccount)

    def length_codes(self, fieldname: str) -> np.ndarray | None:
        """Return the one-byte length codes of a field, or None if it has no lengths."""
        name = f"len_{fieldname}"
        if name not in self._c:
            return None
        codes = self._codes.get(fieldname)
        if codes is None:
            codes = self._codes[fieldname] = self._c.array(name)
        return codes

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0) -> Any:
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum} of {self._doccount}")
        codes = self.length_codes(fieldname)
        if codes is None:
            return default
        code = int(codes[docnum])
        # Whoosh's own codec answers None for a zero length (not the default): same here.
        return byte_to_length(code) if code else None

    def field_length(self, fieldname: str) -> int:
        return self._stats.get(fieldname, [0, 0, 0])[0]

    def min_field_length(self, fieldname: str) -> int:
        return byte_to_length(self._stats.get(fieldname, [0, 0, 0])[1])

    def max_field_length(self, fieldname: str) -> int:
        return byte_to_length(self._stats.get(fieldname, [0, 0, 0])[2])

    def stored_fields(self, docnum: int) -> dict[str, Any]:
        a, b = int(self._stored_off[docnum]), int(self._stored_off[docnum + 1])
        return pickle.loads(self._stored[a:b]) if b > a else {}

    def verify(self) -> list[str]:
        """Check checksums, the stored-field offsets and the length arrays' sizes."""
        problems = self._c.verify()
        if problems:
            return problems
        off, n = self._stored_off, self._doccount
        if (
            len(off) != n + 1
            or off[0] != 0
            or np.any(np.diff(off) < 0)
            or (off[-1] != len(self._stored))
        ):
            problems.append(f"{self._c.path}: stored-field offsets are not consistent")
        for name in self._stats:
            codes = self.length_codes(name)
            if codes is None or len(codes) != n:
                problems.append(f"{self._c.path}: lengths of {name!r} do not cover every story")
        return problems

    def close(self) -> None:
        self._c.close()
