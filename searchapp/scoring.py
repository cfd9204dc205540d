"""BM25F as Whoosh 2.7.5 computes it (whoosh.scoring), as pure functions over numpy arrays.

Whoosh scores one posting at a time in Python; the same formula over a whole posting list is a
handful of array operations. Tests check the scores equal Whoosh's own to 6 decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from math import log

import numpy as np

# BM25F's free parameters, Whoosh's defaults (whoosh.scoring.BM25F).
B = 0.75
K1 = 1.2


def idf(n_docs: int, doc_freq: int) -> float:
    """Whoosh's inverse document frequency (whoosh.scoring.WeightScorer's idf)."""
    return log(n_docs / (doc_freq + 1)) + 1


def bm25(
    idf_value: float, tf: np.ndarray, lengths: np.ndarray, avg_length: float,
    b: float = B, k1: float = K1,
) -> np.ndarray:
    """Whoosh's bm25(idf, tf, fl, avgfl, B, K1), over arrays of term and field frequencies."""
    tf = tf.astype(np.float64)
    norm = k1 * ((1 - b) + b * lengths / avg_length)
    result: np.ndarray = idf_value * (tf * (k1 + 1)) / (tf + norm)
    return result


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
    doc_freqs: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def avg_length(self, fieldname: str) -> float:
        """Mean field length over every story (Whoosh's avg_field_length, 1.0 when empty)."""
        return self.field_lengths.get(fieldname, 0) / (self.doc_count or 1) or 1.0

    def doc_freq(self, fieldname: str, text: str, local: int) -> int:
        """Return a term's document frequency (local: this generation's, the fallback)."""
        return self.doc_freqs.get((fieldname, text), local)
