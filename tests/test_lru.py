"""The shared bounded cache: recency order, budget by cost, dropping by key."""

from __future__ import annotations

import numpy as np

from searchapp.lru import Lru


def test_least_recently_used_goes_first() -> None:
    cache: Lru[str, int] = Lru(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent: "b" goes next
    cache.put("c", 3)
    assert cache.get("b") is None and cache.get("a") == 1 and cache.get("c") == 3
    assert len(cache) == 2


def test_budget_counts_the_cost_of_each_value() -> None:
    cache: Lru[str, np.ndarray] = Lru(100, cost=lambda a: a.nbytes)
    cache.put("small", np.zeros(5, np.int64))  # 40 bytes
    cache.put("big", np.zeros(10, np.int64))  # 80: over budget, "small" goes
    assert cache.get("small") is None and cache.get("big") is not None
    cache.put("big", np.zeros(2, np.int64))  # replacing a key returns its cost
    cache.put("other", np.zeros(5, np.int64))
    assert cache.get("big") is not None and cache.get("other") is not None


def test_drop_forgets_the_keys_asked_for() -> None:
    cache: Lru[tuple[str, int], str] = Lru(10)
    for folder in ("g1", "g2"):
        for i in range(3):
            cache.put((folder, i), f"{folder}-{i}")
    cache.drop(lambda k: k[0] == "g1")
    assert sorted(cache.kept()) == [("g2", 0), ("g2", 1), ("g2", 2)]
    cache.clear()
    assert len(cache) == 0 and cache.get(("g2", 0)) is None
