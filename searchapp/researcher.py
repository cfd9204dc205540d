"""Research questions asked of a SearchService: requests in, the JSON forms of research.py out.

The CLI, the JSON API and the pages all call this one class, so a count means the same thing
everywhere. Each question runs ``SearchService.matches`` (the exact result set of a search with
the same query, filters and dates) and hands its mask to the pure functions of research.py.

Significant *words* need text, which the facet arrays do not hold. Scoring every word of the
archive against the result set would read every posting list (54,988 terms at 21.6k stories;
3.5 s just to list them), so the cost is bounded in three steps:
1. up to SAMPLE stories of the result set, spread evenly over it in time (ties by id, so the
   sample does not depend on how the index was built), are read and tokenised;
2. words in at least a few of them are stemmed like the index does and ranked by an ESTIMATED
   score (their share of the sample against the body field's document frequency);
3. the best top + 10 (at most CANDIDATES) are counted EXACTLY from their title, lead and body
   postings: the counts shown are stories of the result set (and of the archive) holding the
   word, as `search` would find them in those fields.
A word that is significant but rare in the result set can be missed by the sample; the counts
of every word shown are exact.
"""

from __future__ import annotations

import heapq
import json
import re
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from searchapp import research
from searchapp.lru import Lru
from searchapp.models import SearchRequest
from searchapp.postings import leaf_ids, raw_postings
from searchapp.research import Timeline
from searchapp.results import stored_id
from searchapp.schema import STOP_WORDS
from searchapp.search import Matches, SearchService

SAMPLE = 100  # stories read for candidate words
CANDIDATES = 40  # at most this many candidate words are counted exactly from their postings
MIN_SAMPLE_DF = 2  # a candidate is in at least this many sampled stories
MAX_SAMPLE_WORDS = 400  # candidates whose document frequency is looked up
WORD_FIELDS = ("title", "lead", "body")
# Words of 3+ letters; digits are dropped after the (much faster) \w match. A hyphenated word
# the index keeps whole ("al-assad") splits here and is skipped: its parts are not indexed.
_WORD = re.compile(r"\w{3,}")
_CACHE_LIMIT = 50_000
# Decoded word postings kept per generation: decoding is ~1.3 ms a word at 21.6k stories
# (Whoosh decodes blocks in Python), so a warm server answers from memory.
_IDS_BUDGET = 96 * 1024 * 1024


def _word_ids_cache() -> Lru[str, np.ndarray]:
    return Lru(_IDS_BUDGET, cost=lambda ids: ids.nbytes)


