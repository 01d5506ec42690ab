"""Single-flight: identical work in flight at the same time is done once.

Keys are cache keys (source fingerprint + the fields it reads), so "identical"
means "certain to produce the same score". The first request to ``claim`` a
key owns it and must ``resolve`` it; concurrent requests get the owner's
future and await it. The owner ``release``s its keys once the result is in
the cache, so later requests hit the cache instead. A key released without a
result (the owner was cancelled or failed as a whole) fails its waiters with
:class:`Abandoned`, and they compute it themselves.

Per process: replicas behind a load balancer share work through the cache.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any


class Abandoned(Exception):
    """The owner of an in-flight key gave up before producing a result."""


class _Flight:
    """One key in flight: its outcome once resolved, and a future only once someone waits.

    Most keys are never waited on (no concurrent duplicate), so the future is
    created lazily: no future, done-callback or event-loop handle per item on
    the common path. The defaults are class attributes, so making one (once
    per key claimed) runs no ``__init__``.
    """

    future: asyncio.Future | None = None
    outcome: Any = None
    resolved = False

    def waiter(self) -> asyncio.Future:
        if self.future is None:
            self.future = asyncio.get_running_loop().create_future()
            # Waiters may all be gone; never log an unretrieved Abandoned.
            self.future.add_done_callback(_retrieve)
            if self.resolved:
                self.future.set_result(self.outcome)
        return self.future


def _retrieve(future: asyncio.Future) -> None:
    if not future.cancelled():
        future.exception()


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, _Flight] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def claim(self, keys: Iterable[str]) -> tuple[list[str], dict[str, asyncio.Future]]:
        """Split ``keys`` (unique) into those the caller now owns and those in flight elsewhere."""
        owned: list[str] = []
        shared: dict[str, asyncio.Future] = {}
        flights = self._flights
        for key in keys:
            flight = flights.get(key)
            if flight is None:
                flights[key] = _Flight()
                owned.append(key)
            else:
                shared[key] = flight.waiter()
        return owned, shared

    def resolve(self, key: str, outcome: Any) -> None:
        self.resolve_many({key: outcome})

    def resolve_many(self, outcomes: Mapping[str, Any]) -> None:
        """:meth:`resolve` each key with its outcome (keys not in flight, or resolved, are left)."""
        flights = self._flights
        for key, outcome in outcomes.items():
            flight = flights.get(key)
            if flight is None or flight.resolved:
                continue
            flight.outcome, flight.resolved = outcome, True
            future = flight.future
            if future is not None and not future.done():
                future.set_result(outcome)

    def settle(self, outcomes: Mapping[str, Any]) -> None:
        """:meth:`resolve_many` then :meth:`release` of the same keys, in one pass: for outcomes
        the cache already holds (hits), whose keys may be forgotten at once."""
        pop = self._flights.pop
        for key, outcome in outcomes.items():
            flight = pop(key, None)
            if flight is None or flight.resolved:
                continue
            future = flight.future
            if future is not None and not future.done():
                future.set_result(outcome)

    def release(self, keys: Iterable[str]) -> None:
        """Forget owned keys; unresolved ones fail their waiters with Abandoned."""
        for key in keys:
            flight = self._flights.pop(key, None)
            future = flight.future if flight is not None and not flight.resolved else None
            if future is not None and not future.done():
                future.set_exception(Abandoned())
