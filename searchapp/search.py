"""The search service: one API that the CLI, the web pages and the JSON API all call.

How a search runs (see facets.py for the arrays):
1. The query text is parsed and guarded (query.py).
2. The set of matching documents is computed as a numpy boolean mask by walking the query
   tree: postings of each word are read block by block, And/Or/Not become &, |, ~.
3. Filters (facet values, dates) are masks from the generation's facet arrays. Facet counts
   are bincounts over "query AND every OTHER filter" (multi-select), totals are a popcount.
4. Only the page itself touches Whoosh's scorer (top-k with block-max skipping) and stored
   fields. Newest/oldest pages come from sort orders precomputed once per generation.

Whoosh objects never leave this module: hits are copied into dataclasses while the searcher is
open. Each thread keeps its own searcher per index generation (one Searcher shared by threads
fails ~1 in 15 searches), and a changed index is met with a fresh searcher, never refresh()
(which resurrects deleted stories): both from whoosh-facts.md.
"""

from __future__ import annotations

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
from whoosh.collectors import TimeLimit, TimeLimitCollector
from whoosh.idsets import DocIdSet

from searchapp import store
from searchapp.errors import NoIndexError, NotFoundError, QueryError
from searchapp.facets import DATE_FACETS, TERM_FACETS, FacetData, _raw_postings, leaf_ids
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
from searchapp.query import _is_null, parse_bound, parse_query

TEXT_FIELDS = ("title", "lead", "body")
SUGGEST_BELOW = 3  # offer did-you-mean when a query finds fewer stories than this
TERM_CACHE_SIZE = 512
# What a damaged index file raises when decoded (a truncated TOC, a corrupt segment).
DAMAGE = (OSError, EOFError, zlib.error, struct.error, pickle.UnpicklingError)

# Seconds one search may spend in Whoosh's matchers before it is refused.
TIME_LIMIT = 2.0


def _too_slow(limit: float) -> str:
    return (
        f"the query took longer than {limit:g} s and was stopped: make it more specific "
        "(fewer wildcards, fewer OR-ed words, or add a filter)"
    )


def article_from_stored(stored: dict[str, Any]) -> Article:
    """Rebuild an Article from its stored JSON blob (the agency's UTC offset restored)."""
    import json

    data = json.loads(stored["doc"])
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


def _without_positions(q: Any) -> tuple[Any, bool]:
    """Return q with every phrase turned into an AND of its words, and whether any was.

    A phrase scores as the sum of its words (Whoosh's span matcher only filters); the exact
    phrase matches are already in the result mask, which filters the scoring pass. Checking
    positions twice doubled the cost of phrase queries (profiled: spans in both passes).
    """
    if isinstance(q, query.Phrase):
        terms = [query.Term(q.fieldname, w) for w in q.words]
        return query.And(terms, boost=q.boost), True
    if q.is_leaf():
        return q, False
    changed = False
    children = []
    for child in q.children():
        new, did = _without_positions(child)
        children.append(new)
        changed = changed or did
    if not changed:
        return q, False
    if isinstance(q, query.CompoundQuery):
        return q.__class__(children, boost=q.boost), True
    return q.apply(lambda c: _without_positions(c)[0]), True


class _MaskSet(DocIdSet):
    """A read-only docnum set over a boolean mask, for Whoosh's collector filter.

    Building a Python set of 200k document numbers per search costs more than the search;
    membership in a bytes object is one index operation.
    """

    def __init__(self, mask: np.ndarray) -> None:
        self._bytes = mask.astype(np.uint8).tobytes()
        self._n = len(self._bytes)

    def __contains__(self, docnum: object) -> bool:
        return isinstance(docnum, int) and 0 <= docnum < self._n and self._bytes[docnum] == 1

    def __len__(self) -> int:
        return self._bytes.count(1)

    def __bool__(self) -> bool:
        return True

    def __iter__(self) -> Iterator[int]:
        return (i for i, b in enumerate(self._bytes) if b)


@dataclass
class _Selection:
    """The documents a request selects, as masks over document numbers."""

    base: np.ndarray  # the query alone
    filters: dict[str, np.ndarray]  # each facet filter alone
    dates: np.ndarray | None  # the date range alone
    final: np.ndarray  # all of them together: the results
    sort: str


