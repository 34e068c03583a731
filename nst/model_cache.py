"""The one cache of loaded networks (VGG feature extractors and CycleGAN generators).

Networks are loaded on first use and kept by a key naming where their weights came from and
where they run; the least recently used goes when more than ``limit`` are held. Thread-safe:
a request for a loaded network never waits for another one's download, and two requests for
the same new network load it once. This is the package's only global mutable state.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class ModelCache(Generic[T]):
    """Loaded networks by key, least recently used first out."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._loading: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def _lookup(self, key: Hashable) -> T | None:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            return None

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The network for ``key``, calling ``load`` (once, whoever asks meanwhile) when it is not held."""
        found = self._lookup(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            found = self._lookup(key)  # loaded by another thread meanwhile?
            if found is not None:
                return found
            try:
                loaded = load()
            finally:
                with self._lock:
                    self._loading.pop(key, None)
            with self._lock:
                self._items[key] = loaded
                while len(self._items) > self.limit:
                    self._items.popitem(last=False)
            return loaded

    def clear(self) -> None:
        """Forget every network (frees their memory)."""
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
