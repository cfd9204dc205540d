"""The search service: one API that the CLI, the web pages and the JSON API all call.

How a search runs (see facets.py for the arrays):
1. The query text is parsed and guarded (query.py).
2. The query tree is evaluated with numpy: each word's posting list (ids and frequencies) is
   read block by block into arrays, And/Or/Not become &, |, ~ on boolean masks, and BM25F
   scores (Whoosh's formula) are summed per document; phrases check positions only for the
   documents holding every word; date ranges come from the "ts" column.
3. Filters (facet values, dates) are masks from the generation's facet arrays. Facet counts
   are bincounts over "query AND every OTHER filter" (multi-select), totals are a popcount.
4. The page is a partial sort of the scores (ties newest first); only its stories' stored
   fields are read. Newest/oldest pages come from orders precomputed once per generation.

Whoosh objects never leave this module: hits are copied into dataclasses while the searcher is
open. Each thread keeps its own searcher per index generation (one Searcher shared by threads
fails ~1 in 15 searches), and a changed index is met with a fresh searcher, never refresh()
(which resurrects deleted stories): both from whoosh-facts.md.
"""

from __future__ import annotations

import json
import pickle
import re
import struct
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from whoosh import query

from searchapp import ranking, store
from searchapp.errors import NoIndexError, NotFoundError, QueryError
from searchapp.facets import DATE_FACETS, TERM_FACETS, FacetData, forget_generation
from searchapp.highlight import snippet
from searchapp.models import (
    MAX_PER_PAGE,
    SORTS,
    Article,
    FacetValue,
    Hit,
    SearchPage,
    SearchRequest,
)
from searchapp.postings import (
    chained,
    field_lengths,
    leaf_positions,
    leaf_postings,
    raw_postings,
)
from searchapp.query import Word, _is_null, parse_bound
from searchapp.reading import Reading, read_query

TEXT_FIELDS = ("title", "lead", "body")
SUGGEST_BELOW = 3  # offer did-you-mean when a query finds fewer stories than this
TERM_CACHE_SIZE = 512
# BM25F's free parameters, Whoosh's defaults (whoosh.scoring.BM25F).
B = 0.75
K1 = 1.2

# Seconds one search may spend in Whoosh's matchers before it is refused.
TIME_LIMIT = 2.0


def _too_slow(limit: float) -> str:
    return (
        f"the query took longer than {limit:g} s and was stopped: make it more specific "
        "(fewer wildcards, fewer OR-ed words, or add a filter)"
    )


class Damaged(ValueError):
    """Index data that decodes to nonsense (a corrupt stored record)."""


# What a damaged index file raises when decoded (a truncated TOC, a corrupt segment).
DAMAGE = (OSError, EOFError, zlib.error, struct.error, pickle.UnpicklingError, Damaged)


def article_from_stored(stored: dict[str, Any]) -> Article:
    """Rebuild an Article from its stored JSON blob (the agency's UTC offset restored)."""
    try:
        data = json.loads(stored["doc"])
        if not isinstance(data, dict) or "id" not in data:
            raise Damaged("a stored story is not a JSON object with an id")
    except (KeyError, TypeError, ValueError) as exc:
        raise Damaged(f"a stored story cannot be read: {exc}") from exc
    when = None
    if data.get("date"):
        when = datetime.fromisoformat(data["date"])
        offset = data.get("utc_offset_min", 0)
        when = when.astimezone(timezone(timedelta(minutes=offset)))
    return Article(
        id=data["id"],
        title=data.get("title", ""),
        lead=data.get("lead", ""),
        body=data.get("body", ""),
        date=when,
        section=data.get("section", ""),
        topics=tuple(data.get("topics", ())),
        persons=tuple(data.get("persons", ())),
        place=data.get("place", ""),
        photo_credit=data.get("photo_credit", ""),
        source=stored.get("source", ""),
    )


def highlight_terms(q: Any, reader: Any) -> set[str]:
    """Return the analysed words of title/lead/body that a query matches (wildcards expanded).

    Not Query.existing_terms(): in Whoosh 2.7.5 its loop variable shadows its ``fieldname``
    argument, so after the first leaf it skips every leaf of another field (a query over
    title, lead and body yields only the title's words). See tests/test_whoosh_bugs.py.
    """
    terms: set[str] = set()
    for leaf in q.leaves():
        for fieldname, text in leaf.expanded_terms(reader, phrases=True):
            if fieldname in TEXT_FIELDS:
                terms.add(text.decode("utf-8") if isinstance(text, bytes) else text)
    return terms


# Whoosh's DATETIME counts microseconds from 0001-01-01; our "ts" column holds epoch seconds.
_EPOCH_TICKS = (datetime(1970, 1, 1) - datetime(1, 1, 1)).days * 86_400 * 1_000_000


