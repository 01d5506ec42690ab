"""Pending items grouped by length, and the pure batch-selection policy.

Nothing here awaits: :class:`PendingQueue` is plain data plus the rules for
when to flush and which items form the next batch, so it is tested without an
event loop.

Cost model: a padded batch is padded to its longest row, so its token cost
is ``rows x max_length``; a packed batch (the backend lays sequences end to
end, rewardgate/sources/model/packing.py) costs the sum of its items'
tokens. ``max_batch_tokens`` bounds whichever the backend computes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def length_bucket(length: int) -> int:
    """Bucket index: lengths within a factor of two share a bucket."""
    return max(length, 1).bit_length()


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_batch_items: int
    max_batch_tokens: int
    max_wait_s: float
    packed: bool = False  # the backend packs: a batch costs its tokens, not rows x longest


@dataclass(eq=False, slots=True)
class PendingItem:
    """One queued unit of model work.

    ``length`` is the longest row in tokens; ``rows`` how many rows the item
    adds to the batch (a similarity pair adds two). ``future`` is the item's
    asyncio future, or anything with its ``done`` / ``set_result`` /
    ``set_exception`` (a grouped item's slot, batcher.enqueue_group).
    """

    payload: Any
    length: int
    rows: int
    deadline: float
    enqueued_at: float
    future: asyncio.Future = field(repr=False)

    @property
    def cost(self) -> int:
        return self.rows * self.length


DropCallback = Callable[[PendingItem, str], None]


class PendingQueue:
    """FIFO per length bucket, with incremental totals for O(1) flush checks."""

    def __init__(self) -> None:
        self._buckets: dict[int, deque[PendingItem]] = {}
        self._count = 0
        self._cost = 0

    def __len__(self) -> int:
        return self._count

    @property
    def total_cost(self) -> int:
        """Sum of item costs: a lower bound on the padded cost of taking them all."""
        return self._cost

    def push(self, item: PendingItem) -> None:
        self._buckets.setdefault(length_bucket(item.length), deque()).append(item)
        self._count += 1
        self._cost += item.cost

    def oldest(self) -> PendingItem | None:
        heads = [bucket[0] for bucket in self._buckets.values() if bucket]
        return min(heads, key=lambda item: item.enqueued_at, default=None)

    def is_full(self, limits: BatchLimits) -> bool:
        """Enough items or tokens are queued for a whole batch (limits are positive, so an
        empty queue never is)."""
        return self._count >= limits.max_batch_items or self._cost >= limits.max_batch_tokens

    def waited(self, now: float, limits: BatchLimits) -> bool:
        """The oldest queued item has waited ``max_wait_s``."""
        oldest = self.oldest()
        return oldest is not None and now - oldest.enqueued_at >= limits.max_wait_s

    def take_batch(
        self, now: float, limits: BatchLimits, on_drop: DropCallback, margin_s: float = 0.0
    ) -> list[PendingItem]:
        """Remove and return the next batch.

        The oldest live item anchors the batch (no starvation); the batch is
        filled from the anchor's length bucket first, then from the nearest
        buckets, while the batch's cost (padded or packed, see the module
        docstring) stays within ``max_batch_tokens``. The
        anchor is always taken, even if it alone exceeds the budget. Items
        whose future is done (request cancelled) or whose deadline passed are
        removed and reported through ``on_drop`` instead of being batched; so are
        items ``late``: due within ``margin_s`` (a batch could not finish in time).
        """
        anchor = self._pop_live_oldest(now, on_drop, margin_s)
        if anchor is None:
            return []
        batch, rows, longest, tokens = [anchor], anchor.rows, anchor.length, anchor.cost
        for bucket_id in self._buckets_nearest_to(length_bucket(anchor.length)):
            bucket = self._buckets[bucket_id]
            while bucket and len(batch) < limits.max_batch_items:
                item = bucket[0]
                if self._drop_if_dead(item, now, on_drop, margin_s):
                    self._remove_head(bucket_id)
                    continue
                new_longest = max(longest, item.length)
                cost = tokens + item.cost if limits.packed else (rows + item.rows) * new_longest
                if cost > limits.max_batch_tokens:
                    break
                self._remove_head(bucket_id)
                batch.append(item)
                rows, longest, tokens = rows + item.rows, new_longest, tokens + item.cost
        self._discard_empty_buckets()
        return batch

    def drain(self) -> list[PendingItem]:
        """Remove and return everything (used at shutdown)."""
        items = [item for bucket in self._buckets.values() for item in bucket]
        self._buckets.clear()
        self._count = self._cost = 0
        return items

    def _pop_live_oldest(self, now: float, on_drop: DropCallback, margin_s: float) -> PendingItem | None:
        while (oldest := self.oldest()) is not None:
            self._remove_head(length_bucket(oldest.length))
            if not self._drop_if_dead(oldest, now, on_drop, margin_s):
                return oldest
        return None

    @staticmethod
    def _drop_if_dead(item: PendingItem, now: float, on_drop: DropCallback, margin_s: float) -> bool:
        if item.future.done():
            on_drop(item, "cancelled")
            return True
        if now >= item.deadline:
            on_drop(item, "deadline")
            return True
        if now + margin_s > item.deadline:
            on_drop(item, "late")
            return True
        return False

    def _remove_head(self, bucket_id: int) -> PendingItem:
        item = self._buckets[bucket_id].popleft()
        self._count -= 1
        self._cost -= item.cost
        return item

    def _buckets_nearest_to(self, center: int) -> list[int]:
        return sorted(self._buckets, key=lambda b: (abs(b - center), b))

    def _discard_empty_buckets(self) -> None:
        for bucket_id in [b for b, items in self._buckets.items() if not items]:
            del self._buckets[bucket_id]
