"""Score cache interface, key derivation, and the in-memory implementation.

Values are the head scores of one source for one item. Keys are derived from
the source fingerprint (name, version = weights or rule-config hash, and the
fields it reads) plus exactly the item fields the source reads, so anything
that can change a score changes the key. Errors are never cached.

Implementations must be fail-open: ``get_many`` may return misses instead of
raising, and ``set_many`` may drop writes; a cache must never fail a request.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence

import orjson
from cachetools import TTLCache

from service.items import ScoringItem

KEY_PREFIX = "rg:v1:"


def cache_key(fingerprint: str, reads: Sequence[str], item: ScoringItem) -> str:
    """``rg:v1:<blake2b-128 hex>`` of the fingerprint and the read fields."""
    content = orjson.dumps(
        [fingerprint, [getattr(item, name) for name in reads]],
        option=orjson.OPT_SORT_KEYS,
    )
    return KEY_PREFIX + hashlib.blake2b(content, digest_size=16).hexdigest()


class ScoreCache(ABC):
    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        """One entry per key, ``None`` for a miss, in key order."""

    @abstractmethod
    async def set_many(self, entries: dict[str, list[float]]) -> None:
        """Store successful scores (best effort)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class InMemoryScoreCache(ScoreCache):
    """Process-local LRU with a per-entry time to live."""

    def __init__(self, max_entries: int, ttl_s: float) -> None:
        self._entries: TTLCache[str, tuple[float, ...]] = TTLCache(max_entries, ttl_s)

    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        found = [self._entries.get(key) for key in keys]
        return [list(value) if value is not None else None for value in found]

    async def set_many(self, entries: dict[str, list[float]]) -> None:
        for key, value in entries.items():
            self._entries[key] = tuple(value)


class NullScoreCache(ScoreCache):
    """Caching disabled."""

    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        return [None] * len(keys)

    async def set_many(self, entries: dict[str, list[float]]) -> None:
        return None
