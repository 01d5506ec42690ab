"""Early refusal under overload: a bounded count of in-flight items.

Requests that would push the count past ``max_items`` are refused with
:class:`Overloaded` (429 + Retry-After) before any work is queued, so memory
stays flat however hard callers push. An idle service admits any single
request (the per-request item limit bounds it). A caller whose API key has an
item quota is refused past it the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Gauge

from service.auth.caller import current_key
from service.errors import Overloaded


class AdmissionControl:
    def __init__(self, max_items: int, retry_after_s: float, gauge: Gauge | None = None) -> None:
        self.max_items = max_items
        self.retry_after_s = retry_after_s
        self.inflight = 0
        self._gauge = gauge

    @contextmanager
    def admit(self, items: int) -> Iterator[None]:
        key = current_key.get()
        if key is not None and key.quota is not None:
            key.quota.take(items, key.name)
        if self.inflight and self.inflight + items > self.max_items:
            raise Overloaded(
                f"{self.inflight} items in flight; limit is {self.max_items}",
                retry_after_s=self.retry_after_s,
            )
        self._add(items)
        try:
            yield
        finally:
            self._add(-items)

    def _add(self, items: int) -> None:
        self.inflight += items
        if self._gauge is not None:
            self._gauge.set(self.inflight)
