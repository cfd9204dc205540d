"""Write a whole columnar segment at once from Whoosh documents (full rebuilds).

Whoosh analyses each document with a generator chain (a Python call per token and filter),
pools every posting as a tuple and pickles each posting's positions. Here each field is
analysed for a chunk of documents at a time: the analyzer's own regex finds the raw tokens
(C speed), each DISTINCT raw token goes once through the analyzer's own filters (so the
lowercasing, stop list and stemmer — whatever function the schema's StemFilter holds — are
exactly Whoosh's), and numpy groups the tokens into postings. An analyzer this module does not
recognise is run per document through Whoosh itself (slower, same result).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from whoosh import fields
from whoosh.analysis import (
    CompositeAnalyzer,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
    StripFilter,
)
from whoosh.analysis.acore import Token
from whoosh.formats import Existence, Frequency, Positions
from whoosh.index import TOC, clean_files

from searchapp.codec import (
    ColumnarCodec,
    column_bytes,
    numeric_column_bytes,
    segment_path,
)
from searchapp.codec.tables import PERDOC_EXT, TERMS_EXT, FieldPostings, write_perdoc, write_terms

# Filters that map one token to one token (or drop it) with no state across tokens: their
# effect on a token can be computed once per distinct raw token.
_PER_TOKEN_FILTERS = (LowercaseFilter, StopFilter, StemFilter, StripFilter)
CHUNK_DOCS = 8192


def _exclusive_sum(counts: np.ndarray) -> np.ndarray:
    """Return where each run starts, given run lengths (same length as counts)."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


class _Analysis:
    """A field's analyzer compiled for bulk use: raw token -> term id (-1 = stopped)."""

    def __init__(self, analyzer: Any) -> None:
        items = list(analyzer.items) if isinstance(analyzer, CompositeAnalyzer) else [analyzer]
        tokenizer, filters = items[0], items[1:]
        self.ok = type(tokenizer) in (RegexTokenizer, IDTokenizer) and all(
            type(f) in _PER_TOKEN_FILTERS for f in filters
        )
        self.ok = self.ok and sum(type(f) is StopFilter for f in filters) <= 1
        if isinstance(tokenizer, RegexTokenizer):
            self.ok = self.ok and not tokenizer.gaps
        self.is_id = type(tokenizer) is IDTokenizer
        self._regex = getattr(tokenizer, "expression", None)
        self._findall: Callable[[str], list[str]] | None = None
        if self._regex is not None and self._regex.groups == 0:
            self._findall = self._regex.findall
        self._filters = filters
        self.renumber = any(type(f) is StopFilter and f.renumber for f in filters)
        self.terms: list[str] = []
        self._final: dict[str, int] = {}
        outer = self

        class _Ids(dict):  # type: ignore[type-arg]
            def __missing__(self, raw: str) -> int:
                tid = outer._analyse_one(raw)
                self[raw] = tid
                return tid

        self.ids = _Ids()

    def _analyse_one(self, raw: str) -> int:
        tok = Token(positions=False, chars=False, removestops=True, mode="index")
        tok.text, tok.boost, tok.stopped = raw, 1.0, False
        gen: Iterable[Token] = iter([tok])
        for f in self._filters:
            gen = f(gen)
        out = [t.text for t in gen if not t.stopped]
        if not out:
            return -1
        text = out[0]
        tid = self._final.get(text)
        if tid is None:
            tid = self._final[text] = len(self.terms)
            self.terms.append(text)
        return tid

    def raw_tokens(self, text: str) -> list[str]:
        if self.is_id:
            return [text]
        if self._findall is not None:
            return self._findall(text)
        assert self._regex is not None
        return [m.group(0) for m in self._regex.finditer(text)]