class Research:
    """Trends, comparisons, co-occurrence and significance over one SearchService."""

    def __init__(self, service: SearchService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._stems: dict[str, str | None] = {}  # surface word -> indexed form (None: none)
        self._gen: Any = None  # the FacetData the caches below belong to
        self._df: dict[str, int] = {}  # indexed word -> body document frequency
        self._ids: Lru[str, np.ndarray] = _word_ids_cache()  # word -> its stories
        self._words: dict[int, frozenset[str]] = {}  # document -> its distinct words
        self._doc_ids: dict[int, str] = {}  # document -> story id (sample ties are by id)

    # -- timelines --------------------------------------------------------------------------

    def trends(
        self, req: SearchRequest, by: str | None, interval: str | None, top: int = 5
    ) -> tuple[dict[str, Any], Timeline]:
        """Return stories per bucket for a search, and the top values of `by` per bucket."""
        interval = research.check_interval(interval)
        by = research.check_facet(by, "by") if by else None
        research.check_top(top)
        found = self.service.matches(req)
        data, tl = research.trends(found.facets, found.mask, interval, by, top)
        return {"q": req.q, **data}, tl

    def compare(
        self, req: SearchRequest, queries: list[str], interval: str | None
    ) -> tuple[dict[str, Any], Timeline]:
        """Return up to 5 queries per bucket (with req's filters), as counts and shares.

        The share's denominator is every story passing the same filters and dates (all stories
        when there are none): "oil" in the Energy section is a share of Energy stories.
        """
        interval = research.check_interval(interval)
        queries = research.check_queries(queries)
        req = replace(req, like=None)  # each series is its own query
        for _attempt in range(2):
            everything = self.service.matches(replace(req, q=""))
            masks = [self.service.matches(replace(req, q=q)) for q in queries]
            # All from one generation, or the index switched in between: ask them again.
            if all(m.facets is everything.facets for m in masks):
                return research.compare(
                    everything.facets, queries, [m.mask for m in masks], everything.mask, interval
                )
        raise research.QueryError("the index changed during the comparison: ask again")

    # -- co-occurrence and significance -----------------------------------------------------

    def resolve(self, facet: str, value: str) -> str:
        """Return the archive's spelling of a value (any case), or raise QueryError."""
        fd = self.service.matches(SearchRequest()).facets
        return research.resolve_value(fd, facet, value)

    def related(
        self, req: SearchRequest, field: str, value: str, with_: str, top: int = 20
    ) -> dict[str, Any]:
        """Return the values of `with_` most often in the stories holding field=value."""
        field, with_ = research.check_related(field, value, with_, top)
        found = self.service.matches(req)
        value = research.resolve_value(found.facets, field, value)
        return {"q": req.q, **research.related(found.facets, found.mask, field, value, with_, top)}

    def significant(
        self,
        req: SearchRequest,
        field: str,
        top: int = 20,
        min_count: int = research.MIN_COUNT,
    ) -> dict[str, Any]:
        """Return values (or words) over-represented in a search's results against the archive."""
        field = research.check_facet(field, "field", words=True)
        research.check_top(top)
        if min_count < 1:
            raise research.QueryError(f"min_count {min_count} is out of range: use 1 or more")
        found = self.service.matches(req)
        fd = found.facets
        if field == research.WORDS:
            items = self._significant_words(req, found, top, min_count)
        else:
            items = research.significant_values(fd, found.mask, field, top, min_count)
        return {
            "q": req.q,
            "field": field,
            "stories": int(found.mask.sum()),
            "background": fd.live_count,
            "significant": items,
        }

    # -- words ------------------------------------------------------------------------------

    def _stem(self, analyzer: Any, word: str) -> str | None:
        with self._lock:
            if word in self._stems:
                return self._stems[word]
        stem = stem_of(analyzer, word)
        with self._lock:
            if len(self._stems) >= _CACHE_LIMIT:
                self._stems.clear()
            self._stems[word] = stem
        return stem

    def _significant_words(
        self, req: SearchRequest, found: Matches, top: int, min_count: int, retry: bool = True
    ) -> list[dict[str, Any]]:
        svc = self.service
        fd = found.facets
        if not found.mask.any():
            return []
        # The generation the mask belongs to: its searcher reads the word postings.
        gen = svc.generation()
        if gen.facets is not fd:
            if not retry:
                raise research.QueryError("the index changed during the question: ask again")
            # A new generation went live after matches(): ask again on it, once.
            return self._significant_words(req, svc.matches(req), top, min_count, False)
        searcher = gen.searcher()
        with self._lock:
            if self._gen is not fd:
                self._gen, self._df, self._ids = fd, {}, _word_ids_cache()
                self._words, self._doc_ids = {}, {}
        seq = gen.oldest[found.mask[gen.oldest]]  # the results by time, undated last
        picked = sampled(time_keys(fd, seq), seq, lambda d: self._doc_id(searcher, d))
        sample_df: Counter[str] = Counter()
        for docnum in picked:
            sample_df.update(self._doc_words(searcher, docnum))
        analyzer = searcher.schema["body"].analyzer
        reader = searcher.reader()
        stems, surface = candidates(
            sample_df, len(picked), fd.live_count, top, min_count,
            lambda word: self._stem(analyzer, word),
            lambda stem: self._doc_frequency(reader, stem),
        )
        fg = np.zeros(len(stems), dtype=np.int64)
        bg = np.zeros(len(stems), dtype=np.int64)
        for i, stem in enumerate(stems):
            ids = self._word_ids(searcher, stem, fd.n)
            fg[i] = int(found.mask[ids].sum())
            bg[i] = int(fd.live[ids].sum())
        stories = int(found.mask.sum())
        return word_items(stems, surface, fg, stories, bg, fd.live_count, top, min_count)

    def _doc_id(self, searcher: Any, docnum: int) -> str:
        with self._lock:
            found = self._doc_ids.get(docnum)
        if found is None:
            found = stored_id(searcher, docnum)
            with self._lock:
                if len(self._doc_ids) >= _CACHE_LIMIT:
                    self._doc_ids.clear()
                self._doc_ids[docnum] = found
        return found

    def _doc_words(self, searcher: Any, docnum: int) -> frozenset[str]:
        """Return a story's distinct lowercased words of 3+ letters (cached per generation)."""
        with self._lock:
            words = self._words.get(docnum)
        if words is None:
            words = doc_words(searcher, docnum)
            with self._lock:
                if len(self._words) >= _CACHE_LIMIT:
                    self._words.clear()
                self._words[docnum] = words
        return words

    def _doc_frequency(self, reader: Any, stem: str) -> int:
        with self._lock:
            df = self._df.get(stem)
        if df is None:
            df = int(reader.doc_frequency("body", stem))
            with self._lock:
                if len(self._df) >= _CACHE_LIMIT:
                    self._df.clear()
                self._df[stem] = df
        return df

    def _word_ids(self, searcher: Any, stem: str, n: int) -> np.ndarray:
        """Return the stories holding a word in title, lead or body (deleted ones included)."""
        ids = self._ids.get(stem)
        if ids is not None:
            return ids
        ids = word_ids(searcher, stem, n)
        self._ids.put(stem, ids)
        return ids


# -- significant words, as pure steps (a sharded index runs them over its shards: cluster/words.py)


def stem_of(analyzer: Any, word: str) -> str | None:
    """Return a word as the body field indexes it (None: not one indexed word)."""
    tokens = [t.text for t in analyzer(word)]
    return tokens[0] if len(tokens) == 1 else None


def doc_words(searcher: Any, docnum: int) -> frozenset[str]:
    """Return a story's distinct lowercased words of 3+ letters (title, lead and body)."""
    stored = json.loads(searcher.stored_fields(docnum)["doc"])
    text = f"{stored.get('title', '')}\n{stored.get('lead', '')}\n{stored.get('body', '')}"
    return frozenset(w for w in _WORD.findall(text.lower()) if w.isalpha())


def word_ids(searcher: Any, stem: str, n: int) -> np.ndarray:
    """Return the stories holding a word in title, lead or body (deleted ones included)."""
    # A scratch mask unions the three fields' lists: 10x cheaper than np.unique at 216k.
    holds = np.zeros(n, dtype=bool)
    btext = stem.encode("utf-8")
    for sub, offset in searcher.leaf_searchers():
        reader = sub.reader()
        for fieldname in WORD_FIELDS:
            if (fieldname, btext) in reader:
                holds[leaf_ids(raw_postings(reader, fieldname, btext)) + offset] = True
    # int32 halves the cache: document numbers of one generation fit easily.
    return np.flatnonzero(holds).astype(np.int32)


def time_keys(fd: Any, docs: np.ndarray) -> np.ndarray:
    """Return the key the sample is spread over: the time, undated stories last (ties by id)."""
    return np.where(fd.has_date[docs], fd.ts[docs], np.iinfo(np.int64).max)


def sample_positions(n: int) -> np.ndarray:
    """Return the positions of the sample in n results ordered by (time key, id)."""
    return np.unique(np.linspace(0, n - 1, min(SAMPLE, n)).astype(int))


def sampled(keys: np.ndarray, docs: np.ndarray, id_of: Callable[[int], str]) -> list[int]:
    """Return the sample of docs (sorted by keys): the stories at sample_positions in (key, id)
    order, an order that does not depend on document numbers (one index samples the stories
    its shards would). Ids are read only for stories tied in key with a sampled one."""
    at = sample_positions(len(docs))
    los = np.searchsorted(keys, keys[at], "left")
    his = np.searchsorted(keys, keys[at], "right")
    out: list[int] = []
    groups: dict[int, list[int]] = {}
    for p, lo, hi in zip(at.tolist(), los.tolist(), his.tolist(), strict=True):
        if hi - lo == 1:
            out.append(int(docs[p]))
            continue
        if lo not in groups:
            groups[lo] = sorted((int(d) for d in docs[lo:hi]), key=id_of)
        out.append(groups[lo][p - lo])
    return out


def candidates(
    sample_df: Counter[str], n_sample: int, n_all: int, top: int, min_count: int,
    stem: Callable[[str], str | None], doc_freq: Callable[[str], int],
) -> tuple[list[str], dict[str, str]]:
    """Return the candidate stems, best ESTIMATED score first, and each stem's surface form.

    Ties in counts go alphabetically: a fixed order (the order of a set of words varies by
    process), so shards and one index pick the same candidates."""
    surface: dict[str, str] = {}  # stem -> its most frequent form in the sample
    est: dict[str, float] = {}
    for word, k in sample_words(sample_df, min_count):
        found = stem(word)
        if found is None or found in surface:
            continue
        surface[found] = word
        df = doc_freq(found)
        if df == 0:
            continue  # not a word of the body field (a fragment of a hyphenated word)
        fg_p, bg_p = k / n_sample, df / max(n_all, 1)
        est[found] = (fg_p - bg_p) * fg_p / bg_p if fg_p > bg_p else 0.0
    stems = sorted((s for s in est if est[s] > 0), key=lambda s: (-est[s], s))
    return stems[: min(CANDIDATES, max(top + 10, 20))], surface


def sample_words(sample_df: Counter[str], min_count: int) -> list[tuple[str, int]]:
    """Return the sample's most common words (by count, then alphabetically), without stop
    words and words in too few sampled stories."""
    ranked = heapq.nsmallest(MAX_SAMPLE_WORDS, sample_df.items(), key=lambda x: (-x[1], x[0]))
    return [
        (w, k) for w, k in ranked if k >= min(MIN_SAMPLE_DF, min_count) and w not in STOP_WORDS
    ]


def word_items(
    stems: list[str], surface: dict[str, str], fg: np.ndarray, fg_n: int, bg: np.ndarray,
    bg_n: int, top: int, min_count: int,
) -> list[dict[str, Any]]:
    """Return research.significant's items for words, shown in their surface form."""
    items = research.significant(stems, fg, fg_n, bg, bg_n, top, min_count)
    for item in items:
        item["term"] = item["value"]
        item["value"] = surface[item["term"]]
    return items
