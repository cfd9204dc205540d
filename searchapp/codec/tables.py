"""What a columnar segment holds, and how its two files are written from arrays.

A segment is two container files (container.py), named after the Whoosh segment id:

* ``.sat`` terms and postings. Every indexed field's terms, sorted by field name then by term
  bytes (Whoosh's own order), as one byte blob with offsets. Per term: its slice of the
  postings (``post_off``), of the positions (``pos_off``), total weight, max weight and the
  shortest/longest field length among its documents. Per posting: document number
  (``docs``), frequency (``freqs``) and weight (``weights``, float32 as Whoosh scores it).
  Positions are int32, each posting's run of ``freqs`` positions back to back, so a phrase
  check slices an array instead of unpickling one list per posting.
* ``.sad`` per-document data. Stored fields, one pickled dict per document, back to back with
  offsets; every scorable field's lengths as Whoosh's one-byte code (``len_<field>``, so
  BM25F sees the same lengths as over Whoosh's codec); column values in Whoosh's own column
  encoding (``col_<field>``) so Whoosh's column readers read them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.util.numeric import byte_to_length

from searchapp.codec.container import Spool, write_container

TERMS_EXT = ".sat"
PERDOC_EXT = ".sad"
FORMAT_VERSION = 1

# Whoosh's one-byte length code is bisect_left over this table (whoosh.util.numeric), capped.
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.int64)
_CAP = 106374


def length_codes(lengths: np.ndarray) -> np.ndarray:
    """Return Whoosh's one-byte codes (length_to_byte) for an array of field lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    codes = np.searchsorted(_LENGTH_OF_BYTE, lengths, side="left")
    return np.where(lengths >= _CAP, 255, np.minimum(codes, 255)).astype(np.uint8)


@dataclass
class FieldPostings:
    """One field's postings, grouped by term (terms sorted by their bytes)."""

    terms: list[bytes]
    post_off: np.ndarray  # int64 [T+1] into docs/freqs/weights
    docs: np.ndarray  # int32 [P], ascending within a term
    freqs: np.ndarray  # int32 [P]
    weights: np.ndarray  # float32 [P]
    positions: np.ndarray | None = None  # int32, each posting's freqs positions in order
    extra: dict[str, Any] = field(default_factory=dict)


def _concat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)


TERM_BLOCK_POSTINGS = 1 << 21


