"""Analyse chunks of Whoosh documents into postings arrays (the bulk writer's first half).

Whoosh analyses each document with a generator chain (a Python call per token and filter),
pools every posting as a tuple and pickles each posting's positions. Here each field is
analysed for a chunk of documents at a time: the analyzer's own regex finds the raw tokens
(C speed), each DISTINCT raw token goes once through the analyzer's own filters (so the
lowercasing, stop list and stemmer — whatever function the schema's StemFilter holds — are
exactly Whoosh's), and numpy groups the tokens into postings. An analyzer this module does not
recognise is run per document through Whoosh itself (slower, same result).

An Analyser runs in one process and keeps its term ids across chunks; bulk.py gathers the
parts of every process into one segment.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
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

# Filters that map one token to one token (or drop it) with no state across tokens: their
# effect on a token can be computed once per distinct raw token.
_PER_TOKEN_FILTERS = (LowercaseFilter, StopFilter, StemFilter, StripFilter)
NO_POS = np.zeros(0, np.int32)
# An ID field's memo is dropped once it holds this many terms and most of a chunk's are new.
FORGET_MIN = 4096


def _exclusive_sum(counts: np.ndarray) -> np.ndarray:
    """Return where each run starts, given run lengths (same length as counts)."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


class _Filters:
    """An analyzer's per-token filters, applied once per distinct raw token (memoised).

    Shared by every field with the same analyzer object (title, lead and body share one).
    """

    def __init__(self, filters: list[Any]) -> None:
        self._filters = filters
        self.final: dict[str, str | None] = {}

    def learn(self, raws: Iterable[str]) -> None:
        """Compute the final text (None = stopped) of raw tokens not seen yet, in one pass."""
        new = [r for r in raws if r not in self.final]
        if not new:
            return
        # removestops=False: a stop word comes out marked, so output i is input i.
        template = Token(positions=False, chars=False, removestops=False, mode="index")
        template.boost, template.stopped = 1.0, False
        state = template.__dict__
        tokens = []
        for raw in new:
            # Token() takes ~5 us (keyword handling); a copy of a template's state does not.
            tok = Token.__new__(Token)
            tok.__dict__.update(state)
            tok.text = raw
            tokens.append(tok)
        gen: Iterable[Token] = iter(tokens)
        for f in self._filters:
            gen = f(gen)
        out = list(gen)
        if len(out) != len(tokens):
            raise AssertionError("a per-token filter dropped or added tokens")
        for raw, tok in zip(new, out, strict=True):
            self.final[raw] = None if tok.stopped else tok.text


class _Analysis:
    """A field's analyzer compiled for bulk use: raw token -> term id (-1 = stopped)."""

    def __init__(self, analyzer: Any, shared: dict[int, _Filters]) -> None:
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
        if id(analyzer) not in shared:
            shared[id(analyzer)] = _Filters(filters)
        self._filters = shared[id(analyzer)]
        self.renumber = any(type(f) is StopFilter and f.renumber for f in filters)
        self.terms: list[str] = []
        self._final: dict[str, int] = {}
        self.ids: dict[str, int] = {}

    def forget(self) -> None:
        """Drop the memo (term ids restart at 0): for fields whose values are all new."""
        self.terms, self._final, self.ids = [], {}, {}

    def term_ids(self, toks: list[str]) -> np.ndarray:
        """Return the term id of every raw token (-1 where the analyzer drops it)."""
        ids = self.ids
        # One C-level dict lookup per token; only tokens never seen before (-2) go further.
        tids = np.fromiter(map(ids.get, toks, repeat(-2)), dtype=np.int32, count=len(toks))
        unseen = np.flatnonzero(tids == -2)
        if len(unseen):
            new = {toks[i] for i in unseen.tolist()}
            self._filters.learn(new)
            final, terms, term_of = self._filters.final, self.terms, self._final
            for raw in new:
                text = final[raw]
                if text is None:
                    ids[raw] = -1
                    continue
                tid = term_of.get(text)
                if tid is None:
                    tid = term_of[text] = len(terms)
                    terms.append(text)
                ids[raw] = tid
            tids[unseen] = [ids[toks[i]] for i in unseen.tolist()]
        return tids

    def raw_tokens(self, text: str) -> list[str]:
        if self.is_id:
            return [text]
        if self._findall is not None:
            return self._findall(text)
        assert self._regex is not None
        return [m.group(0) for m in self._regex.finditer(text)]


