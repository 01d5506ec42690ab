"""Tokenisation for many concurrent callers in one thread call.

Every request tokenises its items off the event loop. With one thread hop per
request, single-item callers (the common RL pattern) pay a hop, a GIL hand-off
and a small tokenizer call each. Here callers queue their item lists; one
drain loop hands everything queued to ``encode_many`` in a single call on a
dedicated thread and answers each caller with its slice, so under load N
concurrent requests cost one hop and one batched (Rust) tokenizer call.
A lone request is not delayed: it is drained at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rewardgate.items import ScoringItem

EncodeMany = Callable[[list[ScoringItem]], list[Any]]


class CoalescingEncoder:
    def __init__(self, encode_many: EncodeMany, name: str) -> None:
        self._encode_many = encode_many
        self._pending: list[tuple[list[ScoringItem], asyncio.Future]] = []
        self._draining = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix=f"tokenize-{name}")
        self._tasks: set[asyncio.Task] = set()

    async def encode(self, items: list[ScoringItem]) -> list[Any]:
        """``encode_many(items)``, computed together with other callers' items."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future = loop.create_future()
        self._pending.append((items, future))
        if not self._draining:
            self._draining = True
            task = loop.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                batch = [(items, future) for items, future in batch if not future.done()]  # skip cancelled
                if not batch:
                    continue
                flat = [item for items, _ in batch for item in items]
                try:
                    encoded = await loop.run_in_executor(self._thread, self._encode_many, flat)
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for items, future in batch:
                    if not future.done():
                        future.set_result(encoded[start : start + len(items)])
                    start += len(items)
        finally:
            self._draining = False

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)