@dataclass
class _State:
    """Everything derived from one index generation (one TOC of one gen directory)."""

    gen: Path
    toc: int
    ix: Any
    facets: FacetData
    newest: np.ndarray
    oldest: np.ndarray
    term_cache: OrderedDict[tuple[str, str], np.ndarray] = field(default_factory=OrderedDict)
    landing: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
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

    def __init__(self, index_dir: Path, time_limit: float = TIME_LIMIT) -> None:
        self.index_dir = Path(index_dir)
        self.time_limit = time_limit
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
            state = _State(gen=gen, toc=toc, ix=ix, facets=facets, newest=newest, oldest=oldest)
            self._current = state
            return state

    def _searcher(self, state: _State) -> Any:
        # One searcher per thread per generation; dropping the old one releases its files.
        cached = getattr(self._local, "searcher", None)
        if cached is not None and cached[0] is state:
            return cached[1]
        searcher = state.ix.searcher()
        self._local.searcher = (state, searcher)
        return searcher

    # -- matching --------------------------------------------------------------------------

    def _term_ids(self, state: _State, searcher: Any, fieldname: str, text: Any) -> np.ndarray:
        key = (fieldname, text)
        with state.lock:
            ids = state.term_cache.get(key)
            if ids is not None:
                state.term_cache.move_to_end(key)
                return ids
        parts = []
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            btext = reader.schema[fieldname].to_bytes(text)
            if (fieldname, btext) in reader:
                parts.append(leaf_ids(_raw_postings(reader, fieldname, btext)) + offset)
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        with state.lock:
            state.term_cache[key] = ids
            if len(state.term_cache) > TERM_CACHE_SIZE:
                state.term_cache.popitem(last=False)
        return ids

    def _mask(self, state: _State, searcher: Any, q: Any) -> np.ndarray:
        """Return the documents matching q, as a mask over live documents."""
        fd = state.facets
        if isinstance(q, query.Term) and isinstance(q.text, str):
            mask = np.zeros(fd.n, dtype=bool)
            if q.fieldname in searcher.schema:
                mask[self._term_ids(state, searcher, q.fieldname, q.text)] = True
            return mask & fd.live
        if isinstance(q, query.Every):
            return fd.live.copy()
        if _is_null(q):
            return np.zeros(fd.n, dtype=bool)
        if isinstance(q, (query.Or, query.DisjunctionMax)) and not getattr(q, "minmatch", 0):
            mask = np.zeros(fd.n, dtype=bool)
            for child in q.subqueries:
                mask |= self._mask(state, searcher, child)
            return mask
        if isinstance(q, query.And):
            mask = fd.live.copy()
            for child in q.subqueries:
                mask &= self._mask(state, searcher, child)
            return mask
        if isinstance(q, query.AndNot):
            return self._mask(state, searcher, q.a) & ~self._mask(state, searcher, q.b)
        if isinstance(q, query.AndMaybe):
            return self._mask(state, searcher, q.a)
        if isinstance(q, query.Require):
            return self._mask(state, searcher, q.a) & self._mask(state, searcher, q.b)
        if isinstance(q, query.Not):
            return fd.live & ~self._mask(state, searcher, q.query)
        # Phrases, ranges, wildcards: Whoosh's own matcher (bounded by the query guard).
        mask = np.zeros(fd.n, dtype=bool)
        ids = np.fromiter(self._timed(searcher.docs_for_query(q)), dtype=np.int64)
        mask[ids] = True
        return mask & fd.live

    def _timed(self, docnums: Iterator[int]) -> Iterator[int]:
        """Pass document numbers through, giving up past the time limit (any thread)."""
        deadline = time.perf_counter() + self.time_limit
        for i, docnum in enumerate(docnums):
            if i % 2048 == 0 and time.perf_counter() > deadline:
                raise QueryError(_too_slow(self.time_limit))
            yield docnum

    # -- public API: every call guarded against a vanished or damaged generation ---------

    def _guard(self, fn: Any, *args: Any) -> Any:
        for attempt in range(2):
            try:
                return fn(*args)
            except FileNotFoundError:
                # A generation removed under a late reader: reopen the live one, once.
                self._current = None
                self._local.searcher = None
                if attempt:
                    raise NoIndexError(
                        f"the index in {self.index_dir} changed while it was read: "
                        "try again; if it persists, run `searchapp check`"
                    ) from None
            except DAMAGE as exc:
                self._current = None
                self._local.searcher = None
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
        state = self._state()
        searcher = self._searcher(state)

        exclude: int | None = None
        if req.like:
            q, exclude = self._like_query(searcher, req.like)
        else:
            q = parse_query(req.q, searcher.schema, searcher.reader())
        page = self._run(state, searcher, req, q, start, stop, exclude)
        if q is not None and not req.like and page.total < SUGGEST_BELOW:
            self._did_you_mean(state, searcher, req, page, start, stop)
        page.took_ms = (time.perf_counter() - started) * 1000
        return page

    def _select(
        self,
        state: _State,
        searcher: Any,
        req: SearchRequest,
        q: Any,
        start: int | None,
        stop: int | None,
        exclude: int | None,
    ) -> _Selection:
        """Compute the query's documents, each filter's, and the final result set."""
        fd = state.facets
        base = fd.live.copy() if q is None else self._mask(state, searcher, q)
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
        sort = req.sort if q is not None else ("newest" if req.sort == "relevance" else req.sort)
        return _Selection(base, filters, dates, final, sort)

    def _run(
        self,
        state: _State,
        searcher: Any,
        req: SearchRequest,
        q: Any,
        start: int | None,
        stop: int | None,
        exclude: int | None = None,
    ) -> SearchPage:
        sel = self._select(state, searcher, req, q, start, stop, exclude)
        base, filters, dates, final = sel.base, sel.filters, sel.dates, sel.final
        total = int(final.sum())
        pages = max(1, -(-total // req.per_page))
        if req.page > pages:
            raise QueryError(
                f"page {req.page} is past the last page ({pages}) of {total} results: "
                f"use a page from 1 to {pages}"
            )

        facets, truncated = self._facets(state, req, q, base, filters, dates, final)
        sort = sel.sort
        lo = (req.page - 1) * req.per_page
        hi = lo + req.per_page
        if sort == "relevance":
            scoring, rewritten = _without_positions(q)
            ranked = self._top(
                state,
                searcher,
                scoring,
                final,
                hi,
                filtered=rewritten or bool(filters) or dates is not None or exclude is not None,
            )
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
        )

    def _top(
        self, state: _State, searcher: Any, q: Any, final: np.ndarray, need: int, filtered: bool
    ) -> list[tuple[int, float | None]]:
        if need == 0:
            return []
        # A few extra so that ties at the page edge can be ordered newest first.
        limit = need + 10
        kwargs: dict[str, Any] = {"limit": limit}
        if filtered:
            kwargs["filter"] = _MaskSet(final)
        collector = searcher.collector(**kwargs)
        # use_alarm=False: Whoosh's signal-based limit only works in the main thread, and the
        # web server answers from worker threads; the Timer-based one works anywhere.
        timed = TimeLimitCollector(collector, self.time_limit, use_alarm=False)
        try:
            searcher.search_with_collector(q, timed)
        except TimeLimit:
            raise QueryError(_too_slow(self.time_limit)) from None
        top = [(int(doc), float(score)) for score, doc in collector.results().top_n]
        ts = state.facets.ts
        top.sort(key=lambda item: (-round(item[1], 9), -int(ts[item[0]])))
        return [(d, s) for d, s in top if final[d]]

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
            q2 = parse_query(corrected, searcher.schema, reader)
        except QueryError:
            return
        other = self._run(state, searcher, replace(req, q=corrected, page=1), q2, start, stop)
        if other.total <= page.total:
            return
        page.suggestion = corrected
        if page.total == 0:
            # Typo-tolerant fallback: show what the corrected query finds, and say so.
            page.total = other.total
            page.hits = other.hits
            page.facets = other.facets
            page.truncated = other.truncated
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
        state = self._state()
        searcher = self._searcher(state)
        exclude = None
        if req.like:
            q, exclude = self._like_query(searcher, req.like)
        else:
            q = parse_query(req.q, searcher.schema, searcher.reader())
        sel = self._select(state, searcher, req, q, start, stop, exclude)
        final, sort = sel.final, sel.sort
        if sort == "relevance":
            results = searcher.search(q, limit=None, filter=_MaskSet(final))
            docs = [int(doc) for _score, doc in results.top_n]
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
