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
from collections.abc import Iterable
from typing import Any


class Abandoned(Exception):
    """The owner of an in-flight key gave up before producing a result."""


class SingleFlight:
    def __init__(self) -> None:
        self._flights: dict[str, asyncio.Future] = {}

    def __len__(self) -> int:
        return len(self._flights)

    def claim(self, keys: Iterable[str]) -> tuple[list[str], dict[str, asyncio.Future]]:
        """Split ``keys`` (unique) into those the caller now owns and those in flight elsewhere."""
        loop = asyncio.get_running_loop()
        owned: list[str] = []
        shared: dict[str, asyncio.Future] = {}
        for key in keys:
            flight = self._flights.get(key)
            if flight is None:
                flight = loop.create_future()
                # Waiters may all be gone; never log an unretrieved Abandoned.
                flight.add_done_callback(lambda f: f.cancelled() or f.exception())
                self._flights[key] = flight
                owned.append(key)
            else:
                shared[key] = flight
        return owned, shared

    def resolve(self, key: str, outcome: Any) -> None:
        flight = self._flights.get(key)
        if flight is not None and not flight.done():
            flight.set_result(outcome)

    def release(self, keys: Iterable[str]) -> None:
        """Forget owned keys; unresolved ones fail their waiters with Abandoned."""
        for key in keys:
            flight = self._flights.pop(key, None)
            if flight is not None and not flight.done():
                flight.set_exception(Abandoned())
