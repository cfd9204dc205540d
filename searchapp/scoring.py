"""The ranking formula: BM25F per typed word, all-words-first ordering, as pure numpy functions.

Whoosh scores one posting at a time in Python; the same formula over a whole posting list is a
handful of array operations (evaluator.py applies it; tests recompute it by hand).

Why these choices (measured in docs/ranking.md, nDCG@10 on Cranfield and CACM):

* A typed word is searched in several fields (title, lead, body, persons, topics). BM25F
  (Robertson & Zaragoza) weights each field's term frequency by the field's boost and its own
  length normalisation, sums them, and saturates the sum ONCE, with one idf for the word.
  Whoosh's "BM25F" instead adds one saturated BM25 per field, each with its own idf, so a word
  in the title and the body counts twice as much as the same word twice in the body: replacing
  it was the largest single gain.
* idf is Robertson-Sparck Jones', log(1 + (N - df + 0.5) / (df + 0.5)), positive for every df
  (Whoosh's log(N / (df + 1)) + 1 overweights common words).
* k1 = 1.5, b = 0.75: the usual values (bm25s, Lucene-era defaults); k1 1.2 to 2.0 moves
  nDCG by under 0.01 on both sets, and tuning past that would fit two collections only.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from math import log

import numpy as np

K1 = 1.5
B = 0.75


def idf(n: int, df: int) -> float:
    """Robertson-Sparck Jones idf of a word found in df of n stories (always > 0)."""
    return log(1.0 + (n - df + 0.5) / (df + 0.5))


def field_tf(
    tf: np.ndarray, lengths: np.ndarray | None, avg: float, boost: float, b: float = B
) -> np.ndarray:
    """One field's contribution to a word's BM25F frequency: boost * tf / length norm."""
    tf = tf.astype(np.float64)
    if lengths is None or avg <= 0:
        return boost * tf
    return boost * tf / ((1.0 - b) + b * lengths.astype(np.float64) / avg)


def saturate(weighted_tf: np.ndarray, word_idf: float, k1: float = K1) -> np.ndarray:
    """BM25's saturation of a (field-weighted) frequency, times the word's idf."""
    return word_idf * weighted_tf * (k1 + 1.0) / (k1 + weighted_tf)


def ranked(
    docs: np.ndarray,
    scores: np.ndarray,
    tier: np.ndarray | None,
    ts: np.ndarray,
    need: int,
) -> np.ndarray:
    """Return the indexes into docs of the best `need`: tier first, then score, newest, docnum.

    tier (1 for stories with every word, 0 for the rest) dominates the score: all-words-first.
    """
    if len(docs) == 0 or need <= 0:
        return np.zeros(0, dtype=np.int64)
    top_tier = tier if tier is not None else np.zeros(len(docs), dtype=np.int8)
    doc_scores = np.round(scores, 9)
    idx = np.arange(len(docs))
    if len(docs) > need:
        # Keep everything at least as good as the need-th best (ties all kept, sorted below).
        key = top_tier * (float(np.abs(doc_scores).max()) * 2 + 1.0) + doc_scores
        cut = np.partition(key, len(key) - need)[len(key) - need]
        idx = idx[key >= cut]
    order = np.lexsort((-docs[idx], -ts[docs[idx]], -doc_scores[idx], -top_tier[idx]))
    return idx[order][:need]


@dataclass
class CollectionStats:
    """The collection BM25 scores against when it is more than one generation (a sharded
    index): document count, total length of each field, and document frequencies per term.

    Scores depend on these only through N, df and the average field length; a shard given the
    totals over every shard scores each story exactly as one index of all of them would (what
    Elasticsearch's dfs_query_then_fetch does). Without one, a generation scores by its own.
    """

    doc_count: int
    field_lengths: Mapping[str, int]
    # (field, text) of a term, or evaluator.word_key of a word searched in several fields.
    doc_freqs: Mapping[Hashable, int] = field(default_factory=dict)

    def avg_length(self, fieldname: str) -> float:
        """Mean field length over every story (as Generation.avg_length, 1.0 when empty)."""
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1) or 1.0

    def doc_freq(self, key: Hashable, local: int) -> int:
        """Return a term's or word's document frequency (local: this generation's)."""
        return self.doc_freqs.get(key, local)