class _FieldBuilder:
    """Accumulates one field's postings over chunks of documents."""

    def __init__(self, name: str, field: Any) -> None:
        self.name, self.field = name, field
        fmt = field.format
        if type(fmt) not in (Existence, Frequency, Positions):
            raise ValueError(f"field {name!r}: the columnar codec cannot store {fmt!r}")
        self.positional = type(fmt) is Positions
        self.existence = type(fmt) is Existence
        self.boost = float(fmt.field_boost)
        self.analysis = _Analysis(field.analyzer)
        # Field types with their own index() (numbers, dates) convert values first.
        self.fast = self.analysis.ok and type(field).index is fields.FieldType.index
        self.parts: list[tuple[np.ndarray, ...]] = []
        self.slow_terms: dict[str, int] = {}

    def add_chunk(self, base: int, values: Sequence[Any]) -> np.ndarray:
        """Analyse one chunk (documents base, base+1, ...); return their field lengths."""
        if self.fast and all(v is None or type(v) is str for v in values):
            return self._fast(base, values)
        return self._slow(base, values)

    def _fast(self, base: int, values: Sequence[Any]) -> np.ndarray:
        an = self.analysis
        lens = np.zeros(len(values), dtype=np.int64)
        toks: list[str] = []
        for i, value in enumerate(values):
            if value is None or (not value and not an.is_id):
                continue
            t = an.raw_tokens(value)
            lens[i] = len(t)
            toks += t
        n = len(toks)
        tids = np.fromiter(map(an.ids.__getitem__, toks), dtype=np.int32, count=n)
        doc = np.repeat(np.arange(len(values), dtype=np.int32), lens)
        keep = tids >= 0
        kidx = np.flatnonzero(keep)
        kdoc = doc[kidx]
        starts = _exclusive_sum(lens)
        orig = kidx - starts[kdoc] + (1 if an.is_id else 0)
        if an.renumber and len(kidx):
            # StopFilter(renumber=True): the first kept token keeps its position, the rest
            # follow it one by one.
            first = np.concatenate([[True], kdoc[1:] != kdoc[:-1]])
            first_at = np.flatnonzero(first)
            group = np.cumsum(first) - 1
            pos = orig[first_at][group] + (np.arange(len(kidx)) - first_at[group])
        else:
            pos = orig
        ktid = tids[kidx]
        # Group by (term, doc); positions stay in order within a posting (stable sort).
        order = np.lexsort((kdoc, ktid)) if len(kidx) else np.zeros(0, np.int64)
        ktid, kdoc, pos = ktid[order], kdoc[order], pos[order].astype(np.int32)
        if len(ktid):
            new = np.concatenate([[True], (ktid[1:] != ktid[:-1]) | (kdoc[1:] != kdoc[:-1])])
        else:
            new = np.zeros(0, bool)
        heads = np.flatnonzero(new)
        freqs = np.diff(np.concatenate([heads, [len(ktid)]])).astype(np.int32)
        p_tid, p_doc = ktid[heads], kdoc[heads] + base
        if self.existence:
            freqs = np.ones(len(heads), np.int32)
        self.parts.append(
            (
                p_tid,
                p_doc.astype(np.int32),
                freqs,
                pos if self.positional else np.zeros(0, np.int32),
            )
        )
        if self.existence:
            return np.bincount(kdoc[heads], minlength=len(values)).astype(np.int64)
        return np.bincount(kdoc, minlength=len(values)).astype(np.int64)

    def _slow(self, base: int, values: Sequence[Any]) -> np.ndarray:
        an = self.analysis
        lens = np.zeros(len(values), dtype=np.int64)
        rows: list[tuple[int, int, int, list[int]]] = []
        fmt = self.field.format
        for i, value in enumerate(values):
            if value is None:
                continue
            for tbytes, freq, _weight, vbytes in self.field.index(value):
                text = tbytes.decode("utf-8")
                tid = an._final.get(text)
                if tid is None:
                    tid = an._final[text] = len(an.terms)
                    an.terms.append(text)
                poses = fmt.decode_positions(vbytes) if self.positional else []
                rows.append((tid, base + i, freq, poses))
                lens[i] += freq
        rows.sort(key=lambda r: (r[0], r[1]))
        self.parts.append(
            (
                np.array([r[0] for r in rows], np.int32),
                np.array([r[1] for r in rows], np.int32),
                np.array([r[2] for r in rows], np.int32),
                np.array([p for r in rows for p in r[3]], np.int32),
            )
        )
        return lens

    def finish(self) -> FieldPostings:
        terms = self.analysis.terms
        # Whoosh orders terms by their UTF-8 bytes, which is code point order.
        ranked = sorted(range(len(terms)), key=terms.__getitem__)
        rank = np.empty(len(terms), dtype=np.int32)
        rank[ranked] = np.arange(len(terms), dtype=np.int32)
        tid = np.concatenate([p[0] for p in self.parts]) if self.parts else np.zeros(0, np.int32)
        docs = np.concatenate([p[1] for p in self.parts]) if self.parts else np.zeros(0, np.int32)
        freqs = np.concatenate([p[2] for p in self.parts]) if self.parts else np.zeros(0, np.int32)
        r = rank[tid]
        # Chunks hold ascending documents, so a stable sort by term gives (term, doc) order.
        order = np.argsort(r, kind="stable")
        r, docs_s, freqs_s = r[order], docs[order], freqs[order]
        positions = None
        if self.positional:
            pos = np.concatenate([p[3] for p in self.parts])
            starts = _exclusive_sum(freqs)
            run_start = np.repeat(starts[order], freqs_s)
            out_start = _exclusive_sum(freqs_s)
            within = np.arange(len(pos), dtype=np.int64) - np.repeat(out_start, freqs_s)
            positions = pos[run_start + within]
        self.parts = []
        counts = np.bincount(r, minlength=len(terms))
        post_off = np.zeros(len(terms) + 1, dtype=np.int64)
        np.cumsum(counts, out=post_off[1:])
        used = [terms[i] for i in ranked]
        weights = freqs_s.astype(np.float32) * np.float32(self.boost)
        if self.existence:
            weights = np.full(len(freqs_s), self.boost, dtype=np.float32)
        # Terms with no posting (cannot happen from the fast path) are dropped by keeping
        # only rows with a posting.
        has = counts[ranked] > 0
        if not has.all():
            keep_rows = np.flatnonzero(has)
            used = [used[i] for i in keep_rows]
            post_off = np.concatenate([[0], np.cumsum(counts[ranked][keep_rows])])
        return FieldPostings(
            terms=[t.encode("utf-8") for t in used],
            post_off=post_off,
            docs=docs_s,
            freqs=freqs_s,
            weights=weights,
            positions=positions,
        )


