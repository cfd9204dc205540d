"""A bounded, thread-safe cache that forgets the least recently used entries first.

The search side keeps several per-generation caches (term postings, fingerprints, fuzzy
lexicons and expansions, research word lists); they share this one piece so the bound, the
recency order and the locking are written once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _one(_value: object) -> int:
    return 1


class Lru(Generic[K, V]):
    """A map of at most `budget` cost units: each entry costs cost(value) (1 by default)."""

    def __init__(self, budget: int, cost: Callable[[V], int] = _one) -> None:
        self.budget = budget
        self._cost = cost
        self._items: OrderedDict[K, V] = OrderedDict()
        self._spent = 0
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """Return the value kept for key (now the most recently used), or None."""
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: K, value: V) -> None:
        """Keep value for key, forgetting the least recently used entries past the budget."""
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._spent -= self._cost(old)
            self._items[key] = value
            self._spent += self._cost(value)
            while self._spent > self.budget and self._items:
                _key, gone = self._items.popitem(last=False)
                self._spent -= self._cost(gone)

    def drop(self, which: Callable[[K], bool]) -> None:
        """Forget every entry whose key `which` accepts."""
        with self._lock:
            for key in [k for k in self._items if which(k)]:
                self._spent -= self._cost(self._items.pop(key))

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._spent = 0

    def kept(self) -> list[K]:
        """Return the keys kept now, least recently used first (a copy: safe to iterate)."""
        with self._lock:
            return list(self._items)

    def __len__(self) -> int:
        return len(self._items)
