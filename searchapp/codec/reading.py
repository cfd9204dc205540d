"""Whoosh's reader interfaces over a columnar segment (tables.py): terms, postings, per-doc.

Whoosh's own Searcher, query parser and merges use these classes; searchapp's hot paths
(postings.py) bypass the matcher and slice the arrays directly.
"""

from __future__ import annotations

import pickle
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any, cast

import numpy as np
from whoosh.codec import base
from whoosh.filedb.structfile import BufferFile
from whoosh.reading import TermInfo, TermNotFound
from whoosh.util.numeric import byte_to_length

from searchapp.codec.container import Container, DamagedFile
from searchapp.codec.matching import ColumnarCursor, ColumnarMatcher
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
