"""Single-flight: identical work in flight is done once; an owner that gives up hands the work on.

The abandoned path end to end: a request computing a key is cancelled while
another waits for the same key; the waiter is told (``Abandoned``), computes
the key itself and gets the right score, and the table is left empty.
"""

from __future__ import annotations

import asyncio
import gc
import time
from dataclasses import dataclass, field

import pytest

from rewardgate.errors import VerifierTimeout
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.base import ScoreSource, SourceKey, SourceResult
from rewardgate.store.cache import InMemoryScoreCache
from rewardgate.store.fanout import Fanout
from rewardgate.store.single_flight import Abandoned, SingleFlight


async def test_the_first_claim_owns_and_later_claims_share():
    flight = SingleFlight()
    owned, shared = flight.claim(["a", "b"])
    assert (owned, shared) == (["a", "b"], {})
    owned, shared = flight.claim(["b", "c"])
    assert owned == ["c"] and set(shared) == {"b"}
    flight.resolve("b", [0.5])
    assert await shared["b"] == [0.5]
    flight.release(["a", "b", "c"])
    assert len(flight) == 0


async def test_a_waiter_arriving_after_the_result_gets_it_at_once():
    flight = SingleFlight()
    flight.claim(["k"])
    flight.resolve("k", [1.0])
    _, shared = flight.claim(["k"])
    assert shared["k"].done() and shared["k"].result() == [1.0]


async def test_released_without_a_result_fails_the_waiters_with_abandoned():
    flight = SingleFlight()
    flight.claim(["k"])
    _, first = flight.claim(["k"])
    _, second = flight.claim(["k"])
    assert first["k"] is second["k"]  # one future per key, however many wait
    flight.release(["k"])
    with pytest.raises(Abandoned):
        await first["k"]
    assert len(flight) == 0
    owned, _ = flight.claim(["k"])  # the key is free again
    assert owned == ["k"]


async def test_an_abandoned_key_nobody_awaits_is_not_logged(caplog):
    flight = SingleFlight()
    flight.claim(["k"])
    _, shared = flight.claim(["k"])
    flight.release(["k"])
    del shared
    gc.collect()
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_a_resolution_after_release_or_twice_changes_nothing():
    flight = SingleFlight()
    flight.claim(["k"])
    _, shared = flight.claim(["k"])
    flight.resolve("k", [1.0])
    flight.resolve("k", [2.0])
    flight.release(["k"])
    flight.resolve("k", [3.0])
    assert await shared["k"] == [1.0]


@dataclass
class HeldSource(ScoreSource):
    """A source whose computation waits until the test lets it go; counts what it computes."""

    kind = "rule"
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    computed: list[str] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reads(self) -> tuple[str, ...]:
        return ("response",)

    @property
    def version(self) -> str:
        return "v1"

    def is_ready(self) -> bool:
        return True

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        self.computed += [item.response for item in items]
        self.started.set()
        await self.gate.wait()
        return SourceResult(outcomes=[[float(len(item.response))] for item in items])


async def test_a_cancelled_owner_hands_the_key_to_its_waiter_which_computes_it():
    source = HeldSource(SourceKey("rule", "held"))
    fanout = Fanout(InMemoryScoreCache(100, {"rule": 60}), SingleFlight(), Metrics())
    item = ScoringItem("p", "four", None, {})
    deadline = time.monotonic() + 30
    owner = asyncio.create_task(fanout.run([(source, [item])], deadline, use_cache=True))
    await source.started.wait()
    waiter = asyncio.create_task(fanout.run([(source, [item])], deadline, use_cache=True))
    await asyncio.sleep(0.01)
    assert source.computed == ["four"]  # the waiter shares the owner's flight, computes nothing yet
    owner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await owner
    source.gate.set()
    result = await waiter
    assert result.by_source["rule:held"].outcomes == [[4.0]]
    assert result.by_source["rule:held"].cached == [False]
    assert source.computed == ["four", "four"]  # abandoned, so computed again by the waiter
    assert len(fanout._flight) == 0
    again = await fanout.run([(source, [item])], deadline, use_cache=True)
    assert again.by_source["rule:held"].cached == [True]  # the waiter's result went to the cache


async def test_a_shared_item_error_is_shared_not_recomputed():
    error = VerifierTimeout("too slow")

    class Failing(HeldSource):
        async def compute(self, items, deadline):
            self.computed += [item.response for item in items]
            self.started.set()
            await self.gate.wait()
            return SourceResult(outcomes=[error for _ in items])

    source = Failing(SourceKey("rule", "failing"))
    fanout = Fanout(InMemoryScoreCache(100, {"rule": 60}), SingleFlight(), Metrics())
    item = ScoringItem("p", "x", None, {})
    deadline = time.monotonic() + 30
    owner = asyncio.create_task(fanout.run([(source, [item])], deadline, use_cache=True))
    await source.started.wait()
    waiter = asyncio.create_task(fanout.run([(source, [item])], deadline, use_cache=True))
    await asyncio.sleep(0.01)
    source.gate.set()
    first, second = await owner, await waiter
    assert first.by_source["rule:failing"].outcomes == [error] == second.by_source["rule:failing"].outcomes
    assert source.computed == ["x"]


async def test_settle_is_resolve_many_then_release():
    settled, stepwise = SingleFlight(), SingleFlight()
    waiters = []
    for flight in (settled, stepwise):
        flight.claim(["a", "b", "c"])
        _, shared = flight.claim(["a", "b"])
        flight.resolve("b", [9.0])  # already resolved: its first outcome stays
        waiters.append(shared)
    outcomes = {"a": [1.0], "b": [2.0], "x": [3.0]}  # x: not in flight, left alone
    settled.settle(outcomes)
    stepwise.resolve_many(outcomes)
    stepwise.release(list(outcomes))
    for flight, shared in zip((settled, stepwise), waiters, strict=True):
        assert [await shared["a"], await shared["b"]] == [[1.0], [9.0]]
        assert list(flight._flights) == ["c"]


async def test_a_requests_hits_are_released_before_its_misses_are_computed():
    """A hit is in the cache already: its key leaves the table at once, so a concurrent request
    reads it from the cache instead of waiting on a flight held for the misses' computation."""
    source = HeldSource(SourceKey("rule", "held"))
    fanout = Fanout(InMemoryScoreCache(100, {"rule": 60}), SingleFlight(), Metrics())
    hit, miss = ScoringItem("p", "hit", None, {}), ScoringItem("p", "a miss", None, {})
    deadline = time.monotonic() + 30
    source.gate.set()
    await fanout.run([(source, [hit])], deadline, use_cache=True)  # now cached
    source.gate.clear()
    source.started.clear()
    owner = asyncio.create_task(fanout.run([(source, [hit, miss])], deadline, use_cache=True))
    await source.started.wait()
    assert len(fanout._flight) == 1  # only the miss is in flight
    other = await fanout.run([(source, [hit])], deadline, use_cache=True)
    assert other.by_source["rule:held"].cached == [True]
    source.gate.set()
    result = await owner
    assert result.by_source["rule:held"].outcomes == [[3.0], [6.0]]
    assert result.by_source["rule:held"].cached == [True, False]
    assert len(fanout._flight) == 0
