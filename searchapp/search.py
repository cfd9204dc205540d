"""The search service: one API that the CLI, the web pages and the JSON API all call.

How a search runs:
1. The request is checked, its facet filters resolved to the values the index holds
   (facets.py), its query text parsed and guarded (query.py).
2. The query tree is evaluated with numpy into a mask and BM25F scores (evaluator.py, with the
   pure formula in scoring.py), over one index generation (generation.py).
3. Filters are masks from the generation's facet arrays; facet counts are bincounts
   (facets.py); the page is a partial sort of the scores (results.py); few results offer a
   did-you-mean (spelling.py).

Whoosh objects never leave the core: hits are copied into dataclasses while the searcher is
open. Each public call runs inside a guard that meets a vanished or damaged generation.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from searchapp import fuzzy, results, store
from searchapp.errors import NoIndexError, NotFoundError, QueryError
from searchapp.evaluator import TIME_LIMIT, Deadline, Evaluator
from searchapp.facets import FacetData, forget_generation
from searchapp.generation import DAMAGE, TERM_CACHE_SIZE, Generation, article_from_stored
from searchapp.models import MAX_PER_PAGE, SORTS, Article, SearchPage, SearchRequest
from searchapp.query import parse_bound
from searchapp.reading import Reading, read_query

__all__ = ["TIME_LIMIT", "Matches", "SearchService", "check_request"]

T = TypeVar("T")


def check_request(req: SearchRequest) -> tuple[int | None, int | None]:
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


@dataclass(frozen=True)
class Matches:
    """The stories a request selects: a boolean mask over the generation's document numbers."""

    facets: FacetData  # the generation's facet arrays (ts, values, counting)
    mask: np.ndarray  # final result set: query AND filters AND dates, live stories only
    scores: np.ndarray | None  # relevance per document (None without a query)