def _date_range(ts: np.ndarray, start: int | None, end: int | None) -> np.ndarray:
    """Return ts within a parsed date:[…] range (Whoosh ticks, both ends inclusive)."""
    mask = np.ones(len(ts), dtype=bool)
    if start is not None:
        mask &= ts >= -(-(start - _EPOCH_TICKS) // 1_000_000)
    if end is not None:
        mask &= ts <= (end - _EPOCH_TICKS) // 1_000_000
    return mask


def _check_request(req: SearchRequest) -> tuple[int | None, int | None]:
    """Check a request's parameters; return its date bounds in epoch seconds."""
    if req.sort not in SORTS:
        raise QueryError(f'sort "{req.sort}" is not known: use {", ".join(SORTS)}')
    if not 1 <= req.per_page <= MAX_PER_PAGE:
        raise QueryError(f"per_page {req.per_page} is out of range: use 1 to {MAX_PER_PAGE}")
    if req.page < 1:
        raise QueryError(f"page {req.page} does not exist: pages start at 1")
    if req.facet_limit < 0:
        raise QueryError("facet_limit must be 0 (all values) or more")
    start = parse_bound(req.date_from, "--from", end=False)
    stop = parse_bound(req.date_to, "--to", end=True)
    if start is not None and stop is not None and start >= stop:
        raise QueryError(f"--from {req.date_from} is after --to {req.date_to}: swap them")
    return start, stop


@dataclass
class _Selection:
    """The documents a request selects, as masks over document numbers."""

    base: np.ndarray  # the query alone
    filters: dict[str, np.ndarray]  # each facet filter alone
    dates: np.ndarray | None  # the date range alone
    final: np.ndarray  # all of them together: the results
    sort: str
    scores: np.ndarray | None  # relevance of every document (None without a query)
    tier: np.ndarray | None = None  # stories holding every soft word (lenient reading)


@dataclass(frozen=True)
class Matches:
    """The stories a request selects: a boolean mask over the generation's document numbers."""

    facets: FacetData  # the generation's facet arrays (ts, values, counting)
    mask: np.ndarray  # final result set: query AND filters AND dates, live stories only
    scores: np.ndarray | None  # relevance per document (None without a query)


@dataclass
class _State:
    """Everything derived from one index generation (one TOC of one gen directory)."""

    gen: Path
    toc: int
    ix: Any
    facets: FacetData
    newest: np.ndarray
    oldest: np.ndarray
    term_cache: OrderedDict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=OrderedDict
    )
    landing: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    lengths: dict[str, np.ndarray | None] = field(default_factory=dict)
    avg_lengths: dict[str, float] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _orders(fd: FacetData) -> tuple[np.ndarray, np.ndarray]:
    # Undated stories go last in both orders; equal dates fall back to document number.
    docs = np.arange(fd.n)
    undated = ~fd.has_date
    newest = np.lexsort((-docs, -fd.ts, undated))
    oldest = np.lexsort((docs, fd.ts, undated))
    return newest, oldest


