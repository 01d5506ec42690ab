"""A least-recently-used map whose entries expire, read many keys at a time.

The in-memory score cache's storage (rewardgate/store/cache.py). It keeps the
rules of cachetools' ``TLRUCache``, which it replaces on the hot path (a
cached 64-item request reads 64 keys, and ``TLRUCache`` costs several Python
calls per read):

* an entry lives until its expiry time, given when it is set; from then on
  reads miss it;
* a read, hit or miss on an expired entry, makes the entry the most recently used;
* a write first drops every expired entry, then, if the map is full, the least
  recently used live ones;
* ``max_entries`` must be positive (``TLRUCache`` refuses to store anything at 0).

Expiry times sit in a heap beside the map; an overwritten entry leaves its old
heap slot behind, recognised by its sequence number and dropped when reached
(or when stale slots outnumber live entries).
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any


class TtlLru:
    def __init__(self, max_entries: int, clock: Callable[[], float]) -> None:
        if max_entries <= 0:
            raise ValueError("max_entries must be positive")
        self._max = max_entries
        self._clock = clock
        #: key -> (expires, value, sequence), least recently used first.
        self._entries: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        #: (expires, sequence, key) of every write; slots of overwritten or dropped entries are stale.
        self._expiry: list[tuple[float, int, str]] = []
        self._sequence = itertools.count()

    def __len__(self) -> int:
        return len(self._entries)

    def get_many(self, keys: Iterable[str]) -> list[Any]:
        """Each key's value, or None where it is absent or expired; one clock reading for all."""
        now = self._clock()
        entries = self._entries
        get, touch = entries.get, entries.move_to_end
        found = []
        for key in keys:
            entry = get(key)
            if entry is None:
                found.append(None)
                continue
            touch(key)
            found.append(entry[1] if now < entry[0] else None)
        return found

    def set(self, key: str, value: Any, ttl_s: float) -> None:
        """Store ``value`` under ``key`` until ``ttl_s`` seconds from now, as the most recently used."""
        now = self._clock()
        self._expire(now)
        entries = self._entries
        expires = now + ttl_s
        if not now < expires:
            entries.pop(key, None)  # already expired: an older value must not stay readable
            return
        if key in entries:
            entries.move_to_end(key)
        else:
            while len(entries) >= self._max:
                entries.popitem(last=False)
        sequence = next(self._sequence)
        entries[key] = (expires, value, sequence)
        heapq.heappush(self._expiry, (expires, sequence, key))

    def _expire(self, now: float) -> None:
        """Drop every expired entry, and stale heap slots on the way (all of them once they
        outnumber the live entries, so the heap stays bounded)."""
        heap, entries = self._expiry, self._entries
        if len(heap) > 2 * len(entries) + 16:
            heap[:] = [slot for slot in heap if _live(entries, slot)]
            heapq.heapify(heap)
        while heap and (not now < heap[0][0] or not _live(entries, heap[0])):
            _, sequence, key = heapq.heappop(heap)
            entry = entries.get(key)
            if entry is not None and entry[2] == sequence:
                del entries[key]


def _live(entries: OrderedDict, slot: tuple[float, int, str]) -> bool:
    """Whether heap ``slot`` is its key's current entry (not overwritten, evicted or dropped)."""
    entry = entries.get(slot[2])
    return entry is not None and entry[2] == slot[1]