class SearchService:
    """Searches one index directory; safe to share between threads."""

    def __init__(
        self, index_dir: Path, time_limit: float = TIME_LIMIT, term_cache: int = TERM_CACHE_SIZE
    ) -> None:
        self.index_dir = Path(index_dir)
        self.time_limit = time_limit
        self.term_cache_size = term_cache
        self._lock = threading.Lock()
        self._current: Generation | None = None

    def generation(self) -> Generation:
        """Return the live index generation (opened once per generation and TOC)."""
        current = self._current
        if current is not None and current.is_current(self.index_dir):
            return current
        with self._lock:
            current = self._current
            if current is not None and current.is_current(self.index_dir):
                return current
            fresh = Generation.open(self.index_dir, self.term_cache_size)
            self._current = fresh
            if current is not None and current.gen != fresh.gen:
                # A long-running server must not keep every generation's arrays forever.
                forget_generation(current.gen)
                fuzzy.forget(str(current.gen))
            return fresh

    def evaluator(self, gen: Generation) -> Evaluator:
        """Return an evaluator over gen with this thread's searcher and a fresh deadline."""
        return Evaluator(gen, gen.searcher(), Deadline.after(self.time_limit))

    # -- public API ------------------------------------------------------------------------

    def search(self, req: SearchRequest) -> SearchPage:
        """Run one search and return the page, with facets over the whole result set."""
        return self._guard(self._search, req)

    def matches(self, req: SearchRequest) -> Matches:
        """Return the stories a request selects (query, filters, dates) over one generation.

        The building block of views over the whole result set (trends, co-occurrence): the
        facet arrays of the generation read and the mask of matching document numbers.
        """
        return self._guard(self._matches, req)

    def export(self, req: SearchRequest) -> Iterator[Article]:
        """Return EVERY article matching the request (filters honoured), in the page order.

        The request is checked and evaluated (time limit, damage guard) before this returns;
        the stories are then read one by one as the iterator is consumed.
        """
        searcher, docs = self._guard(self._export_docs, req)
        return self._read_stories(searcher, docs)

    def get_article(self, article_id: str) -> Article:
        """Return one article by id, or raise NotFoundError."""
        return self._guard(self._get_article, article_id)

    def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        """Return search-box suggestions: persons, topics and titles starting with prefix."""
        from searchapp import browse  # not on a search's path (a one-query CLI process)

        return self._guard(lambda gen: browse.suggest(gen, gen.searcher(), prefix, limit))

    def stats(self) -> dict[str, Any]:
        """Return what the index holds: stories, dates, size, segments, top facet values."""
        from searchapp import browse

        return self._guard(browse.stats)

    # -- the calls, inside the guard -------------------------------------------------------

    def _prepare(self, ev: Evaluator, req: SearchRequest) -> results.Prepared:
        start, stop = check_request(req)
        resolved = {name: ev.fd.resolve(name, vals) for name, vals in req.filters.items()}
        req = req.with_filters(resolved)
        if req.like:
            q, exclude = results.like_query(ev.searcher, req.like)
            like = Reading(text=req.like, strict=True, required=q)
            return results.Prepared(req, like, start, stop, exclude)
        # Lenient unless the request is strict: any typed text gets an answer (reading.py).
        reading = read_query(req.q, ev.searcher.schema, ev.searcher.reader(), req.strict)
        return results.Prepared(req, reading, start, stop)

    def _search(self, gen: Generation, req: SearchRequest) -> SearchPage:
        started = time.perf_counter()
        ev = self.evaluator(gen)
        prepared = self._prepare(ev, req)
        page = results.run_page(ev, prepared)
        results.suggest_correction(ev, prepared, page)
        page.took_ms = (time.perf_counter() - started) * 1000
        return page

    def _matches(self, gen: Generation, req: SearchRequest) -> Matches:
        ev = self.evaluator(gen)
        sel = results.select(ev, self._prepare(ev, req))
        return Matches(facets=gen.facets, mask=sel.final, scores=sel.scores)

    def _export_docs(self, gen: Generation, req: SearchRequest) -> tuple[Any, list[int]]:
        ev = self.evaluator(gen)
        sel = results.select(ev, self._prepare(ev, req))
        docs = [d for d, _score in results.ordered(ev, sel, int(sel.final.sum()))]
        return ev.searcher, docs

    def _read_stories(self, searcher: Any, docs: list[int]) -> Iterator[Article]:
        for docnum in docs:
            try:
                article = article_from_stored(searcher.stored_fields(docnum))
            except DAMAGE as exc:
                raise self._damaged(exc) from exc
            yield article

    def _get_article(self, gen: Generation, article_id: str) -> Article:
        searcher = gen.searcher()
        docnum = searcher.document_number(id=article_id) if article_id else None
        if docnum is None:
            raise NotFoundError(f'no article with id "{article_id}" in the index')
        return article_from_stored(searcher.stored_fields(docnum))

    # -- the guard against a vanished or damaged generation --------------------------------

    def _guard(self, fn: Callable[..., T], *args: Any) -> T:
        for attempt in range(2):
            gen: Generation | None = None
            try:
                gen = self.generation()
                return fn(gen, *args)
            except (*DAMAGE, TypeError, KeyError, IndexError, ValueError, AttributeError) as exc:
                self._current = None
                if gen is not None:
                    gen.forget_searcher()
                # A generation removed under a late reader (two commits in quick succession)
                # makes Whoosh fail in odd ways (a missing column reads as None: TypeError,
                # KeyError...): if the generation we read is no longer live, read the live
                # one, once.
                live = store.current_generation(self.index_dir)
                if attempt == 0 and (gen is None or gen.gen != live):
                    continue
                if not isinstance(exc, DAMAGE):
                    raise  # not the index's data: a bug of ours, not to be hidden as a 503
                raise self._damaged(exc) from exc
        raise AssertionError("unreachable")

    def _damaged(self, exc: BaseException) -> NoIndexError:
        return NoIndexError(
            f"the index in {self.index_dir} is damaged ({type(exc).__name__}: {exc}): "
            f"rebuild it from the corpus with `searchapp index --rebuild --index "
            f"{self.index_dir}` (`searchapp check` shows what is wrong)"
        )
