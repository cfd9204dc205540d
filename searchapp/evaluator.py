"""A query tree evaluated with numpy: matching documents as a boolean mask, BM25F scores.

Each word's posting list (ids and frequencies) is read into arrays, And/Or/Not become &, |, ~
on masks, scores are summed per document; phrases check positions only for the documents
holding every word; date ranges come from the "ts" column. Anything else (term ranges) goes
through Whoosh's own matcher. Every step checks an explicit Deadline, which works in any thread
(signal-based limits only work in the main thread).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from whoosh import query

from searchapp import scoring
from searchapp.errors import QueryError
from searchapp.generation import Generation
from searchapp.postings import (
    chained,
    expand_words,
    leaf_positions,
    phrase_docs,
    raw_postings,
)
from searchapp.query import Word, _is_null

# Seconds one search may spend evaluating its query before it is refused.
TIME_LIMIT = 2.0


@dataclass(frozen=True)
class Deadline:
    """The moment a search gives up, and the limit it came from (for the message)."""

    at: float  # time.perf_counter() value
    limit: float

    @classmethod
    def after(cls, seconds: float) -> Deadline:
        """Return a deadline `seconds` from now."""
        return cls(time.perf_counter() + seconds, seconds)

    def check(self) -> None:
        """Raise QueryError once the deadline has passed."""
        if time.perf_counter() > self.at:
            raise QueryError(
                f"the query took longer than {self.limit:g} s and was stopped: make it more "
                "specific (fewer wildcards, fewer OR-ed words, or add a filter)"
            )


# Whoosh's DATETIME counts microseconds from 0001-01-01; our "ts" column holds epoch seconds.
_EPOCH_TICKS = (datetime(1970, 1, 1) - datetime(1, 1, 1)).days * 86_400 * 1_000_000


def date_range(ts: np.ndarray, start: int | None, end: int | None) -> np.ndarray:
    """Return ts within a parsed date:[…] range (Whoosh ticks, both ends inclusive)."""
    mask = np.ones(len(ts), dtype=bool)
    if start is not None:
        mask &= ts >= -(-(start - _EPOCH_TICKS) // 1_000_000)
    if end is not None:
        mask &= ts <= (end - _EPOCH_TICKS) // 1_000_000
    return mask


def word_key(q: Any) -> tuple[str, ...]:
    """Name a typed word by its field terms: its document frequency across shards adds up."""
    terms = sorted(
        f"{c.fieldname}:{c.text}" for c in q.subqueries
        if isinstance(c, query.Term) and isinstance(c.text, str)
    )
    return ("word", *terms)


class Evaluator:
    """Evaluates query trees over one generation with one thread's searcher, by a deadline."""

    def __init__(
        self, gen: Generation, searcher: Any, deadline: Deadline,
        stats: scoring.CollectionStats | None = None,
    ) -> None:
        self.gen = gen
        self.searcher = searcher
        self.deadline = deadline
        # None: BM25 uses this generation's N/df/avgdl; a shard gets the whole cluster's.
        self.stats = stats
        self.fd = gen.facets

    def _field_tf(self, fieldname: str, ids: np.ndarray, tf: np.ndarray, boost: float) -> Any:
        """One field's weighted, length-normalised frequencies of a word (scoring.field_tf)."""
        field = self.searcher.schema[fieldname]
        lengths = self.gen.lengths(self.searcher, fieldname) if field.scorable else None
        if lengths is None:
            return scoring.field_tf(tf, None, 1.0, boost)
        if self.stats is None:
            avg = self.gen.avg_length(self.searcher, fieldname)
        else:
            avg = self.stats.avg_length(fieldname)
        return scoring.field_tf(tf, lengths[ids], avg, boost)

    def _idf(self, key: Hashable, local_df: int) -> float:
        """idf from this generation's counts, or from the whole collection's (self.stats)."""
        if self.stats is None:
            return scoring.idf(self.fd.n, local_df)
        return scoring.idf(self.stats.doc_count, self.stats.doc_freq(key, local_df))

    def term_scores(self, q: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (document numbers, BM25 scores) of one term in one field (scoring.py)."""
        ids, weights = self.gen.postings(self.searcher, q.fieldname, q.text)
        if len(ids) == 0:
            return ids, weights
        tf = self._field_tf(q.fieldname, ids, weights, 1.0)
        scores = scoring.saturate(tf, self._idf((q.fieldname, q.text), len(ids)))
        return ids, scores * q.boost

    def word(self, q: Word) -> tuple[np.ndarray, np.ndarray]:
        """Return (mask, BM25F scores) of one typed word over its fields (scoring.py).

        Each field's frequency is weighted by its boost and normalised by its own length, the
        sum saturated once with one idf: the word's document frequency in any field. Children
        that are not single words (phrases, wildcards) add their own scores.
        """
        fd = self.fd
        weighted = np.zeros(fd.n)
        present = np.zeros(fd.n, dtype=bool)
        other = np.zeros(fd.n, dtype=bool)
        scores = np.zeros(fd.n)
        for child in q.subqueries:
            if not (isinstance(child, query.Term) and isinstance(child.text, str)):
                m, sc = self.evaluate(child)
                other |= m
                scores += sc
                continue
            if child.fieldname not in self.searcher.schema:
                continue
            ids, tf = self.gen.postings(self.searcher, child.fieldname, child.text)
            if len(ids):
                weighted[ids] += self._field_tf(child.fieldname, ids, tf, child.boost)
                present[ids] = True
        docs = np.flatnonzero(present)
        if len(docs):
            word_idf = self._idf(word_key(q), len(docs))
            scores[docs] += scoring.saturate(weighted[docs], word_idf)
        mask = (present | other) & fd.live
        return mask, np.where(mask, scores * q.boost, 0.0)

    def evaluate(self, q: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (matching documents as a mask, their scores) for a query tree.

        Scores: a typed word (Word) scores BM25F over its fields, a fielded term BM25
        (scoring.py); Or and And add their children's scores, And only where all match;
        AndNot and Require score their first part; phrases score as the sum of their words
        inside the exact-phrase matches.
        Computing this with numpy over whole posting lists costs the same for 10 or 10,000
        matches, where Whoosh's collector steps through every match in Python (118 ms p95 at
        216k stories, profiled).
        """
        self.deadline.check()
        fd = self.fd
        n = fd.n
        schema = self.searcher.schema
        if isinstance(q, query.Term) and isinstance(q.text, str):
            mask = np.zeros(n, dtype=bool)
            scores = np.zeros(n)
            if q.fieldname in schema:
                ids, term_scores = self.term_scores(q)
                mask[ids] = True
                scores[ids] = term_scores
            mask &= fd.live
            return mask, scores
        if isinstance(q, query.Every):
            return fd.live.copy(), np.zeros(n)
        if _is_null(q):
            return np.zeros(n, dtype=bool), np.zeros(n)
        if isinstance(q, Word):
            return self.word(q)
        if isinstance(q, (query.Or, query.DisjunctionMax)) and not getattr(q, "minmatch", 0):
            mask = np.zeros(n, dtype=bool)
            scores = np.zeros(n)
            for child in q.subqueries:
                if isinstance(child, query.Term) and isinstance(child.text, str):
                    # Words add their postings in place: no two full-size arrays per word
                    # (an OR of 50 words, or a wildcard's 500 expansions, stays cheap).
                    if child.fieldname in schema:
                        ids, term_scores = self.term_scores(child)
                        mask[ids] = True
                        scores[ids] += term_scores
                    continue
                m, sc = self.evaluate(child)
                mask |= m
                scores += sc
            mask &= fd.live
            return mask, scores * q.boost
        if isinstance(q, query.And):
            mask = fd.live.copy()
            scores = np.zeros(n)
            for child in q.subqueries:
                m, sc = self.evaluate(child)
                mask &= m
                scores += sc
            return mask, np.where(mask, scores * q.boost, 0.0)
        if isinstance(q, (query.AndNot, query.Require)):
            ma, sa = self.evaluate(q.a)
            mb, _sb = self.evaluate(q.b)
            mask = ma & ~mb if isinstance(q, query.AndNot) else ma & mb
            return mask, np.where(mask, sa, 0.0)
        if isinstance(q, query.AndMaybe):
            ma, sa = self.evaluate(q.a)
            _mb, sb = self.evaluate(q.b)
            return ma, np.where(ma, sa + sb, 0.0)
        if isinstance(q, query.Not):
            m, _sc = self.evaluate(q.query)
            return fd.live & ~m, np.zeros(n)
        if isinstance(q, query.Phrase):
            # Scored as the And of its words, inside the phrase's matches (a subset of the
            # And's): words are scored only when the phrase matches somewhere, which most
            # of a typed phrase's fields (persons, topics) do not.
            mask = self.phrase_mask(q)
            scores = np.zeros(n)
            matched = bool(mask.any())
            for w in q.words if q.fieldname in schema else ():
                if matched:
                    ids, term_scores = self.term_scores(query.Term(q.fieldname, w))
                    scores[ids] += term_scores
                    continue
                # Still asked for its idf: a shard's first phase records each word's document
                # frequency from these calls (cluster/shard.py), and the collection's df must
                # count this shard's stories holding the word even where the phrase is absent.
                ids, _weights = self.gen.postings(self.searcher, q.fieldname, w)
                if len(ids):
                    self._idf((q.fieldname, w), len(ids))
            return mask, np.where(mask, scores * q.boost, 0.0)
        if isinstance(q, query.MultiTerm) and not isinstance(q, query.TermRange):
            # Wildcards, prefixes, fuzzy words: the words they expand to (at most
            # query.MAX_EXPANSION, checked by the guard), scored like an Or of them.
            field = schema[q.fieldname]
            words = expand_words(q, self.searcher.reader())
            # (FuzzyTerm yields str where the others yield bytes.)
            terms = [
                query.Term(q.fieldname, b if isinstance(b, str) else field.from_bytes(b))
                for b in words
            ]
            return self.evaluate(query.Or(terms, boost=q.boost))
        if isinstance(q, query.NumericRange) and q.fieldname == "date":
            mask = fd.live & fd.has_date & date_range(fd.ts, q.start, q.end)
            return mask, mask * float(q.boost)
        # Term ranges and anything else: Whoosh's matcher, each match scoring the boost.
        mask = self.matched(q)
        return mask, mask * float(getattr(q, "boost", 1.0))

    def phrase_mask(self, q: Any) -> np.ndarray:
        """Return the documents holding the phrase: candidates holding every word (numpy),
        then their positions checked (only theirs are decoded)."""
        fd = self.fd
        schema = self.searcher.schema
        field = schema[q.fieldname] if q.fieldname in schema else None  # noqa: SIM401
        if field is None or not q.words or not field.format.supports("positions"):
            return self.matched(q)
        cand = fd.live.copy()
        for word in q.words:
            ids, _weights = self.gen.postings(self.searcher, q.fieldname, word)
            present = np.zeros(fd.n, dtype=bool)
            present[ids] = True
            cand &= present
        mask = np.zeros(fd.n, dtype=bool)
        if not cand.any():
            return mask
        if len(q.words) == 1:
            return cand
        for sub, offset in self.searcher.leaf_searchers():
            reader = sub.reader()
            wanted = np.flatnonzero(cand[offset : offset + reader.doc_count_all()])
            if not len(wanted):
                continue
            matchers = [raw_postings(reader, q.fieldname, field.to_bytes(w)) for w in q.words]
            found = phrase_docs(matchers, wanted, q.slop)  # columnar segments: numpy only
            if found is not None:
                mask[offset + found] = True
                continue
            per_word = []
            for matcher in matchers:
                if not hasattr(matcher, "_read_values"):
                    return self.matched(q)
                per_word.append(leaf_positions(matcher, field.format, wanted))
            for doc in wanted:
                d = int(doc)
                self.deadline.check()
                if chained([positions.get(d, []) for positions in per_word], q.slop):
                    mask[offset + d] = True
        return mask

    def matched(self, q: Any) -> np.ndarray:
        """Return the documents Whoosh's own matcher finds for q (phrases, ranges), timed."""
        mask = np.zeros(self.fd.n, dtype=bool)
        ids = np.fromiter(self._timed(self.searcher.docs_for_query(q)), dtype=np.int64)
        mask[ids] = True
        return mask & self.fd.live

    def _timed(self, docnums: Iterator[int]) -> Iterator[int]:
        """Pass document numbers through, giving up past the deadline."""
        for i, docnum in enumerate(docnums):
            if i % 2048 == 0:
                self.deadline.check()
            yield docnum
