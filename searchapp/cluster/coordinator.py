"""The coordinator: SearchService's interface over a sharded index, one Ray actor per shard.

A search is scattered to every shard actor in three phases (shard.py): dfs (the statistics
BM25 needs, summed here so scores equal one index's), query (totals, facet counts, sort keys
of each shard's best stories, merged here in the one-index order) and fetch (the page's stories
from the shards holding them).

Faults: a shard actor that dies (kill -9, a lost node) is restarted by Ray; the call is retried
once when it is back. A shard that stays down, or answers with a damaged index, leaves the
answer partial and marked so ("2 of 3 shards answered"), never a silently smaller total; the
coordinator re-creates a dead actor on a later request. Exports refuse to be partial.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from searchapp.cluster import fold, merge, raycore
from searchapp.cluster.layout import read_layout, shard_of
from searchapp.cluster.shard import Dfs, GenerationMoved, Part, Shard
from searchapp.errors import NoIndexError, QueryError, SearchAppError
from searchapp.evaluator import TIME_LIMIT
from searchapp.models import Article, SearchPage, SearchRequest
from searchapp.scoring import CollectionStats
from searchapp.search import check_request
from searchapp.spelling import SUGGEST_BELOW

# Seconds to wait for one shard's answer (its search time limit plus a loaded machine's slack),
# and for a restarted actor to come back before the shard counts as down.
CALL_SLACK = 20.0
RESTART_WAIT = 30.0
# A dead actor is re-created at most this often (a shard whose files are gone fails fast).
RECREATE_EVERY = 5.0
EXPORT_BATCH = 500
ACTOR_THREADS = 8


class ShardsDown(NoIndexError):
    """Not every shard answered, where a partial answer would mislead (an export)."""


class ClusterService:
    """Searches a sharded index through Ray actors; the same public API as SearchService."""

    def __init__(
        self, index_dir: Path, ray_address: str | None = None, time_limit: float = TIME_LIMIT
    ) -> None:
        self.index_dir = Path(index_dir)
        self.dirs = read_layout(self.index_dir)
        self.time_limit = time_limit
        self.timeout = time_limit + CALL_SLACK
        raycore.connect(ray_address)
        # num_cpus=0: an actor waits for requests, it does not hold a CPU; Ray restarts it
        # whenever it dies (max_restarts=-1), and this class retries the call (not Ray).
        # Several requests at a time per actor (a SearchService is thread-safe), or one slow
        # search would queue every other request behind it.
        self._actor_class = raycore.remote_class(
            Shard, num_cpus=0, max_restarts=-1, max_concurrency=ACTOR_THREADS
        )
        self._lock = threading.Lock()
        self._dead_at: dict[int, float] = {}
        self.actors = [self._start(k) for k in range(len(self.dirs))]
        self._vocab: tuple[tuple[str, ...], merge.Values] | None = None

    def _start(self, k: int) -> Any:
        return self._actor_class.remote(str(self.dirs[k].resolve()), self.time_limit)

    # -- calling the shards ---------------------------------------------------------------

    def _wait_ready(self, k: int) -> bool:
        """Wait for a restarting actor to answer again; False when it is dead for good."""
        ray_failures = raycore.failures()
        deadline = time.monotonic() + RESTART_WAIT
        while time.monotonic() < deadline:
            try:
                raycore.get(self.actors[k].ping.remote(), f"shard {k}", timeout=self.timeout)
                return True
            except ray_failures as exc:
                if raycore.is_dead(exc):
                    return self._recreate(k)  # killed for good, or out of restarts
                time.sleep(0.1)
        return False

    def _recreate(self, k: int) -> bool:
        with self._lock:
            last = self._dead_at.get(k, 0.0)
            if time.monotonic() - last < RECREATE_EVERY:
                return False
            self._dead_at[k] = time.monotonic()
            self.actors[k] = self._start(k)
        return True

    def _scatter(
        self, method: str, args: dict[int, tuple[Any, ...]]
    ) -> tuple[dict[int, Any], dict[int, str]]:
        """Call method on the given shards; return answers and why the others did not answer.

        A dead or restarting shard is waited for and asked once more; errors of ours raised by
        a shard (a bad query) are raised here, except damage, which leaves that shard out.
        """
        ray_failures = raycore.failures()
        refs = {k: getattr(self.actors[k], method).remote(*a) for k, a in args.items()}
        answers: dict[int, Any] = {}
        down: dict[int, str] = {}
        refused: SearchAppError | None = None
        for k, ref in refs.items():
            for attempt in range(2):
                try:
                    answers[k] = raycore.get(ref, f"shard {k}", timeout=self.timeout)
                    break
                except ray_failures as exc:
                    if attempt == 1 or not self._wait_ready(k):
                        down[k] = f"{self.dirs[k].name}: {type(exc).__name__}"
                        break
                    ref = getattr(self.actors[k], method).remote(*args[k])
                except NoIndexError as exc:
                    down[k] = f"{self.dirs[k].name}: {exc}"
                    break
                except SearchAppError as exc:
                    # A bad query: every shard says so. Wait for all of them all the same, so
                    # no answer is left unread (Ray would log it as an unhandled error).
                    refused = refused or exc
                    break
        if refused is not None:
            raise refused
        return answers, down

    def _all(self, method: str, *args: Any) -> tuple[dict[int, Any], dict[int, str]]:
        return self._scatter(method, {k: args for k in range(len(self.actors))})

    def _partial(self, down: dict[int, str]) -> str | None:
        if not down:
            return None
        n = len(self.actors)
        return f"{n - len(down)} of {n} shards answered ({'; '.join(down.values())})"

    def _values(self, answering: dict[int, Dfs]) -> merge.Values:
        """Return every shard's facet values, fetched again when a shard's generation moved."""
        key = tuple(answering[k].genkey for k in sorted(answering))
        cached = self._vocab
        if cached is not None and cached[0] == key:
            return cached[1]
        vocabs, _down = self._scatter("vocab", {k: () for k in answering})
        values = merge.Values(v[1] for v in vocabs.values())
        self._vocab = (key, values)
        return values

    # -- search ---------------------------------------------------------------------------

    def _like(self, req: SearchRequest) -> tuple[SearchRequest, Any]:
        """Return (request without its like id, the like query from the article's shard)."""
        if not req.like:
            return req, None
        k = shard_of(req.like, len(self.actors))
        answers, down = self._scatter("like_query", {k: (req.like,)})
        if k in down:
            raise NoIndexError(f"the shard holding {req.like!r} is down ({down[k]}): try again")
        return replace(req, like=None), answers[k]

    def _dfs(self, req: SearchRequest) -> tuple[
        dict[int, Dfs], dict[int, str], SearchRequest, Any, CollectionStats, frozenset[str]
    ]:
        """Phase 1 over every shard: their statistics, the shards down, the request with its
        filters resolved against every shard's values, the like query, the global statistics
        and the phrases read as words."""
        check_request(req)
        base, like = self._like(req)
        dfs, down = self._all("dfs", base, like)
        if not dfs:
            raise ShardsDown(f"no shard answered ({'; '.join(down.values())}): try again")
        values = self._values(dfs)
        sub = base.with_filters({n: values.resolve(n, v) for n, v in req.filters.items()})
        return dfs, down, sub, like, merge.collection(dfs.values()), merge.relaxed(dfs.values())

    def _two_phases(
        self, req: SearchRequest, method: str, extra: Any, *, every: bool = False
    ) -> tuple[dict[int, Dfs], dict[int, Any], dict[int, str], tuple[Any, ...]]:
        """Phase 1 (statistics) on every shard, then `method` with (genkey, request, global
        statistics, extra, like query, excluded id, relaxed phrases); both again when an update
        lands between the phases. Returns the phase-1 answers, the method's answers, the shards
        down, and (resolved request, like query, statistics, relaxed phrases). every: a shard
        down is an error (a sum over some shards would be silently smaller)."""
        for attempt in range(3):
            dfs, down, sub, like, stats, relax = self._dfs(req)
            if every and down:
                raise ShardsDown(f"{self._partial(down)}: try again")
            exclude = req.like if req.like else None
            args = {k: (d.genkey, sub, stats, extra, like, exclude, relax) for k, d in dfs.items()}
            try:
                answers, down2 = self._scatter(method, args)
            except GenerationMoved:
                if attempt == 2:
                    raise
                continue  # an update landed between the phases: both again
            down = {**down, **down2}
            if every and down:
                raise ShardsDown(f"{self._partial(down)}: try again")
            return dfs, answers, down, (sub, like, stats, relax)
        raise AssertionError("unreachable")

    def search(self, req: SearchRequest) -> SearchPage:
        """Run one search over every shard: the page and facets one index would give."""
        started = time.perf_counter()
        for attempt in range(3):
            try:
                page = self._search(req)
                break
            except GenerationMoved:
                if attempt == 2:
                    raise NoIndexError("the index kept changing during the search: try again") \
                        from None
        page.took_ms = (time.perf_counter() - started) * 1000
        return page

    def _search(self, req: SearchRequest) -> SearchPage:
        lo = (req.page - 1) * req.per_page
        want = need = lo + req.per_page
        while True:
            _dfs, parts, down, (sub, like, stats, relax) = self._two_phases(req, "part", need)
            total = sum(p.total for p in parts.values())
            pages = max(1, -(-total // req.per_page))
            if req.page > pages:
                raise QueryError(
                    f"page {req.page} is past the last page ({pages}) of {total} results: "
                    f"use a page from 1 to {pages}"
                )
            sort = next(iter(parts.values())).sort if parts else req.sort
            merged = merge.order(parts, sort, need)
            # Copies of one story become one hit (dupes.collapse), across shards; when copies
            # were folded the results run short: ask the shards for more, as one index does.
            hits, copies = self._collapse(parts, sub, stats, like, req, relax, merged, want)
            if len(hits) >= want or len(merged) < need:
                break
            need += want - len(hits)
        picked = hits[lo:]
        found = self._fetch(parts, sub, picked, like, relax)
        shown = [h if (k, d) not in copies else replace(h, copies=copies[(k, d)])
                 for h, (k, d, _s) in zip(found, picked, strict=True)]
        facets, truncated = merge.facets(parts.values(), req.facet_limit)
        first = next(iter(parts.values())) if parts else None
        alls = [p.total_all for p in parts.values() if p.total_all is not None]
        page = SearchPage(
            query=req.q if not req.like else f"like:{req.like}",
            total=total, page=req.page, per_page=req.per_page, took_ms=0.0, sort=sort,
            hits=shown, facets=facets, truncated=truncated, request=sub,
            total_all=sum(alls) if alls else None,
            reading=first.reading if first else None,
            copies=sum(len(h.copies) for h in shown),
        )
        page.partial = self._partial(down)
        if first and first.has_query and not req.like and total < SUGGEST_BELOW and not down:
            self._suggest_correction(req, page)
        return page

    def _collapse(
        self, parts: dict[int, Part], sub: SearchRequest, stats: Any, like: Any,
        req: SearchRequest, relax: frozenset[str], merged: list[merge.Picked], want: int,
    ) -> tuple[list[merge.Picked], dict[tuple[int, int], tuple[str, ...]]]:
        """fold.collapse, with every shard's results in the merged stories' blocks."""
        blocks = fold.blocks_of(parts)
        wanted = sorted({blocks[(k, d)] for k, d, _s in merged if blocks[(k, d)] >= 0})
        members: dict[int, list[fold.Member]] = {}
        if wanted:
            exclude = req.like if req.like else None
            args = {
                k: (p.genkey, sub, stats, wanted, like, exclude, relax) for k, p in parts.items()
            }
            members, down = self._scatter("block_members", args)
            if down:
                raise NoIndexError(
                    f"a shard went down while reading the page ({self._partial(down)}): try again"
                )
        return fold.collapse(merged, blocks, members, want)

    def _fetch(
        self, parts: dict[int, Part], sub: SearchRequest, picked: list[merge.Picked], like: Any,
        relax: frozenset[str],
    ) -> list[Any]:
        by_shard: dict[int, list[tuple[int, float | None]]] = {}
        for shard, doc, score in picked:
            by_shard.setdefault(shard, []).append((doc, score))
        args = {k: (parts[k].genkey, sub, docs, like, relax) for k, docs in by_shard.items()}
        answers, down = self._scatter("fetch", args)
        if down:
            raise NoIndexError(f"a shard went down while reading the page ({self._partial(down)})"
                               ": try again")
        found = {k: iter(hits) for k, hits in answers.items()}
        return [next(found[shard]) for shard, _doc, _score in picked]

    def _suggest_correction(self, req: SearchRequest, page: SearchPage) -> None:
        """results.suggest_correction over every shard."""
        answers, down = self._all("spell", merge.words(req.q))
        if down:
            return
        try:
            fixed = fold.corrected(req.q, answers.values(), self._spell_weights, self._surface)
        except NoIndexError:
            return  # a shard went down meanwhile: no suggestion rather than a failed search
        if fixed is None:
            return
        try:
            other = self._search(replace(req, q=fixed, page=1))
        except QueryError:
            return
        if other.total <= page.total:
            return
        page.offer_correction(fixed, other)

    def _spell_weights(self, stems: list[str]) -> dict[str, int]:
        """Return how many stories use each stem, summed over every shard."""
        answers, down = self._all("spell_weights", stems)
        if down:
            raise NoIndexError(f"{self._partial(down)}: try again")
        total: Counter[str] = Counter()
        for answer in answers.values():
            total.update(answer)
        return dict(total)

    def _surface(self, stem: str) -> str | None:
        """Return the word the first shard holding a body stem uses for it."""
        answers, _down = self._all("surface", stem)
        return next((answers[k] for k in sorted(answers) if answers[k]), None)

    def ranking(self, req: SearchRequest, need: int) -> list[tuple[str, float | None]]:
        """Return the first `need` (id, unrounded score) pairs: the order and scores a page
        shows, to compare with one index to the last decimal."""
        _dfs, parts, down, (sub, like, _stats, relax) = self._two_phases(req, "part", need)
        if down:
            raise ShardsDown(self._partial(down) or "")
        sort = next(iter(parts.values())).sort
        picked = merge.order(parts, sort, need)
        hits = self._fetch(parts, replace(sub, snippets=False), picked, like, relax)
        return [(h.id, s) for h, (_k, _d, s) in zip(hits, picked, strict=True)]

    # -- the rest of SearchService's API --------------------------------------------------

    def export(self, req: SearchRequest) -> Iterator[Article]:
        """Return every matching article in page order, streamed from the shards in batches.

        Refuses (ShardsDown) rather than export a silently smaller set."""
        _dfs, parts, down, _used = self._two_phases(req, "part", 10**12)
        if down:
            raise ShardsDown(f"export refused: {self._partial(down)}; try again")
        sort = next(iter(parts.values())).sort if parts else req.sort
        picked = merge.order(parts, sort, 10**12)
        return self._stream(parts, picked)

    def _stream(self, parts: dict[int, Part], picked: list[merge.Picked]) -> Iterator[Article]:
        for i in range(0, len(picked), EXPORT_BATCH):
            batch = picked[i : i + EXPORT_BATCH]
            by_shard: dict[int, list[int]] = {}
            for shard, doc, _score in batch:
                by_shard.setdefault(shard, []).append(doc)
            answers, down = self._scatter(
                "articles", {k: (parts[k].genkey, docs) for k, docs in by_shard.items()}
            )
            if down:
                raise ShardsDown(f"export stopped: {self._partial(down)}; run it again")
            found = {k: iter(arts) for k, arts in answers.items()}
            for shard, _doc, _score in batch:
                yield next(found[shard])

    def get_article(self, article_id: str) -> Article:
        """Return one article by id, from the shard its id hashes to."""
        k = shard_of(article_id, len(self.actors))
        answers, down = self._scatter("get_article", {k: (article_id,)})
        if k in down:
            raise NoIndexError(f"the shard holding {article_id!r} is down ({down[k]}): try again")
        article: Article = answers[k]
        return article

    def suggest(self, prefix: str, limit: int = 8) -> list[dict[str, Any]]:
        """Return search-box suggestions merged over the shards that answer."""
        from searchapp.browse import MAX_PREFIX

        if not prefix.strip() or len(prefix.strip()) > MAX_PREFIX:
            return []
        answers, _down = self._all("suggest_parts", prefix, limit)
        return merge.suggestions([answers[k] for k in sorted(answers)], limit)

    def stats(self) -> dict[str, Any]:
        """Return what the sharded index holds, summed (and which shards did not answer)."""
        answers, down = self._all("stats")
        data = merge.stats(str(self.index_dir), [answers[k] for k in sorted(answers)])
        data["shards"] = len(self.actors)
        data["partial"] = self._partial(down)
        return data

    def close(self) -> None:
        """Stop the shard actors."""
        import ray

        for actor in self.actors:
            ray.kill(actor, no_restart=True)