def _term_blocks(post_off: np.ndarray) -> list[tuple[int, int]]:
    """Cut the terms [0, T) into runs of whole terms of about TERM_BLOCK_POSTINGS postings."""
    t = len(post_off) - 1
    cuts = np.searchsorted(post_off, np.arange(0, post_off[-1], TERM_BLOCK_POSTINGS), "right")
    edges = sorted({0, t, *(min(max(int(c) - 1, 0), t) for c in cuts)})
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def write_terms(
    path: Path,
    fields: Iterable[tuple[str, FieldPostings]],
    lengths: dict[str, np.ndarray],
) -> None:
    """Write the terms-and-postings file from (name, postings) in field-name order.

    Fields are taken one at a time and their per-posting arrays spooled to temporary files,
    so the writer holds one field's arrays at a time, not every field's twice.
    Lengths are the exact per-document field lengths.
    """
    meta_fields: dict[str, list[Any]] = {}
    blobs: list[bytes] = []
    term_lens: list[np.ndarray] = []
    post_offs: list[np.ndarray] = []
    pos_offs: list[np.ndarray] = []
    tot_w, max_w, min_len, max_len = [], [], [], []
    folder = path.parent
    spools = {
        name: Spool(folder, dtype)
        for name, dtype in [
            ("docs", np.int32),
            ("freqs", np.int32),
            ("weights", np.float32),
            ("positions", np.int32),
        ]
    }
    try:
        n_terms = n_posts = n_pos = 0
        last = ""
        for name, fp in fields:
            if name < last:
                raise ValueError(f"fields out of order: {last!r} before {name!r}")
            last = name
            t = len(fp.terms)
            if t == 0:
                continue
            p = int(fp.post_off[-1])
            meta_fields[name] = [n_terms, n_terms + t, fp.positions is not None]
            blobs.append(b"".join(fp.terms))
            term_lens.append(np.fromiter(map(len, fp.terms), dtype=np.int64, count=t))
            post_offs.append(fp.post_off[:-1] + n_posts)
            if fp.positions is not None:
                spools["positions"].write_array(fp.positions)
            spools["docs"].write_array(fp.docs)
            spools["freqs"].write_array(fp.freqs)
            spools["weights"].write_array(fp.weights)
            flen = lengths.get(name)
            # As Whoosh sees them: the one-byte code's length (as the doc-by-doc path).
            coded = None
            if flen is not None and p:
                coded = _LENGTH_OF_BYTE[length_codes(flen)].astype(np.int32)
            field_pos = n_pos
            for a, b in _term_blocks(fp.post_off) if p else [(0, t)]:
                # A block of terms at a time: per-posting temporaries of the body field at
                # 216k stories took ~250 MB at once.
                lo, hi = int(fp.post_off[a]), int(fp.post_off[b])
                starts = fp.post_off[a:b] - lo
                if fp.positions is not None:
                    # A term's positions start where its first posting's do: the sum of freqs.
                    csum = np.concatenate([[0], np.cumsum(fp.freqs[lo:hi], dtype=np.int64)])
                    pos_offs.append(csum[starts] + field_pos)
                    field_pos += int(csum[-1])
                else:
                    pos_offs.append(np.full(b - a, n_pos, dtype=np.int64))
                if not p:
                    tot_w.append(np.zeros(t))
                    max_w.append(np.zeros(t, np.float32))
                    min_len.append(np.zeros(t, np.int32))
                    max_len.append(np.zeros(t, np.int32))
                    continue
                weights = fp.weights[lo:hi]
                tot_w.append(np.add.reduceat(weights.astype(np.float64), starts))
                max_w.append(np.maximum.reduceat(weights, starts))
                if coded is not None:
                    per = coded[fp.docs[lo:hi]]
                    min_len.append(np.minimum.reduceat(per, starts))
                    max_len.append(np.maximum.reduceat(per, starts))
                else:
                    min_len.append(np.zeros(b - a, np.int32))
                    max_len.append(np.zeros(b - a, np.int32))
            if fp.positions is not None:
                n_pos += len(fp.positions)
            n_terms += t
            n_posts += p
            del fp
        term_off = np.zeros(n_terms + 1, dtype=np.int64)
        if term_lens:
            np.cumsum(np.concatenate(term_lens), out=term_off[1:])
        arrays: dict[str, np.ndarray | Spool] = {
            "term_blob": np.frombuffer(b"".join(blobs), dtype=np.uint8),
            "term_off": term_off,
            "post_off": np.concatenate([*post_offs, [n_posts]]).astype(np.int64),
            "pos_off": np.concatenate([*pos_offs, [n_pos]]).astype(np.int64),
            "tot_weight": _concat(tot_w, np.float64),
            "max_weight": _concat(max_w, np.float32),
            "min_len": _concat(min_len, np.int32),
            "max_len": _concat(max_len, np.int32),
            **spools,
        }
        write_container(path, arrays, {"version": FORMAT_VERSION, "fields": meta_fields})
    finally:
        for spool in spools.values():
            spool.close()


def write_perdoc(
    path: Path,
    doc_count: int,
    stored_blob: bytes | Spool,
    stored_sizes: np.ndarray | None,
    lengths: dict[str, np.ndarray],
    columns: dict[str, bytes],
) -> None:
    """Write the per-document file: pickled stored dicts (back to back, with their sizes),
    length codes, column bytes."""
    stored_off = np.zeros(doc_count + 1, dtype=np.int64)
    if stored_sizes is not None and len(stored_sizes):
        np.cumsum(stored_sizes, out=stored_off[1 : len(stored_sizes) + 1])
        stored_off[len(stored_sizes) + 1 :] = stored_off[len(stored_sizes)]
    blob = stored_blob if isinstance(stored_blob, Spool) else np.frombuffer(stored_blob, np.uint8)
    arrays: dict[str, np.ndarray | Spool] = {
        "stored_blob": blob,
        "stored_off": stored_off,
    }
    stats: dict[str, list[int]] = {}
    for name, exact in sorted(lengths.items()):
        codes = length_codes(exact)
        arrays[f"len_{name}"] = codes
        stats[name] = [
            int(exact.sum()),
            int(codes.min()) if len(codes) else 0,
            int(codes.max()) if len(codes) else 0,
        ]
    for name, data in sorted(columns.items()):
        arrays[f"col_{name}"] = np.frombuffer(data, dtype=np.uint8)
    meta = {
        "version": FORMAT_VERSION,
        "doc_count": doc_count,
        "lengths": stats,
        "columns": sorted(columns),
    }
    write_container(path, arrays, meta)
