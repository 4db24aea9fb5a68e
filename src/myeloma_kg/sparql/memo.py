"""A small bounded memory for facts learnt about query texts.

Clients repeat the same queries, so the endpoint remembers what it learnt about a text (that it
passed the checks, that it ran fast).  What is remembered is keyed by a SHA-256 digest of the text
and of what else the fact depends on, never by the text itself; texts above ``MAX_TEXT`` are not
remembered at all, and the memory holds a bounded number of entries and bytes, dropping the least
recently used first.  So a flood of distinct or large texts cannot make the server keep them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

MAX_TEXT = 64 * 1024  # characters: a longer query text is never remembered

V = TypeVar("V")


def digest(*parts: object) -> bytes:
    """A SHA-256 digest of the parts (strings, None, or tuples of strings), each length-prefixed
    so that no two different lists of parts give the same input."""
    h = hashlib.sha256()
    for part in parts:
        _feed(h, part)
    return h.digest()


def _feed(h, part: object) -> None:
    if part is None:
        h.update(b"N")
    elif isinstance(part, str):
        data = part.encode("utf-8", "surrogatepass")
        h.update(b"S%d:" % len(data))
        h.update(data)
    elif isinstance(part, (tuple, list)):
        h.update(b"T%d:" % len(part))
        for item in part:
            _feed(h, item)
    else:
        raise TypeError(f"cannot digest {type(part).__name__}")


def rememberable(text: str) -> bool:
    return len(text) <= MAX_TEXT


class BoundedMemo(Generic[V]):
    """A least-recently-used map from digests to small values, bounded in entries and in bytes.

    The caller states each value's size (``size``); a value larger than ``max_entry_bytes`` is not
    kept.  Thread-safe.
    """

    def __init__(self, max_entries: int, max_bytes: int, max_entry_bytes: int) -> None:
        self.max_entries, self.max_bytes, self.max_entry_bytes = max_entries, max_bytes, max_entry_bytes
        self._items: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        if size > self.max_entry_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (value, size)
            self._bytes += size
            while self._items and (len(self._items) > self.max_entries or self._bytes > self.max_bytes):
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[Hashable, V]]:
        """A copy of what is kept (key, value), oldest first."""
        with self._lock:
            return [(key, value) for key, (value, _) in self._items.items()]
