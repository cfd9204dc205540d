"""One shard of a sharded index, as its Ray actor serves it: the sub-requests a coordinator
merges (plain Python, so it is tested without Ray too).

A search is answered in three phases, as Elasticsearch's dfs_query_then_fetch does:

1. ``dfs``: the shard parses the query and reports its document count, field lengths and the
   document frequency of every term the query scores here (wildcards expanded on its words).
2. ``part``: given the totals over every shard (a CollectionStats), it evaluates the query with
   them, so each story scores what it would in one index of every story; it returns its total,
   its facet counts (every value) and the sort keys of its best ``need`` stories.
3. ``fetch``: the coordinator's page, read from the shard's stored fields (hits with snippets).

Every answer names the shard's generation (``genkey``): phases 2 and 3 refuse to mix a search
evaluated on one generation with another (an update landed between them), and the coordinator
runs the search again.
"""

from __future__ import annotations

import os
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from whoosh.support.levenshtein import distance

from searchapp import browse, dupes, fuzzy, results, spelling
from searchapp.errors import SearchAppError
from searchapp.evaluator import Evaluator
from searchapp.facets import DATE_FACETS, TERM_FACETS
from searchapp.generation import Generation, article_from_stored
from searchapp.models import Article, Hit, SearchRequest
from searchapp.reading import Reading, read_query
from searchapp.scoring import CollectionStats
from searchapp.search import SearchService, check_request


class GenerationMoved(SearchAppError):
    """A shard's live generation changed between two phases of one search."""


# One sort key: (score or None, ts, has_date, docnum, id, all words?); the coordinator orders
# them as the single index orders its documents (results.top and results.ordered).
Key = tuple[float | None, int, bool, int, str, bool]


@dataclass
class Dfs:
    """Phase 1: what the shard holds that BM25 needs, for one query."""

    genkey: str
    doc_count: int
    field_lengths: dict[str, int]
    doc_freqs: dict[Hashable, int]
    has_query: bool  # False: no words to rank by (an empty query, or only a "?")
    phrases: dict[str, bool]  # each unfielded phrase: does a story here hold it?


@dataclass
class Part:
    """Phase 2: a shard's share of one search."""

    genkey: str
    total: int
    terms: dict[str, list[tuple[str, int]]]  # every value of each term facet, with its count
    dates: dict[str, list[tuple[str, int]]]  # year, month and day counts of the results
    months: tuple[int, int] | None  # first and last month of the dated results
    sort: str  # the order the keys follow ("relevance" without a query is "newest")
    keys: list[Key] = field(default_factory=list)
    total_all: int | None = None  # of total, the stories with every word (results.run_page)
    reading: dict[str, Any] | None = None  # how the query was read, for the page
    has_query: bool = False  # a query to correct (results.suggest_correction's p.q)
    # dupes.py's candidate block (day, title length; -1 undated) of each key's story: copies
    # of one story may sit on different shards, the coordinator folds them (cluster/fold.py).
    blocks: list[int] = field(default_factory=list)


class _Recorder(CollectionStats):
    """The shard's own statistics, noting every term the evaluator scores (phase 1)."""

    def doc_freq(self, key: Hashable, local: int) -> int:
        self.doc_freqs[key] = local  # type: ignore[index]
        return local


def genkey(gen: Generation) -> str:
    """Name a generation at one TOC (what stays valid between the phases of a search)."""
    return f"{gen.gen.name}:{gen.toc}"


def _scorable(gen: Generation) -> list[str]:
    schema = gen.ix.schema
    return [name for name, fobj in schema.items() if fobj.scorable]