def check_schema(schema: Any) -> None:
    """Raise ValueError if the bulk writer cannot store this schema."""
    for name, field in schema.items():
        if field.vector:
            raise ValueError(f"field {name!r} has term vectors: the columnar codec has none")
        if field.indexed and field.separate_spelling():
            raise ValueError(f"field {name!r} has a separate spelling field")


def write_segment(
    ix: Any,
    docs: Iterable[dict[str, Any]],
    total: int,
    progress: Callable[[int], None] | None = None,
) -> Any:
    """Write documents (Whoosh field dicts) as one new columnar segment; commit the TOC.

    The index's existing segments are kept; the new segment is added after them.
    """
    schema = ix.schema
    check_schema(schema)
    storage = ix.storage
    codec = ColumnarCodec()
    segment = codec.new_segment(storage, ix.indexname)
    indexed = [(n, f) for n, f in schema.items() if f.indexed and f.format is not None]
    builders = {n: _FieldBuilder(n, f) for n, f in indexed}
    scorable = {n for n, f in indexed if f.scorable}
    stored_names = sorted(n for n, f in schema.items() if f.stored)
    column_fields = {n: f for n, f in schema.items() if f.column_type}
    length_parts: dict[str, list[np.ndarray]] = {n: [] for n in scorable}
    column_values: dict[str, list[Any]] = {n: [] for n in column_fields}
    stored: list[bytes] = []
    dumps = pickle.dumps
    count = 0
    chunk: list[dict[str, Any]] = []

    def flush() -> None:
        nonlocal count
        for name, builder in builders.items():
            lens = builder.add_chunk(count, [d.get(name) for d in chunk])
            if name in scorable:
                length_parts[name].append(lens)
        for name, field in column_fields.items():
            column_values[name] += [
                None if d.get(name) is None else field.to_column_value(d[name]) for d in chunk
            ]
        for d in chunk:
            sf = {n: d[n] for n in stored_names if d.get(n) is not None}
            stored.append(dumps(sf, pickle.HIGHEST_PROTOCOL) if sf else b"")
        count += len(chunk)
        chunk.clear()
        if progress is not None:
            progress(count)

    for doc in docs:
        chunk.append(doc)
        if len(chunk) >= CHUNK_DOCS:
            flush()
    if chunk:
        flush()
    lengths = {
        n: np.concatenate(p) if p else np.zeros(0, np.int64) for n, p in length_parts.items()
    }
    lengths = {n: a for n, a in lengths.items() if a.any()}
    cols = {}
    for name, field in column_fields.items():
        values = column_values[name]
        if any(v is not None for v in values):
            default = field.column_type.default_value()
            fast = numeric_column_bytes(
                field.column_type, np.array([default if v is None else v for v in values])
            )
            cols[name] = (
                fast if fast is not None else column_bytes(field.column_type, values, count)
            )
    write_perdoc(segment_path(storage, segment, PERDOC_EXT), count, stored, lengths, cols)
    stored.clear()
    fields = {n: b.finish() for n, b in builders.items()}
    write_terms(segment_path(storage, segment, TERMS_EXT), fields, lengths)
    segment.set_doc_count(count)
    toc = ix._read_toc()
    segments = [*toc.segments, segment]
    generation = toc.generation + 1
    TOC(schema, segments, generation).write(storage, ix.indexname)
    clean_files(storage, ix.indexname, generation, segments)
    return segment
