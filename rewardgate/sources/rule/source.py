"""A rule as a score source: inline for linear-time rules, else in the verifier pool."""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import ClassVar

from rewardgate.errors import ComponentError, DeadlineExceeded, VerifierError
from rewardgate.hashing import canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.admission_queue import QueueEntry
from rewardgate.sources.base import Outcome, ScoreSource, SourceResult
from rewardgate.sources.rule.base import Rule, grade_in_worker
from rewardgate.sources.rule.pool import VerifierPool


@dataclass
class RuleSource(ScoreSource):
    kind: ClassVar[str] = "rule"
    rule: Rule = field(kw_only=True)
    pool: VerifierPool | None = field(kw_only=True, default=None)
    metrics: Metrics | None = field(kw_only=True, default=None)

    @property
    def reads(self) -> tuple[str, ...]:
        return self.rule.reads

    @functools.cached_property
    def version(self) -> str:
        # Rule parameters are frozen: hash them once.
        return "sha256:" + canonical_sha256([self.rule.type_name, self.rule.params.model_dump(mode="json")])

    @property
    def score_range(self) -> tuple[float, float]:
        return self.rule.score_range

    @property
    def code_module(self) -> str:
        return type(self.rule).__module__

    def is_ready(self) -> bool:
        return not self.rule.isolated or self.rule.offloaded or (self.pool is not None and self.pool.ready)

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        if self.rule.isolated:
            outcomes = await self._isolated_all(items, deadline)
            return SourceResult(outcomes=list(outcomes))
        return SourceResult(outcomes=[self._inline(item) for item in items])

    def _inline(self, item: ScoringItem) -> Outcome:
        started = time.perf_counter()
        try:
            return [self.rule.grade(item)]
        except ComponentError as exc:
            return exc
        except Exception as exc:
            return VerifierError(f"rule {self.name!r} raised {type(exc).__name__}: {exc}")
        finally:
            self._observe(time.perf_counter() - started)

    async def _isolated_all(self, items: list[ScoringItem], deadline: float) -> list[Outcome]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed before the verifier could run")
        entry = None
        if not self.rule.offloaded:
            # Work the pool could not finish in time is refused (429) before any of it starts,
            # and later, while it waits, as soon as the pool's times show it cannot finish.
            entry = self.pool.check_entry(self.name, len(items), deadline)
        tasks = [asyncio.ensure_future(self._isolated(item, deadline, entry)) for item in items]
        for task in tasks:
            task.add_done_callback(_retrieve)  # a second refusal is not "never retrieved"
        try:
            # The rule's own limit kills a hung verifier; the request deadline only
            # abandons the tasks (cancelling never kills a healthy worker, see pool.py).
            async with asyncio.timeout(remaining):
                return await _unless_refused(asyncio.gather(*tasks), entry and entry.refused)
        except TimeoutError as exc:
            raise DeadlineExceeded("deadline passed while verifying") from exc
        finally:
            # A request-level refusal of one task (Overloaded: it could not start in time)
            # ends the request: its other tasks leave the queue rather than run for nobody.
            for task in tasks:
                task.cancel()
            if entry is not None:
                entry.close()

    async def _isolated(self, item: ScoringItem, deadline: float, entry: QueueEntry | None) -> Outcome:
        started = time.perf_counter()
        try:
            if self.rule.offloaded:  # e.g. code runs in the sandbox service: nothing to hold a worker for
                return [await self.rule.grade_offloaded(item, deadline)]
            return [
                await self.pool.run(
                    grade_in_worker,
                    self.rule,
                    item,
                    timeout_s=self.rule.timeout_s,
                    kind=self.name,
                    deadline=deadline,
                    entry=entry,
                )
            ]
        except ComponentError as exc:
            return exc
        finally:
            self._observe(time.perf_counter() - started)

    def _observe(self, seconds: float) -> None:
        if self.metrics is not None:
            self._seconds.observe(seconds)

    @functools.cached_property
    def _seconds(self):
        """This rule's ``rule_seconds`` child, looked up once (observed for every item)."""
        return self.metrics.rule_seconds.labels(self.name)


async def _unless_refused(work: asyncio.Future, refusal: asyncio.Future | None):
    """``work``'s result, unless ``refusal`` fails first (its Overloaded is raised)."""
    if refusal is None:
        return await work
    await asyncio.wait({work, refusal}, return_when=asyncio.FIRST_COMPLETED)
    if not work.done():
        work.add_done_callback(_retrieve)
        refusal.result()  # raises its Overloaded
    return work.result()


def _retrieve(task: asyncio.Future) -> None:
    if not task.cancelled():
        task.exception()