class _FieldBuilder:
    """Accumulates one field's postings over chunks of documents."""

    def __init__(self, name: str, field: Any, shared: dict[int, _Filters]) -> None:
        self.name, self.field = name, field
        fmt = field.format
        if type(fmt) not in (Existence, Frequency, Positions):
            raise ValueError(f"field {name!r}: the columnar codec cannot store {fmt!r}")
        self.positional = type(fmt) is Positions
        self.existence = type(fmt) is Existence
        self.boost = float(fmt.field_boost)
        self.analysis = _Analysis(field.analyzer, shared)
        # Field types with their own index() (numbers, dates) convert values first.
        self.fast = self.analysis.ok and type(field).index is fields.FieldType.index

    def add_chunk(self, base: int, values: Sequence[Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
        """Analyse one chunk (documents base, base+1, ...).

        Returns the documents' field lengths and the chunk's postings: (term ids, doc numbers,
        frequencies, positions), grouped by term id then document.
        """
        if self.fast and all(v is None or type(v) is str for v in values):
            return self._fast(base, values)
        return self._slow(base, values)

    def _fast(self, base: int, values: Sequence[Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
        an = self.analysis
        lens = np.zeros(len(values), dtype=np.int64)
        toks: list[str] = []
        for i, value in enumerate(values):
            if value is None or (not value and not an.is_id):
                continue
            t = an.raw_tokens(value)
            lens[i] = len(t)
            toks += t
        tids = an.term_ids(toks)
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
        part = (p_tid, p_doc.astype(np.int32), freqs, pos if self.positional else NO_POS)
        if self.existence:
            return np.bincount(kdoc[heads], minlength=len(values)).astype(np.int64), part
        return np.bincount(kdoc, minlength=len(values)).astype(np.int64), part

    def _slow(self, base: int, values: Sequence[Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
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
        part = (
            np.array([r[0] for r in rows], np.int32),
            np.array([r[1] for r in rows], np.int32),
            np.array([r[2] for r in rows], np.int32),
            np.array([p for r in rows for p in r[3]], np.int32),
        )
        return lens, part


def check_schema(schema: Any) -> None:
    """Raise ValueError if the bulk writer cannot store this schema."""
    for name, field in schema.items():
        if field.vector:
            raise ValueError(f"field {name!r} has term vectors: the columnar codec has none")
        if field.indexed and field.separate_spelling():
            raise ValueError(f"field {name!r} has a separate spelling field")


class Analyser:
    """Turns chunks of documents into postings parts (one per process, caches kept)."""

    def __init__(self, schema: Any, keep: Sequence[str]) -> None:
        indexed = [(n, f) for n, f in schema.items() if f.indexed and f.format is not None]
        shared: dict[int, _Filters] = {}
        self.builders = {n: _FieldBuilder(n, f, shared) for n, f in indexed}
        self.scorable = {n for n, f in indexed if f.scorable}
        self.stored_names = sorted(n for n, f in schema.items() if f.stored)
        self.column_fields = {n: f for n, f in schema.items() if f.column_type}
        self.keep = tuple(keep)
        self._reported = dict.fromkeys(self.builders, 0)
        self._restart = dict.fromkeys(self.builders, False)

    def chunk(self, docs: list[dict[str, Any]]) -> dict[str, Any]:
        """Analyse docs; return a picklable part for bulk's collector.

        The part numbers its documents from 0: the collector, which sees the parts in order,
        shifts them to their place in the segment.
        """
        fields_out: dict[str, Any] = {}
        lengths: dict[str, np.ndarray] = {}
        for name, builder in self.builders.items():
            lens, (tid, doc, freq, pos) = builder.add_chunk(0, [d.get(name) for d in docs])
            terms = builder.analysis.terms
            # Term ids are this process's: send the terms it has not reported yet.
            new_terms = terms[self._reported[name] :]
            self._reported[name] = len(terms)
            fields_out[name] = (new_terms, tid, doc, freq, pos, self._restart[name])
            self._restart[name] = False
            if (
                builder.analysis.is_id
                and len(terms) > FORGET_MIN
                and 2 * len(new_terms) > len(docs)
            ):
                # A story id is new in every document: memoising them only grows the worker
                # (by ~100 bytes a story). The next part's term ids restart at 0.
                builder.analysis.forget()
                self._reported[name] = 0
                self._restart[name] = True
            if name in self.scorable:
                lengths[name] = lens
        columns = {
            name: [None if d.get(name) is None else f.to_column_value(d[name]) for d in docs]
            for name, f in self.column_fields.items()
        }
        names, dumps, top = self.stored_names, pickle.dumps, pickle.HIGHEST_PROTOCOL
        blobs = []
        for d in docs:
            sf = {n: d[n] for n in names if d.get(n) is not None}
            blobs.append(dumps(sf, top) if sf else b"")
        sizes = np.fromiter(map(len, blobs), dtype=np.int64, count=len(blobs))
        return {
            "pid": os.getpid(),
            "n": len(docs),
            "fields": fields_out,
            "lengths": lengths,
            "columns": columns,
            "stored": (b"".join(blobs), sizes),
            "keep": {k: [d.get(k) for d in docs] for k in self.keep},
        }
