"""Significant words over a sharded index: researcher.py's three steps, run over the shards.

One index samples up to SAMPLE of its results, spread evenly over them in time (ties by id),
reads their words, estimates each word's score against the body field's document frequency,
and counts the best candidates exactly. Here the same steps run in rounds over every shard:

1. each shard counts its results per time key; the coordinator finds which (time key, rank by
   id) each sampled position is, asks for the ids at those keys, and so picks the very stories
   one index picks, then asks the shards holding them for their words;
2. the shards stem the sample's common words (one analyzer) and send their document
   frequencies, which are summed: the candidates are those of one index;
3. the shards count the candidates in their results and archive; the sums are one index's.

Every round names the shards' generations; if an update lands in between, the question is
asked again once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from searchapp import research
from searchapp.generation import Generation
from searchapp.models import SearchRequest
from searchapp.researcher import (
    candidates,
    doc_words,
    sample_positions,
    sample_words,
    stem_of,
    time_keys,
    word_ids,
    word_items,
)
from searchapp.results import stored_id
from searchapp.search import Matches

# -- run on each shard (module level: Ray ships a reference) ----------------------------------


def key_counts(m: Matches, _gen: Generation) -> tuple[Counter[int], int, int]:
    """Return the results per time key, the results, and the live stories."""
    fd = m.facets
    keys, n = np.unique(time_keys(fd, np.flatnonzero(m.mask)), return_counts=True)
    return Counter(dict(zip(keys.tolist(), n.tolist(), strict=True))), int(m.mask.sum()), \
        fd.live_count


def ids_at(keys: list[int], m: Matches, gen: Generation) -> dict[int, list[str]]:
    """Return the ids of the results at each of the given time keys."""
    docs = np.flatnonzero(m.mask)
    at = time_keys(m.facets, docs)
    searcher = gen.searcher()
    return {k: [stored_id(searcher, int(d)) for d in docs[at == k]] for k in keys}


def words_of(ids: list[str], _m: Matches, gen: Generation) -> dict[str, frozenset[str]]:
    """Return the words of the stories of ids this shard holds."""
    searcher = gen.searcher()
    out = {}
    for i in ids:
        docnum = searcher.document_number(id=i)
        if docnum is not None:
            out[i] = doc_words(searcher, docnum)
    return out


def stems_and_freqs(
    words: list[str], _m: Matches, gen: Generation
) -> tuple[dict[str, str | None], dict[str, int]]:
    """Return each word's stem (the body field's analyzer) and each stem's body doc frequency."""
    searcher = gen.searcher()
    analyzer = searcher.schema["body"].analyzer
    reader = searcher.reader()
    stems = {w: stem_of(analyzer, w) for w in words}
    freqs = {s: int(reader.doc_frequency("body", s)) for s in stems.values() if s is not None}
    return stems, freqs


def word_counts(stems: list[str], m: Matches, gen: Generation) -> tuple[list[int], list[int]]:
    """Return how many results, and how many live stories, hold each stem."""
    searcher = gen.searcher()
    fd = m.facets
    ids = [word_ids(searcher, s, fd.n) for s in stems]
    return [int(m.mask[i].sum()) for i in ids], [int(fd.live[i].sum()) for i in ids]


# -- the coordinator's side -------------------------------------------------------------------


def sample_ids(parts: list[Any], ask: Callable[[Any], list[Any]]) -> list[str]:
    """Return the ids of the stories one index samples (researcher.sampled), from the shards'
    key_counts: the story at each sampled position of the (time key, id) order."""
    per_key: Counter[int] = Counter()
    for p in parts:
        per_key.update(p[0])
    keys = np.array(sorted(per_key), dtype=np.int64)
    ends = np.cumsum([per_key[int(k)] for k in keys])
    wanted = []  # (time key, rank by id within the key) of each sampled position
    for pos in sample_positions(int(ends[-1]) if len(ends) else 0):
        g = int(np.searchsorted(ends, pos, "right"))
        wanted.append((int(keys[g]), int(pos - (ends[g] - per_key[int(keys[g])]))))
    groups: dict[int, list[str]] = {}
    for answer in ask(partial(ids_at, sorted({k for k, _r in wanted}))):
        for k, ids in answer.items():
            groups.setdefault(k, []).extend(ids)
    return [sorted(groups[k])[r] for k, r in wanted]


class _Moved(Exception):
    """A shard's generation changed between two rounds."""


# views.map_matches over one ClusterService: (request, fn) -> (generations, answers)
MapMatches = Callable[[SearchRequest, Any], tuple[tuple[str, ...], list[Any]]]


def significant_words(
    map_matches: MapMatches, req: SearchRequest, top: int, min_count: int
) -> tuple[int, int, list[dict[str, Any]]]:
    """Return (results, live stories, significant words) as one index answers them."""
    for _attempt in range(2):
        try:
            return _significant_words(map_matches, req, top, min_count)
        except _Moved:
            continue
    raise research.QueryError("the index changed during the question: ask again")


def _significant_words(
    map_matches: MapMatches, req: SearchRequest, top: int, min_count: int
) -> tuple[int, int, list[dict[str, Any]]]:
    gens, parts = map_matches(req, key_counts)

    def ask(fn: Any) -> list[Any]:
        moved, answers = map_matches(req, fn)
        if moved != gens:
            raise _Moved
        return answers

    stories, background = sum(p[1] for p in parts), sum(p[2] for p in parts)
    if stories == 0:
        return 0, background, []
    chosen = sample_ids(parts, ask)
    sample_df: Counter[str] = Counter()
    for answer in ask(partial(words_of, chosen)):
        for words in answer.values():
            sample_df.update(words)
    words = [w for w, _k in sample_words(sample_df, min_count)]
    stems: dict[str, str | None] = {}
    freqs: Counter[str] = Counter()
    for shard_stems, shard_freqs in ask(partial(stems_and_freqs, words)):
        stems.update(shard_stems)  # one analyzer: every shard stems alike
        freqs.update(shard_freqs)
    picked, surface = candidates(
        sample_df, len(chosen), background, top, min_count, stems.__getitem__, freqs.__getitem__
    )
    fg = np.zeros(len(picked), dtype=np.int64)
    bg = np.zeros(len(picked), dtype=np.int64)
    for shard_fg, shard_bg in ask(partial(word_counts, picked)):
        fg += np.array(shard_fg, dtype=np.int64)
        bg += np.array(shard_bg, dtype=np.int64)
    return stories, background, word_items(
        picked, surface, fg, stories, bg, background, top, min_count
    )