class SearchService:
    """Searches one index directory; safe to share between threads."""

    def __init__(
        self, index_dir: Path, time_limit: float = TIME_LIMIT, term_cache: int = TERM_CACHE_SIZE
    ) -> None:
        self.index_dir = Path(index_dir)
        self.time_limit = time_limit
        # Decoded posting lists kept per generation (0 = none: every search reads the index).
        self.term_cache_size = term_cache
        self._state_lock = threading.Lock()
        self._current: _State | None = None
        self._local = threading.local()

    # -- index generations -----------------------------------------------------------------

    def _state(self) -> _State:
        gen = store.current_generation(self.index_dir)
        state = self._current
        if state is not None and gen == state.gen:
            try:
                if state.ix.latest_generation() == state.toc:
                    return state
            except OSError:
                pass
        with self._state_lock:
            gen, ix = store.open_generation(self.index_dir)
            toc = ix.latest_generation()
            state = self._current
            if state is not None and state.gen == gen and state.toc == toc:
                return state
            with ix.searcher() as s:
                facets = FacetData(gen, s)
            newest, oldest = _orders(facets)
            previous = self._current
            state = _State(gen=gen, toc=toc, ix=ix, facets=facets, newest=newest, oldest=oldest)
            self._current = state
            if previous is not None and previous.gen != gen:
                # A long-running server must not keep every generation's arrays forever.
                forget_generation(previous.gen)
            return state

    def _searcher(self, state: _State) -> Any:
        # One searcher per thread per generation; dropping the old one releases its files.
        self._local.state = state
        cached = getattr(self._local, "searcher", None)
        if cached is not None and cached[0] is state:
            return cached[1]
        searcher = state.ix.searcher()
        self._local.searcher = (state, searcher)
        self._local.state = state
        return searcher

    # -- matching --------------------------------------------------------------------------

    def _postings(
        self, state: _State, searcher: Any, fieldname: str, text: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return a term's document numbers and weights (term frequencies), cached per term."""
        key = (fieldname, text)
        with state.lock:
            hit = state.term_cache.get(key)
            if hit is not None:
                state.term_cache.move_to_end(key)
                return hit
        id_parts, weight_parts = [], []
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            btext = reader.schema[fieldname].to_bytes(text)
            if (fieldname, btext) in reader:
                ids, weights = leaf_postings(raw_postings(reader, fieldname, btext))
                id_parts.append(ids + offset)
                weight_parts.append(weights)
        if id_parts:
            found = (np.concatenate(id_parts), np.concatenate(weight_parts))
        else:
            found = (np.zeros(0, np.int64), np.zeros(0, np.float32))
        with state.lock:
            state.term_cache[key] = found
            while len(state.term_cache) > self.term_cache_size:
                state.term_cache.popitem(last=False)
        return found

    def _lengths(self, state: _State, searcher: Any, fieldname: str) -> np.ndarray | None:
        """Return every document's length in a field (as Whoosh stores it), per generation."""
        with state.lock:
            if fieldname in state.lengths:
                return state.lengths[fieldname]
        parts = [field_lengths(sub.reader(), fieldname) for sub, _ in searcher.leaf_searchers()]
        arrays = [p for p in parts if p is not None]
        lengths = np.concatenate(arrays) if arrays and len(arrays) == len(parts) else None
        with state.lock:
            state.lengths[fieldname] = lengths
        return lengths

    def _avg_length(self, state: _State, searcher: Any, fieldname: str) -> float:
        avg = state.avg_lengths.get(fieldname)
        if avg is None:
            avg = searcher.reader().field_length(fieldname) / (state.facets.n or 1) or 1.0
            state.avg_lengths[fieldname] = avg
        return avg

    def _term_scores(self, state: _State, searcher: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (document numbers, BM25 scores) of one term in one field (ranking.py)."""
        ids, weights = self._postings(state, searcher, q.fieldname, q.text)
        if len(ids) == 0:
            return ids, weights
        field = searcher.schema[q.fieldname]
        lengths = self._lengths(state, searcher, q.fieldname) if field.scorable else None
        avg = self._avg_length(state, searcher, q.fieldname) if lengths is not None else 1.0
        tf = ranking.field_tf(weights, lengths[ids] if lengths is not None else None, avg, 1.0)
        scores = ranking.saturate(tf, ranking.idf(state.facets.n, len(ids)))
        return ids, scores * q.boost

    def _word(self, state: _State, searcher: Any, q: Word) -> tuple[np.ndarray, np.ndarray]:
        """Return (mask, BM25F scores) of one typed word over its fields (ranking.py).

        Each field's frequency is weighted by its boost and normalised by its own length,
        the sum saturated once with one idf: the word's document frequency in any field.
        Children that are not single words (phrases, wildcards) add their own scores.
        """
        fd = state.facets
        weighted = np.zeros(fd.n)
        present = np.zeros(fd.n, dtype=bool)
        other = np.zeros(fd.n, dtype=bool)
        scores = np.zeros(fd.n)
        for child in q.subqueries:
            if not (isinstance(child, query.Term) and isinstance(child.text, str)):
                m, sc = self._eval(state, searcher, child)
                other |= m
                scores += sc
                continue
            if child.fieldname not in searcher.schema:
                continue
            ids, tf = self._postings(state, searcher, child.fieldname, child.text)
            if len(ids) == 0:
                continue
            field = searcher.schema[child.fieldname]
            lengths = self._lengths(state, searcher, child.fieldname) if field.scorable else None
            avg = self._avg_length(state, searcher, child.fieldname) if lengths is not None else 1
            lens = lengths[ids] if lengths is not None else None
            weighted[ids] += ranking.field_tf(tf, lens, avg, child.boost)
            present[ids] = True
        docs = np.flatnonzero(present)
        if len(docs):
            word_idf = ranking.idf(fd.n, len(docs))
            scores[docs] += ranking.saturate(weighted[docs], word_idf)
        mask = (present | other) & fd.live
        return mask, np.where(mask, scores * q.boost, 0.0)

    def _eval(self, state: _State, searcher: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
        """Return (matching documents as a mask, their scores) for a query tree.

        Scores follow Whoosh's BM25F: a term scores bm25(idf, tf, length); Or and And add their
        children's scores, And only where all match; AndNot and Require score their first
        part; phrases score as the sum of their words inside the exact-phrase matches.
        Computing this with numpy over whole posting lists costs the same for 10 or 10,000
        matches, where Whoosh's collector steps through every match in Python (118 ms p95 at
        216k stories, profiled).
        """
        if time.perf_counter() > getattr(self._local, "deadline", float("inf")):
            raise QueryError(_too_slow(self.time_limit))
        fd = state.facets
        n = fd.n
        if isinstance(q, query.Term) and isinstance(q.text, str):
            mask = np.zeros(n, dtype=bool)
            scores = np.zeros(n)
            if q.fieldname in searcher.schema:
                ids, term_scores = self._term_scores(state, searcher, q)
                mask[ids] = True
                scores[ids] = term_scores
            mask &= fd.live
            return mask, scores
        if isinstance(q, query.Every):
            return fd.live.copy(), np.zeros(n)
        if _is_null(q):
            return np.zeros(n, dtype=bool), np.zeros(n)
        if isinstance(q, Word):
            return self._word(state, searcher, q)
        if isinstance(q, (query.Or, query.DisjunctionMax)) and not getattr(q, "minmatch", 0):
            mask = np.zeros(n, dtype=bool)
            scores = np.zeros(n)
            for child in q.subqueries:
                if isinstance(child, query.Term) and isinstance(child.text, str):
                    # Words add their postings in place: no two full-size arrays per word
                    # (an OR of 50 words, or a wildcard's 500 expansions, stays cheap).
                    if child.fieldname in searcher.schema:
                        ids, term_scores = self._term_scores(state, searcher, child)
                        mask[ids] = True
                        scores[ids] += term_scores
                    continue
                m, sc = self._eval(state, searcher, child)
                mask |= m
                scores += sc
            mask &= fd.live
            return mask, scores * q.boost
        if isinstance(q, query.And):
            mask = fd.live.copy()
            scores = np.zeros(n)
            for child in q.subqueries:
                m, sc = self._eval(state, searcher, child)
                mask &= m
                scores += sc
            return mask, np.where(mask, scores * q.boost, 0.0)
        if isinstance(q, (query.AndNot, query.Require)):
            ma, sa = self._eval(state, searcher, q.a)
            mb, _sb = self._eval(state, searcher, q.b)
            mask = ma & ~mb if isinstance(q, query.AndNot) else ma & mb
            return mask, np.where(mask, sa, 0.0)
        if isinstance(q, query.AndMaybe):
            ma, sa = self._eval(state, searcher, q.a)
            _mb, sb = self._eval(state, searcher, q.b)
            return ma, np.where(ma, sa + sb, 0.0)
        if isinstance(q, query.Not):
            m, _sc = self._eval(state, searcher, q.query)
            return fd.live & ~m, np.zeros(n)
        if isinstance(q, query.Phrase):
            mask = self._phrase_mask(state, searcher, q)
            words = query.And([query.Term(q.fieldname, w) for w in q.words], boost=q.boost)
            _m, scores = self._eval(state, searcher, words)
            return mask, np.where(mask, scores, 0.0)
        if isinstance(q, query.MultiTerm) and not isinstance(q, query.TermRange):
            # Wildcards, prefixes, fuzzy words: the words they expand to (at most
            # query.MAX_EXPANSION, checked by the guard), scored like an Or of them.
            field = searcher.schema[q.fieldname]
            words = q._btexts(searcher.reader())
            # (FuzzyTerm yields str where the others yield bytes.)
            terms = [
                query.Term(q.fieldname, b if isinstance(b, str) else field.from_bytes(b))
                for b in words
            ]
            return self._eval(state, searcher, query.Or(terms, boost=q.boost))
        if isinstance(q, query.NumericRange) and q.fieldname == "date":
            mask = fd.live & fd.has_date & _date_range(fd.ts, q.start, q.end)
            return mask, mask * float(q.boost)
        # Ranges and anything else: Whoosh's matcher, each match scoring the query's boost.
        mask = self._matched(state, searcher, q)
        return mask, mask * float(getattr(q, "boost", 1.0))

    def _phrase_mask(self, state: _State, searcher: Any, q: Any) -> np.ndarray:
        """Return the documents holding the phrase: candidates holding every word (numpy),
        then their positions checked (only theirs are decoded)."""
        fd = state.facets
        field = searcher.schema[q.fieldname] if q.fieldname in searcher.schema else None  # noqa: SIM401
        if field is None or not q.words or not field.format.supports("positions"):
            return self._matched(state, searcher, q)
        cand = fd.live.copy()
        for word in q.words:
            ids, _weights = self._postings(state, searcher, q.fieldname, word)
            present = np.zeros(fd.n, dtype=bool)
            present[ids] = True
            cand &= present
        mask = np.zeros(fd.n, dtype=bool)
        if not cand.any():
            return mask
        if len(q.words) == 1:
            return cand
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            wanted = np.flatnonzero(cand[offset : offset + reader.doc_count_all()])
            if not len(wanted):
                continue
            per_word = []
            for word in q.words:
                matcher = raw_postings(reader, q.fieldname, field.to_bytes(word))
                if not hasattr(matcher, "_read_values"):
                    return self._matched(state, searcher, q)
                per_word.append(leaf_positions(matcher, field.format, wanted))
            for doc in wanted:
                d = int(doc)
                if time.perf_counter() > getattr(self._local, "deadline", float("inf")):
                    raise QueryError(_too_slow(self.time_limit))
                if chained([positions.get(d, []) for positions in per_word], q.slop):
                    mask[offset + d] = True
        return mask

    def _matched(self, state: _State, searcher: Any, q: Any) -> np.ndarray:
        """Return the documents Whoosh's own matcher finds for q (phrases, ranges), timed."""
        mask = np.zeros(state.facets.n, dtype=bool)
        ids = np.fromiter(self._timed(searcher.docs_for_query(q)), dtype=np.int64)
        mask[ids] = True
        return mask & state.facets.live

    def _timed(self, docnums: Iterator[int]) -> Iterator[int]:
        """Pass document numbers through, giving up past the time limit (any thread)."""
        deadline = getattr(self._local, "deadline", time.perf_counter() + self.time_limit)
        for i, docnum in enumerate(docnums):
            if i % 2048 == 0 and time.perf_counter() > deadline:
                raise QueryError(_too_slow(self.time_limit))
            yield docnum

    # -- public API: every call guarded against a vanished or damaged generation ---------

    def _guard(self, fn: Any, *args: Any) -> Any:
        for attempt in range(2):
            try:
                return fn(*args)
            except (*DAMAGE, TypeError, KeyError, IndexError, ValueError, AttributeError) as exc:
                # The state THIS thread read (self._current may be another thread's by now).
                state = getattr(self._local, "state", None)
                self._current = None
                self._local.searcher = None
                # A generation removed under a late reader (two commits in quick succession)
                # makes Whoosh fail in odd ways (a missing column reads as None: TypeError,
                # KeyError...): if the generation we read is no longer live, read the live
                # one, once.
                live = store.current_generation(self.index_dir)
                if attempt == 0 and state is not None and state.gen != live:
                    continue
                if not isinstance(exc, DAMAGE):
                    raise  # not the index's data: a bug of ours, not to be hidden as a 503
                raise NoIndexError(
                    f"the index in {self.index_dir} is damaged ({type(exc).__name__}: {exc}): "
                    f"rebuild it from the corpus with `searchapp index --rebuild --index "
                    f"{self.index_dir}` (`searchapp check` shows what is wrong)"
                ) from exc
        raise AssertionError("unreachable")

    def search(self, req: SearchRequest) -> SearchPage:
        """Run one search and return the page, with facets over the whole result set."""
        page: SearchPage = self._guard(self._search, req)
        return page

    def matches(self, req: SearchRequest) -> Matches:
        """Return the stories a request selects (query, filters, dates) over one generation.

        The building block of views over the whole result set (trends, co-occurrence): the
        facet arrays of the generation read and the mask of matching document numbers.
        """
        found: Matches = self._guard(self._matches, req)
        return found

    def _matches(self, req: SearchRequest) -> Matches:
        start, stop = _check_request(req)
        self._local.deadline = time.perf_counter() + self.time_limit
        state = self._state()
        searcher = self._searcher(state)
        reading = self._read(req, searcher)
        sel = self._select(state, searcher, req, reading, start, stop, None)
        return Matches(facets=state.facets, mask=sel.final, scores=sel.scores)

    def get_article(self, article_id: str) -> Article:
        """Return one article by id, or raise NotFoundError."""
        article: Article = self._guard(self._get_article, article_id)
        return article

    def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        """Return search-box suggestions: persons, topics and titles starting with prefix."""
        items: list[dict[str, Any]] = self._guard(self._suggest, prefix, limit)
        return items

    def stats(self) -> dict[str, Any]:
        """Return what the index holds: stories, dates, size, segments, top facet values."""
        data: dict[str, Any] = self._guard(self._stats)
        return data

    # -- the search ------------------------------------------------------------------------

    def _search(self, req: SearchRequest) -> SearchPage:
        """Run one search and return the page, with facets over the whole result set."""
        started = time.perf_counter()
        start, stop = _check_request(req)
        # Checked between query nodes and inside Whoosh's matchers; works in any thread.
        self._local.deadline = started + self.time_limit
        state = self._state()
        searcher = self._searcher(state)

        exclude: int | None = None
        if req.like:
            q, exclude = self._like_query(searcher, req.like)
            reading = Reading(text=req.like, strict=True, required=q)
        else:
            reading = self._read(req, searcher)
        page = self._run(state, searcher, req, reading, start, stop, exclude)
        if reading.query is not None and not req.like and page.total < SUGGEST_BELOW:
            self._did_you_mean(state, searcher, req, page, start, stop)
        page.took_ms = (time.perf_counter() - started) * 1000
        return page

    def _read(self, req: SearchRequest, searcher: Any) -> Reading:
        """Read the request's query text, leniently unless the request is strict."""
        return read_query(req.q, searcher.schema, searcher.reader(), strict=req.strict)

    def _match_reading(
        self, state: _State, searcher: Any, reading: Reading
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """Return (matching stories, scores, all-words tier) of a reading.

        Hard parts (phrases, +/-, fields, expressions) must match; then a story needs at
        least one soft word, and the stories holding every soft word form the first tier.
        """
        fd = state.facets
        if reading.empty:
            return fd.live.copy(), None, None
        if reading.nothing:
            return np.zeros(fd.n, dtype=bool), np.zeros(fd.n), None
        if reading.required is not None:
            base, scores = self._eval(state, searcher, reading.required)
        else:
            base, scores = fd.live.copy(), np.zeros(fd.n)
        for label, phrase, _words in list(reading.phrases):
            m, sc = self._eval(state, searcher, phrase)
            if m.any():
                base &= m
                scores += sc
            else:
                reading.relax(label)
        if reading.nothing:
            return np.zeros(fd.n, dtype=bool), np.zeros(fd.n), None
        if not reading.words:
            return base, scores, None
        every = base.copy()
        some = np.zeros(fd.n, dtype=bool)
        for word in reading.words:
            m, sc = self._eval(state, searcher, word)
            every &= m
            some |= m
            scores += sc
        base &= some
        return base, np.where(base, scores, 0.0), every & base

    def _select(
        self,
        state: _State,
        searcher: Any,
        req: SearchRequest,
        reading: Reading,
        start: int | None,
        stop: int | None,
        exclude: int | None,
    ) -> _Selection:
        """Compute the query's documents, each filter's, and the final result set."""
        fd = state.facets
        base, scores, tier = self._match_reading(state, searcher, reading)
        if exclude is not None:
            base[exclude] = False
        filters = {name: fd.value_mask(name, values) for name, values in req.filters().items()}
        dates = fd.date_mask(start, stop) if (start is not None or stop is not None) else None
        final = base.copy()
        for m in filters.values():
            final &= m
        if dates is not None:
            final &= dates
        # Without a query there is nothing to rank by: relevance means newest first.
        ranked = scores is not None
        sort = req.sort if ranked else ("newest" if req.sort == "relevance" else req.sort)
        return _Selection(base, filters, dates, final, sort, scores, tier)

    def _run(
        self,
        state: _State,
        searcher: Any,
        req: SearchRequest,
        reading: Reading,
        start: int | None,
        stop: int | None,
        exclude: int | None = None,
    ) -> SearchPage:
        sel = self._select(state, searcher, req, reading, start, stop, exclude)
        q = reading.query
        base, filters, dates, final = sel.base, sel.filters, sel.dates, sel.final
        total = int(final.sum())
        pages = max(1, -(-total // req.per_page))
        if req.page > pages:
            raise QueryError(
                f"page {req.page} is past the last page ({pages}) of {total} results: "
                f"use a page from 1 to {pages}"
            )

        # A reading with nothing left to search matches nothing: not the landing page's counts.
        counted_q = query.NullQuery if reading.nothing else q
        facets, truncated = self._facets(state, req, counted_q, base, filters, dates, final)
        sort = sel.sort
        lo = (req.page - 1) * req.per_page
        hi = lo + req.per_page
        if sort == "relevance":
            ranked = self._top(state, final, sel.scores, hi, sel.tier)
            picked = ranked[lo:hi]
        else:
            order = state.newest if sort == "newest" else state.oldest
            docs = order[final[order]][lo:hi]
            picked = [(int(d), None) for d in docs]
        hits = self._hits(searcher, q, picked, req.snippets)
        return SearchPage(
            query=req.q if not req.like else f"like:{req.like}",
            total=total,
            page=req.page,
            per_page=req.per_page,
            took_ms=0.0,
            sort=sort,
            hits=hits,
            facets=facets,
            truncated=truncated,
            request=req,
            # Tiers only mean something with two soft words or more.
            total_all=(
                int((final & sel.tier).sum())
                if sel.tier is not None and len(reading.words) > 1
                else None
            ),
            reading=reading.to_dict() if not reading.strict and not reading.empty else None,
        )

    def _top(
        self,
        state: _State,
        final: np.ndarray,
        scores: np.ndarray | None,
        need: int,
        tier: np.ndarray | None = None,
    ) -> list[tuple[int, float | None]]:
        """Return the best `need` results as (docnum, score): all-words tier first, then
        score, ties newest first."""
        docs = np.flatnonzero(final)
        if scores is None or len(docs) == 0 or need == 0:
            return []
        doc_scores = np.round(scores[docs], 9)
        top_tier = tier[docs].astype(np.int8) if tier is not None else None
        order = ranking.ranked(docs, doc_scores, top_tier, state.facets.ts, need)
        return [(int(docs[i]), float(doc_scores[i])) for i in order]

    def _facets(
        self,
        state: _State,
        req: SearchRequest,
        q: Any,
        base: np.ndarray,
        filters: dict[str, np.ndarray],
        dates: np.ndarray | None,
        final: np.ndarray,
    ) -> tuple[dict[str, list[FacetValue]], dict[str, bool]]:
        fd = state.facets
        landing = q is None and not filters and dates is None and not req.like
        counted: dict[str, list[tuple[str, int]]] = {}
        for name in TERM_FACETS:
            if landing and name in state.landing:
                counted[name] = state.landing[name]
                continue
            # Multi-select: a facet's counts ignore its own filter, honour all the others.
            mask = base.copy() if dates is None else base & dates
            for other, m in filters.items():
                if other != name:
                    mask &= m
            counted[name] = fd.count_terms(name, mask)
            if landing:
                state.landing[name] = counted[name]
        # The date histogram shows the results themselves (drill-down narrows it).
        for name in DATE_FACETS:
            if name == "day" and fd.months_spanned(final) > 2:
                continue
            if landing and name in state.landing:
                counted[name] = state.landing[name]
                continue
            counted[name] = fd.count_dates(name, final)
            if landing:
                state.landing[name] = counted[name]
        facets: dict[str, list[FacetValue]] = {}
        truncated: dict[str, bool] = {}
        limit = req.facet_limit
        for name, values in counted.items():
            cut = values if limit == 0 or name in DATE_FACETS else values[:limit]
            facets[name] = [FacetValue(v, c) for v, c in cut]
            truncated[name] = len(cut) < len(values)
        return facets, truncated

    def _hits(
        self, searcher: Any, q: Any, picked: list[tuple[int, float | None]], snippets: bool
    ) -> list[Hit]:
        terms = highlight_terms(q, searcher.reader()) if q is not None and snippets else set()
        hits = []
        for docnum, score in picked:
            article = article_from_stored(searcher.stored_fields(docnum))
            text = snippet([article.body, article.lead], terms) if snippets else ""
            hits.append(
                Hit(
                    id=article.id,
                    title=article.title,
                    date=article.iso_date,
                    section=article.section,
                    topics=article.topics,
                    persons=article.persons,
                    place=article.place,
                    score=round(score, 4) if score is not None else None,
                    snippet=text,
                    lead=article.lead,
                )
            )
        return hits

    # -- did you mean ----------------------------------------------------------------------

    _WORD = re.compile(r'(?<![\w:~^*?"])([^\W\d_]{3,})(?![\w:~^*?])')

    def _did_you_mean(
        self,
        state: _State,
        searcher: Any,
        req: SearchRequest,
        page: SearchPage,
        start: int | None,
        stop: int | None,
    ) -> None:
        reader = searcher.reader()
        corrector = searcher.corrector("spell")
        changed = False
        operators = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}
        text = req.q
        # Words inside quotes are corrected too; fields and operators are left alone.

        def fix(m: re.Match[str]) -> str:
            nonlocal changed
            word = m.group(1)
            if word in operators or (("spell", word.lower()) in reader):
                return word
            # prefix=2: Whoosh compares every lexicon word sharing the prefix in Python;
            # one shared letter cost 55 ms a word on Reuters, two cost a tenth of that.
            found = corrector.suggest(word.lower(), limit=1, maxdist=2, prefix=2)
            if not found or found[0] == word.lower():
                return word
            changed = True
            return found[0]

        corrected = self._WORD.sub(fix, text)
        if not changed:
            return
        try:
            reading2 = read_query(corrected, searcher.schema, reader, strict=req.strict)
        except QueryError:
            return
        other = self._run(state, searcher, replace(req, q=corrected, page=1), reading2, start, stop)
        if other.total <= page.total:
            return
        page.suggestion = corrected
        if page.total == 0:
            # Typo-tolerant fallback: show what the corrected query finds, and say so.
            page.total = other.total
            page.hits = other.hits
            page.facets = other.facets
            page.truncated = other.truncated
            page.total_all = other.total_all
            page.reading = other.reading
            page.corrected_query = corrected

    # -- more like this --------------------------------------------------------------------

    def _like_query(self, searcher: Any, article_id: str) -> tuple[Any, int]:
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            raise NotFoundError(f'no article with id "{article_id}" in the index')
        article = article_from_stored(searcher.stored_fields(docnum))
        text = " ".join([article.title, article.title, article.lead, article.body])
        terms = searcher.key_terms_from_text("body", text, numterms=15)
        if not terms:
            raise QueryError(f'article "{article_id}" has too few words to find similar ones')
        q = query.Or([query.Term("body", t, boost=float(w)) for t, w in terms])
        return q, docnum

    # -- single articles, suggestions, export, stats ---------------------------------------

    def _get_article(self, article_id: str) -> Article:
        """Return one article by id, or raise NotFoundError."""
        state = self._state()
        searcher = self._searcher(state)
        docnum = searcher.document_number(id=article_id) if article_id else None
        if docnum is None:
            raise NotFoundError(f'no article with id "{article_id}" in the index')
        return article_from_stored(searcher.stored_fields(docnum))

    def _suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        """Return search-box suggestions: persons, topics and titles starting with prefix."""
        prefix = prefix.strip()
        if not prefix or len(prefix) > 100:
            return []
        state = self._state()
        searcher = self._searcher(state)
        fd = state.facets
        low = prefix.lower()
        out: list[dict[str, Any]] = []
        everything = fd.live
        for facet, kind in (("persons", "person"), ("topics", "topic")):
            counts = dict(state.landing.get(facet) or fd.count_terms(facet, everything))
            matches = [
                v
                for v in fd.values[facet]
                if any(w.startswith(low) for w in v.lower().split()) and counts.get(v)
            ]
            matches.sort(key=lambda v: (-counts[v], v))
            out += [{"value": v, "kind": kind, "count": counts[v]} for v in matches[:limit]]
        out.sort(key=lambda d: -d["count"])
        out = out[: max(1, limit // 2)] if len(out) > limit // 2 else out
        words = [w for w in re.findall(r"\w+", low)]
        if words:
            parts = [query.Term("title", w) for w in words[:-1]]
            parts.append(query.Prefix("title", words[-1]))
            q = query.And(parts) if len(parts) > 1 else parts[0]
            try:
                results = searcher.search(q, limit=limit - len(out))
                for _score, docnum in results.top_n:
                    title = article_from_stored(searcher.stored_fields(docnum)).title
                    if title and all(title != d["value"] for d in out):
                        out.append({"value": title, "kind": "title", "count": 1})
            except RecursionError:
                pass
        return out[:limit]

    def export(self, req: SearchRequest) -> Iterator[Article]:
        """Yield EVERY article matching the request (filters honoured), in the page order."""
        start, stop = _check_request(req)
        self._local.deadline = time.perf_counter() + self.time_limit
        state = self._state()
        searcher = self._searcher(state)
        exclude = None
        if req.like:
            q, exclude = self._like_query(searcher, req.like)
            reading = Reading(text=req.like, strict=True, required=q)
        else:
            reading = self._read(req, searcher)
        sel = self._select(state, searcher, req, reading, start, stop, exclude)
        final, sort = sel.final, sel.sort
        if sort == "relevance":
            need = int(final.sum())
            docs = [d for d, _score in self._top(state, final, sel.scores, need, sel.tier)]
        else:
            order = state.newest if sort == "newest" else state.oldest
            docs = [int(d) for d in order[final[order]]]
        for docnum in docs:
            yield article_from_stored(searcher.stored_fields(docnum))

    def _stats(self) -> dict[str, Any]:
        """Return what the index holds: stories, dates, size, segments, top facet values."""
        state = self._state()
        fd = state.facets
        dated = fd.ts[fd.live & fd.has_date]
        size = sum(p.stat().st_size for p in state.gen.iterdir() if p.is_file())
        top = {name: fd.count_terms(name, fd.live)[:10] for name in TERM_FACETS}

        def iso(ts: int) -> str:
            return datetime.fromtimestamp(int(ts), timezone.utc).isoformat()

        return {
            "index": str(state.gen),
            "stories": fd.live_count,
            "first_date": iso(dated.min()) if len(dated) else None,
            "last_date": iso(dated.max()) if len(dated) else None,
            "undated": int((fd.live & ~fd.has_date).sum()),
            "size_bytes": size,
            "segments": len(state.ix._segments()),
            "top": {k: [{"value": v, "count": c} for v, c in vals] for k, vals in top.items()},
        }
