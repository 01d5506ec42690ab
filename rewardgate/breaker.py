"""A small circuit breaker for dependencies that must fail fast when down.

States: ``closed`` (calls pass), ``open`` (calls are skipped until
``reset_after_s`` has passed), ``half_open`` (one probe call is let through;
its success closes the breaker, its failure opens it again). The breaker
opens after ``failure_threshold`` consecutive failures.

Usage: ``if breaker.allow(): ...`` then exactly one of ``record_success()``,
``record_failure()`` or (call cancelled) ``abandon_call()``.
Single-threaded (one event loop); no locking.
"""

from __future__ import annotations

import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
STATE_VALUES = {CLOSED: 0, OPEN: 1, HALF_OPEN: 2}


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_after_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._on_change = on_change
        self._state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> str:
        if self._state == OPEN and self._clock() - self._opened_at >= self.reset_after_s:
            self._set(HALF_OPEN)
        return self._state

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one probe may."""
        state = self.state
        if state == CLOSED:
            return True
        if state == HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._probing = False
        if self._state != CLOSED:
            self._set(CLOSED)

    def abandon_call(self) -> None:
        """The call was cancelled before it learned anything: free the probe slot."""
        self._probing = False

    def record_failure(self) -> None:
        self._probing = False
        self._failures += 1
        if self._state == HALF_OPEN or self._failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(OPEN)

    def _set(self, state: str) -> None:
        if state != self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(state)
