"""Per-key item quotas: a token bucket refilled at ``items_per_s`` up to ``burst``."""

from __future__ import annotations

import time
from collections.abc import Callable

from rewardgate.errors import Overloaded


class TokenBucket:
    def __init__(
        self, items_per_s: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if items_per_s <= 0 or (burst is not None and burst <= 0):
            raise ValueError("items_per_s and burst must be positive")
        self.items_per_s = items_per_s
        self.burst = burst if burst is not None else items_per_s
        self._clock = clock
        self._tokens = self.burst
        self._updated = clock()

    def take(self, items: int, key_name: str) -> None:
        """Spend ``items`` tokens or raise Overloaded with the wait until they would be there.

        A request larger than the burst is admitted when the bucket is full (it
        then owes the difference), so no request size is refused forever."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.items_per_s)
        self._updated = now
        if self._tokens >= min(items, self.burst):
            self._tokens -= items
            return
        wait_s = (min(items, self.burst) - self._tokens) / self.items_per_s
        raise Overloaded(
            f"API key {key_name!r} is over its quota of {self.items_per_s:g} items/s", retry_after_s=wait_s
        )
