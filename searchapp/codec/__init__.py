"""A columnar storage engine inside Whoosh: a Codec whose segments are numpy arrays.

``ColumnarCodec`` is registered on each segment it writes (Whoosh pickles the codec with the
segment in the TOC), so Whoosh's own Searcher, query parser, writer and merges read and write
these segments through its ordinary interfaces. Two ways in:

* document by document, through Whoosh's SegmentWriter (small updates, merges):
  ``ix.writer(codec=ColumnarCodec())``; the writers below buffer a segment and write its
  arrays at close;
* a whole segment at once from articles (bulk.py), for full rebuilds.

The file layout is described in tables.py and docs/codec.md.
"""

from __future__ import annotations

import io
import pickle
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.codec import base
from whoosh.codec.whoosh3 import W3Segment
from whoosh.filedb.structfile import StructFile
from whoosh.formats import Positions

from searchapp.codec.matching import ColumnarAutomata
from searchapp.codec.reading import ColumnarPerDocReader, ColumnarTermsReader
from searchapp.codec.tables import PERDOC_EXT, TERMS_EXT, FieldPostings, write_perdoc, write_terms


class ColumnarCodec(base.Codec):
    """Whoosh codec over numpy arrays (see the module docstring)."""

    length_stats = True

    def per_document_writer(self, storage: Any, segment: Any) -> Any:
        return ColumnarPerDocWriter(storage, segment)

    def field_writer(self, storage: Any, segment: Any) -> Any:
        return ColumnarFieldWriter(storage, segment)

    def postings_writer(self, dbfile: Any, byteids: bool = False) -> Any:
        raise NotImplementedError("the columnar codec writes whole segments, not posting files")

    def postings_reader(
        self, dbfile: Any, terminfo: Any, format_: Any, term: Any = None, scorer: Any = None
    ) -> Any:
        raise NotImplementedError("the columnar codec reads postings through its terms reader")

    def automata(self, storage: Any = None, segment: Any = None) -> ColumnarAutomata:
        return ColumnarAutomata()

    def terms_reader(self, storage: Any, segment: Any) -> ColumnarTermsReader:
        return ColumnarTermsReader(storage, segment)

    def per_document_reader(self, storage: Any, segment: Any) -> ColumnarPerDocReader:
        return ColumnarPerDocReader(storage, segment)

    def supports_columns(self) -> bool:
        return True

    def new_segment(self, storage: Any, indexname: str) -> W3Segment:
        # W3Segment keeps the codec object, the doc count and the deleted set; nothing in it
        # is specific to Whoosh's own file format.
        return W3Segment(self, indexname)


def verify_reader(reader: Any) -> list[str]:
    """Check a columnar segment's files (checksums, offsets, ranges); [] for other codecs."""
    terms, perdoc = getattr(reader, "_terms", None), getattr(reader, "_perdoc", None)
    problems: list[str] = []
    if isinstance(perdoc, ColumnarPerDocReader):
        problems += perdoc.verify()
    if isinstance(terms, ColumnarTermsReader):
        problems += terms.verify(reader.doc_count_all())
    return problems


def segment_path(storage: Any, segment: Any, ext: str) -> Path:
    """Return the path of one of a segment's files in a folder storage."""
    return Path(storage._fpath(segment.make_filename(ext)))


def column_bytes(column: Any, values: list[Any], doc_count: int) -> bytes:
    """Encode one column's values (one per document) in Whoosh's own column format."""
    buf = io.BytesIO()
    sfile = StructFile(buf)
    writer = column.writer(sfile)
    for docnum, value in enumerate(values):
        if value is not None:
            writer.add(docnum, value)
    writer.finish(doc_count)
    return buf.getvalue()


def numeric_column_bytes(column: Any, values: np.ndarray) -> bytes | None:
    """Encode a NumericColumn from an array at once (None: not a numeric column)."""
    typecode = getattr(column, "_typecode", None)
    if typecode is None or type(column).__name__ != "NumericColumn":
        return None
    return np.asarray(values).astype(np.dtype(typecode).newbyteorder(">")).tobytes()


