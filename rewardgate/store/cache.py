"""Score cache interface, key derivation, value encoding, and the in-memory cache.

Values are the head scores of one source for one item. Keys are derived from
the source fingerprint (name, version = weights or rule-config hash, and the
fields it reads) plus exactly the item fields the source reads, so anything
that can change a score changes the key. Errors are never cached.

Implementations must be fail-open: ``get_many`` returns misses instead of
raising, ``set_many`` may drop writes; a cache never fails a request. After
``set_many`` returns, ``get_many`` in the same process sees the entries (the
single-flight table relies on it to avoid duplicate computations).
"""

from __future__ import annotations

import hashlib
import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from operator import attrgetter

import orjson

from rewardgate.items import ScoringItem
from rewardgate.store.ttl_lru import TtlLru

#: Bumped whenever key derivation or value encoding changes.
KEY_VERSION = "v1"


def cache_key(fingerprint: str, reads: Sequence[str], item: ScoringItem) -> str:
    """``v1:<blake2b-128 hex>`` of the fingerprint and the read fields."""
    content = orjson.dumps(
        [fingerprint, [getattr(item, name) for name in reads]],
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{KEY_VERSION}:{hashlib.blake2b(content, digest_size=16).hexdigest()}"


def cache_keys(fingerprint: str, reads: Sequence[str], items: Sequence[ScoringItem]) -> list[str]:
    """:func:`cache_key` of each item, the same strings, in one pass: the fields are read by one
    ``attrgetter`` and no call is made per item beyond the encoding and the hash. Each hash is a
    copy of an empty blake2b-128 (a quarter cheaper than the constructor, which parses its
    keyword arguments every time)."""
    if len(reads) > 1:
        fields = list(map(attrgetter(*reads), items))  # tuples: orjson writes them as lists
    elif reads:
        fields = [[value] for value in map(attrgetter(reads[0]), items)]
    else:
        fields = [[]] * len(items)
    dumps, sort, fresh = orjson.dumps, orjson.OPT_SORT_KEYS, _EMPTY_BLAKE2B_128.copy
    prefix = f"{KEY_VERSION}:"
    keys: list[str] = []
    append = keys.append
    for values in fields:
        digest = fresh()
        digest.update(dumps([fingerprint, values], option=sort))
        append(prefix + digest.hexdigest())
    return keys


#: Never updated: only copied (a copy is independent of it and of other copies).
_EMPTY_BLAKE2B_128 = hashlib.blake2b(digest_size=16)


def encode_scores(scores: Sequence[float]) -> bytes:
    """Little-endian float64s: compact and bit-exact."""
    return struct.pack(f"<{len(scores)}d", *scores)


def decode_scores(blob: bytes) -> list[float]:
    if len(blob) % 8:
        raise ValueError(f"cache value of {len(blob)} bytes is not a list of float64")
    return list(struct.unpack(f"<{len(blob) // 8}d", blob))


class ScoreCache(ABC):
    @abstractmethod
    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        """One entry per key, ``None`` for a miss, in key order. Never raises."""

    @abstractmethod
    async def set_many(self, entries: Mapping[str, list[float]], kind: str) -> None:
        """Store successful scores of one source ``kind`` (``model``, ``rule``). Never raises."""

    async def check_reachable(self) -> bool:
        """At start-up: is the cache's backing store reachable? Logs a WARNING when not. Never raises."""
        return True

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass


class InMemoryScoreCache(ScoreCache):
    """Process-local LRU with a time to live per source kind (rewardgate/store/ttl_lru.py)."""

    def __init__(self, max_entries: int, ttl_s_by_kind: Mapping[str, float]) -> None:
        self._ttl_s_by_kind = dict(ttl_s_by_kind)
        self._entries = TtlLru(max_entries, time.monotonic)

    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        # Stored as tuples, handed out as fresh lists: no caller can change a cached score.
        return [None if value is None else list(value) for value in self._entries.get_many(keys)]

    async def set_many(self, entries: Mapping[str, list[float]], kind: str) -> None:
        ttl = self._ttl_s_by_kind[kind]
        for key, value in entries.items():
            self._entries.set(key, tuple(value), ttl)


class NullScoreCache(ScoreCache):
    """Caching disabled."""

    async def get_many(self, keys: Sequence[str]) -> list[list[float] | None]:
        return [None] * len(keys)

    async def set_many(self, entries: Mapping[str, list[float]], kind: str) -> None:
        return None