class Shard:
    """Serves one shard directory (an ordinary searchapp index) to a coordinator."""

    def __init__(self, index_dir: str, time_limit: float) -> None:
        self.index_dir = index_dir
        self.service = SearchService(Path(index_dir), time_limit)

    def ping(self) -> tuple[int, str]:
        """Return the process id and live generation (opening it: the actor is ready)."""
        return os.getpid(), self.service._guard(genkey)

    # -- search phases --------------------------------------------------------------------

    def _reading(
        self, ev: Evaluator, req: SearchRequest, like: Any, relax: frozenset[str] = frozenset()
    ) -> Reading:
        """Read the query as SearchService._prepare does; relax: the phrases no shard holds."""
        if like is not None:
            return Reading(text=req.like or "", strict=True, required=like)
        reading = read_query(req.q, ev.searcher.schema, ev.searcher.reader(), req.strict)
        for label in relax:
            reading.relax(label)
        return reading

    def dfs(self, req: SearchRequest, like: Any = None) -> Dfs:
        """Phase 1: statistics for BM25, and the df of every term the query scores here."""
        return self.service._guard(self._dfs, req, like)

    def _dfs(self, gen: Generation, req: SearchRequest, like: Any) -> Dfs:
        searcher = gen.searcher()
        reader = searcher.reader()
        lengths = {name: int(reader.field_length(name)) for name in _scorable(gen)}
        recorder = _Recorder(gen.facets.n, lengths, {})
        ev = self.service.evaluator(gen)
        ev.stats = recorder
        reading = self._reading(ev, req, like)
        labels = [label for label, _q, _w in reading.phrases]
        results.match_reading(ev, reading)  # relaxes the phrases no story here holds
        held = {label for label, _q, _w in reading.phrases}
        return Dfs(
            genkey(gen), gen.facets.n, lengths, dict(recorder.doc_freqs),
            reading.query is not None, {label: label in held for label in labels},
        )

    def part(
        self, expect: str, req: SearchRequest, stats: CollectionStats, need: int,
        like: Any = None, exclude: str | None = None, relax: frozenset[str] = frozenset(),
    ) -> Part:
        """Phase 2: total, facet counts and the best `need` sort keys, scored by `stats`."""
        return self.service._guard(self._part, expect, req, stats, need, like, exclude, relax)

    def _select(
        self, gen: Generation, expect: str, req: SearchRequest, stats: CollectionStats,
        like: Any, exclude: str | None, relax: frozenset[str],
    ) -> tuple[Evaluator, results.Prepared, results.Selection]:
        if genkey(gen) != expect:
            raise GenerationMoved(self.index_dir)
        start, stop = check_request(req)
        ev = self.service.evaluator(gen)
        ev.stats = stats
        skip = None
        if exclude is not None:
            skip = ev.searcher.document_number(id=exclude)
        # Filters come resolved by the coordinator against every shard's values: a value this
        # shard lacks simply selects nothing here.
        reading = self._reading(ev, req, like, relax)
        prepared = results.Prepared(req, reading, start, stop, skip, relax_empty=False)
        return ev, prepared, results.select(ev, prepared)

    def _part(
        self, gen: Generation, expect: str, req: SearchRequest, stats: CollectionStats,
        need: int, like: Any, exclude: str | None, relax: frozenset[str],
    ) -> Part:
        ev, prepared, sel = self._select(gen, expect, req, stats, like, exclude, relax)
        fd = ev.fd
        terms = {}
        for name in TERM_FACETS:
            mask = sel.base.copy() if sel.dates is None else sel.base & sel.dates
            for other, m in sel.filters.items():
                if other != name:
                    mask &= m
            terms[name] = fd.count_terms(name, mask)
        dates = {name: fd.count_dates(name, sel.final) for name in DATE_FACETS}
        months = fd.month[sel.final & fd.has_date]
        span = (int(months.min()), int(months.max())) if len(months) else None
        tier = sel.tier
        best = results.ordered(ev, sel, need)
        keys = [
            (
                score, int(fd.ts[d]), bool(fd.has_date[d]), d, results.stored_id(ev.searcher, d),
                bool(tier[d]) if tier is not None else False,
            )
            for d, score in best
        ]
        block_of = dupes.for_generation(gen, ev.searcher).key
        total = int(sel.final.sum())
        reading = prepared.reading
        # As results.run_page: tiers only mean something with two soft words or more.
        total_all = (
            int((sel.final & tier).sum()) if tier is not None and len(reading.words) > 1 else None
        )
        shown = reading.to_dict() if not reading.strict and not reading.empty else None
        return Part(
            genkey(gen), total, terms, dates, span, sel.sort, keys, total_all, shown,
            reading.query is not None, [int(block_of[d]) for d, _score in best],
        )

    def block_members(
        self, expect: str, req: SearchRequest, stats: CollectionStats, blocks: list[int],
        like: Any = None, exclude: str | None = None, relax: frozenset[str] = frozenset(),
    ) -> list[tuple[int, int, str, str, str]]:
        """Return (block, docnum, id, title, body) of this shard's results in the given
        dupes.py blocks: what the coordinator compares to fold copies across shards (texts,
        not fingerprints: those hash per process)."""
        return self.service._guard(
            self._block_members, expect, req, stats, blocks, like, exclude, relax
        )

    def _block_members(
        self, gen: Generation, expect: str, req: SearchRequest, stats: CollectionStats,
        blocks: list[int], like: Any, exclude: str | None, relax: frozenset[str],
    ) -> list[tuple[int, int, str, str, str]]:
        ev, _prepared, sel = self._select(gen, expect, req, stats, like, exclude, relax)
        d = dupes.for_generation(gen, ev.searcher)
        out = []
        for block in sorted(set(blocks)):
            if block < 0:
                continue
            lo, hi = np.searchsorted(d.keys, [block, block + 1])
            for doc in d.order[lo:hi]:
                if sel.final[doc]:
                    a = article_from_stored(ev.searcher.stored_fields(int(doc)))
                    out.append((block, int(doc), a.id, a.title, a.body))
            ev.deadline.check()
        return out

    def fetch(
        self, expect: str, req: SearchRequest, picked: list[tuple[int, float | None]],
        like: Any = None, relax: frozenset[str] = frozenset(),
    ) -> list[Hit]:
        """Phase 3: the hits of the coordinator's page that this shard holds."""
        return self.service._guard(self._fetch, expect, req, picked, like, relax)

    def _fetch(
        self, gen: Generation, expect: str, req: SearchRequest,
        picked: list[tuple[int, float | None]], like: Any, relax: frozenset[str],
    ) -> list[Hit]:
        if genkey(gen) != expect:
            raise GenerationMoved(self.index_dir)
        ev = self.service.evaluator(gen)
        q = self._reading(ev, req, like, relax).query
        return results.hits(ev.searcher, q, picked, req.snippets)

    # -- export ---------------------------------------------------------------------------

    def articles(self, expect: str, docnums: list[int]) -> list[Article]:
        """Return stories by document number, from the generation an export ordered."""
        return self.service._guard(self._articles, expect, docnums)

    def _articles(self, gen: Generation, expect: str, docnums: list[int]) -> list[Article]:
        if genkey(gen) != expect:
            raise GenerationMoved(self.index_dir)
        searcher = gen.searcher()
        return [article_from_stored(searcher.stored_fields(d)) for d in docnums]

    # -- outside a search -----------------------------------------------------------------

    def vocab(self) -> tuple[str, dict[str, list[str]]]:
        """Return every value of each term facet (filters resolve against all shards')."""
        return self.service._guard(lambda gen: (genkey(gen), gen.facets.values))

    def like_query(self, article_id: str) -> Any:
        """Return the "more like this" query of an article this shard holds."""
        return self.service._guard(
            lambda gen: results.like_query(gen.searcher(), article_id)[0]
        )

    def spell(self, words: list[str]) -> dict[str, list[tuple[int, str, str, str]] | None]:
        """For each word: None when the shard knows it, else spelling.best_correction's
        candidates here as (distance, word, body stem to show or "", stem weighed); the
        coordinator weighs them over every shard (spell_weights) and ranks them."""
        return self.service._guard(self._spell, words)

    def _spell(
        self, gen: Generation, words: list[str]
    ) -> dict[str, list[tuple[int, str, str, str]] | None]:
        searcher = gen.searcher()
        reader = searcher.reader()
        out: dict[str, list[tuple[int, str, str, str]] | None] = {}
        for word in words:
            if spelling.is_known(searcher, word):
                out[word] = None
                continue
            lower = word.lower()
            edits = spelling.max_edits(lower)
            stem = spelling._analysed(searcher, "body", lower) or lower
            cands = []
            for cand in fuzzy.terms_within(reader, "spell", lower, edits, spelling.PREFIX):
                cand_stem = spelling._analysed(searcher, "body", cand) or cand
                cands.append((distance(cand, lower), cand, "", cand_stem))
            for cand in fuzzy.terms_within(reader, "body", stem, edits, spelling.PREFIX):
                cands.append((distance(cand, stem), cand, cand, cand))
            out[word] = cands
        return out

    def spell_weights(self, stems: list[str]) -> dict[str, int]:
        """Return spelling._weight of each stem here (the coordinator sums them)."""
        return self.service._guard(
            lambda gen: {s: spelling._weight(gen.searcher(), s) for s in stems}
        )

    def surface(self, stem: str) -> str | None:
        """Return spelling.surface_form of a body stem here (None when no story holds it)."""
        return self.service._guard(lambda gen: spelling.surface_form(gen.searcher(), stem))

    def suggest_parts(self, prefix: str, limit: int) -> dict[str, Any]:
        """Return the facet values matching a prefix with their counts, and title matches."""
        return self.service._guard(self._suggest_parts, prefix, limit)

    def _suggest_parts(self, gen: Generation, prefix: str, limit: int) -> dict[str, Any]:
        # browse.suggest's pieces; title scores use this shard's statistics, so the merge by
        # score is close to, not exactly, one index's.
        low = prefix.strip().lower()
        out: dict[str, Any] = dict(browse.facet_matches(gen, low))
        out["titles"] = browse.title_matches(gen.searcher(), low, limit)
        return out

    def stats(self) -> dict[str, Any]:
        """Return the shard's statistics, with full facet counts (summed by the coordinator)."""
        return self.service._guard(self._stats)

    def _stats(self, gen: Generation) -> dict[str, Any]:
        data = browse.stats(gen)
        fd = gen.facets
        data["top"] = {name: fd.count_terms(name, fd.live) for name in TERM_FACETS}
        dated = fd.ts[fd.live & fd.has_date]
        data["range"] = (int(dated.min()), int(dated.max())) if len(dated) else None
        return data

    def get_article(self, article_id: str) -> Article:
        """Return one article by id (NotFoundError when this shard lacks it)."""
        return self.service.get_article(article_id)

    def map_matches(
        self, expect: str, req: SearchRequest, stats: CollectionStats, fn: Any,
        like: Any = None, exclude: str | None = None, relax: frozenset[str] = frozenset(),
    ) -> Any:
        """Run fn(Matches, Generation) over this shard's result set (research views, summed by
        the coordinator: cluster/views.py)."""
        from searchapp.search import Matches

        def run(gen: Generation) -> Any:
            _ev, _p, sel = self._select(gen, expect, req, stats, like, exclude, relax)
            return fn(Matches(facets=gen.facets, mask=sel.final, scores=sel.scores), gen)

        return self.service._guard(run)