class ColumnarPerDocWriter(base.PerDocumentWriter):
    """Buffers stored fields, lengths and column values; writes the .sad file at close."""

    def __init__(self, storage: Any, segment: Any) -> None:
        self._storage, self._segment = storage, segment
        self._stored: list[bytes] = []
        self._lengths: dict[str, dict[int, int]] = defaultdict(dict)
        self._columns: dict[str, tuple[Any, dict[int, Any]]] = {}
        self._doc: dict[str, Any] = {}
        self._docnum = 0
        self.is_closed = False

    def start_doc(self, docnum: int) -> None:
        self._docnum = docnum
        self._doc = {}

    def add_field(self, fieldname: str, fieldobj: Any, value: Any, length: int) -> None:
        if value is not None:
            self._doc[fieldname] = value
        if length:
            self._lengths[fieldname][self._docnum] = length

    def add_column_value(self, fieldname: str, columnobj: Any, value: Any) -> None:
        self._columns.setdefault(fieldname, (columnobj, {}))[1][self._docnum] = value

    def add_vector_items(self, fieldname: str, fieldobj: Any, items: Any) -> None:
        raise NotImplementedError("the columnar codec does not store term vectors")

    def finish_doc(self) -> None:
        while len(self._stored) < self._docnum:
            self._stored.append(b"")
        self._stored.append(pickle.dumps(self._doc, pickle.HIGHEST_PROTOCOL) if self._doc else b"")

    def cancel_doc(self) -> None:
        self._doc = {}

    def close(self) -> None:
        n = len(self._stored)
        lengths = {}
        for name, per_doc in self._lengths.items():
            arr = np.zeros(n, dtype=np.int64)
            arr[list(per_doc)] = list(per_doc.values())
            lengths[name] = arr
        cols = {}
        for name, (column, per_doc) in self._columns.items():
            cols[name] = column_bytes(column, [per_doc.get(d) for d in range(n)], n)
        sizes = np.fromiter(map(len, self._stored), dtype=np.int64, count=n)
        path = segment_path(self._storage, self._segment, PERDOC_EXT)
        write_perdoc(path, n, b"".join(self._stored), sizes, lengths, cols)
        self.is_closed = True


class ColumnarFieldWriter(base.FieldWriter):
    """Buffers postings (sorted by field, term, document as Whoosh feeds them) per field."""

    def __init__(self, storage: Any, segment: Any) -> None:
        self._storage, self._segment = storage, segment
        self._fields: dict[str, FieldPostings] = {}
        self._lengths: dict[str, np.ndarray] = {}
        self._cur: dict[str, Any] = {}
        self.is_closed = False

    def start_field(self, fieldname: str, fieldobj: Any) -> None:
        self._cur = {
            "name": fieldname,
            "obj": fieldobj,
            "terms": [],
            "starts": [],
            "docs": [],
            "freqs": [],
            "weights": [],
            "positions": [],
            "pos": isinstance(fieldobj.format, Positions),
        }
        self._doclens: dict[int, int] = {}

    def start_term(self, text: bytes) -> None:
        self._cur["terms"].append(text)
        self._cur["starts"].append(len(self._cur["docs"]))

    def add(self, docnum: int, weight: float, vbytes: bytes, length: int) -> None:
        cur = self._cur
        fmt = cur["obj"].format
        cur["docs"].append(docnum)
        cur["weights"].append(weight)
        if cur["pos"]:
            poses = fmt.decode_positions(vbytes)
            cur["positions"].extend(poses)
            cur["freqs"].append(len(poses))
        else:
            cur["freqs"].append(fmt.decode_frequency(vbytes) if vbytes else 1)
        if length:
            self._doclens[docnum] = length

    def add_spell_word(self, fieldname: str, text: bytes) -> None:
        raise NotImplementedError("the columnar codec has no separate spelling words")

    def finish_term(self) -> None:
        pass

    def finish_field(self) -> None:
        cur = self._cur
        self._fields[cur["name"]] = FieldPostings(
            terms=cur["terms"],
            post_off=np.array([*cur["starts"], len(cur["docs"])], dtype=np.int64),
            docs=np.array(cur["docs"], dtype=np.int32),
            freqs=np.array(cur["freqs"], dtype=np.int32),
            weights=np.array(cur["weights"], dtype=np.float32),
            positions=np.array(cur["positions"], dtype=np.int32) if cur["pos"] else None,
        )
        if self._doclens:
            top = max(self._doclens) + 1
            arr = np.zeros(top, dtype=np.int64)
            arr[list(self._doclens)] = list(self._doclens.values())
            self._lengths[cur["name"]] = arr

    def close(self) -> None:
        path = segment_path(self._storage, self._segment, TERMS_EXT)
        write_terms(path, sorted(self._fields.items()), self._lengths)
        self.is_closed = True
