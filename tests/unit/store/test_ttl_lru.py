"""The in-memory cache's storage keeps cachetools' TLRUCache rules (which it replaced for speed):
expiry per entry, least recently used evicted first, expired entries dropped before live ones."""

from __future__ import annotations

import random

import pytest
from cachetools import TLRUCache

from rewardgate.store.ttl_lru import TtlLru


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_reads_then_miss():
    clock = Clock()
    lru = TtlLru(10, clock)
    lru.set("a", (1.0,), 5.0)
    lru.set("b", (2.0,), 50.0)
    clock.now += 5.0  # "a" expires at exactly this time
    assert lru.get_many(["a", "b", "c"]) == [None, (2.0,), None]


def test_a_full_map_drops_expired_entries_before_the_least_recently_used():
    clock = Clock()
    lru = TtlLru(3, clock)
    lru.set("old", (0.0,), 100.0)
    lru.set("short", (1.0,), 1.0)
    lru.set("long", (2.0,), 100.0)
    lru.get_many(["old"])  # "short" is now the least recently used, then "long"
    clock.now += 2.0
    lru.set("new", (3.0,), 100.0)  # "short" expired: dropped, nothing live evicted
    assert lru.get_many(["old", "long", "new"]) == [(0.0,), (2.0,), (3.0,)]
    lru.set("newer", (4.0,), 100.0)  # full of live entries: the least recently used ("old") goes
    assert lru.get_many(["old", "long", "new", "newer"]) == [None, (2.0,), (3.0,), (4.0,)]
    assert len(lru) == 3


def test_overwriting_renews_the_expiry_and_leaves_no_stale_expiry_behind():
    clock = Clock()
    lru = TtlLru(2, clock)
    lru.set("k", (1.0,), 1.0)
    lru.set("k", (2.0,), 10.0)
    clock.now += 5.0
    lru.set("other", (3.0,), 10.0)  # the first expiry of "k" has passed: "k" must survive it
    assert lru.get_many(["k", "other"]) == [(2.0,), (3.0,)]


def test_max_entries_must_be_positive():
    with pytest.raises(ValueError):
        TtlLru(0, Clock())


@pytest.mark.parametrize("seed", range(5))
def test_the_same_reads_as_cachetools_tlru_over_random_operations(seed):
    rng = random.Random(seed)
    clock = Clock()
    ours = TtlLru(8, clock)
    theirs = TLRUCache(8, ttu=lambda _key, value, now: now + value[0], timer=clock)
    keys = [f"k{i}" for i in range(20)]
    for step in range(3000):
        clock.now += rng.choice((0.0, 0.0, 0.5, 1.0, 3.0))
        if rng.random() < 0.5:
            key, ttl = rng.choice(keys), rng.choice((1.0, 2.0, 5.0, 20.0))
            ours.set(key, (ttl, step), ttl)
            theirs[key] = (ttl, step)
        else:
            wanted = rng.sample(keys, rng.randint(1, 6))
            expected = []
            for key in wanted:
                try:
                    expected.append(theirs[key])
                except KeyError:
                    expected.append(None)
            assert ours.get_many(wanted) == expected, step
    assert len(ours._expiry) <= 2 * len(ours) + 16 + 1
