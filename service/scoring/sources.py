"""Score sources: the things that actually compute numbers.

A source is a model (behind its dynamic batcher) or a rule. Pipeline
components are views onto sources (a source plus an output head), so a model
used by two components of a pipeline runs once per item.

``compute`` returns one outcome per item, in order: a list of head scores, or
the :class:`ComponentError` for that item. Request-level failures
(:class:`Overloaded`, :class:`DeadlineExceeded`, :class:`ServiceNotReady`) are
raised instead.
"""

from __future__ import annotations

import asyncio
import functools
import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from service.backends.base import ModelBackend
from service.batching.batcher import DynamicBatcher, WorkItem
from service.config import ModelSpec, canonical_sha256
from service.errors import (
    BackendError,
    ComponentError,
    DeadlineExceeded,
    VerifierError,
)
from service.items import ScoringItem
from service.observability.metrics import Metrics
from service.rules.base import Rule
from service.rules.pool import VerifierPool

Outcome = list[float] | ComponentError


@dataclass(frozen=True, slots=True)
class SourceKey:
    """Which source a component reads: its kind and its name in the pipeline file.

    ``str(key)`` (``rule:math``, ``model:rm``, ``judge:helpful``) is the
    source's name everywhere it shows: cache keys, metric labels, ``versions``
    in responses, readiness details.
    """

    kind: Literal["model", "rule", "judge"]
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def of_component(cls, spec) -> SourceKey | None:
        """The source a component spec reads directly (None for ensembles and routes)."""
        for kind in ("model", "rule", "judge"):
            name = getattr(spec, kind)
            if name:
                return cls(kind, name)
        return None


@dataclass
class Spend:
    """What computing scores cost: tokens through models and judges, the longest
    batcher queue wait and the longest batch execution."""

    tokens: int = 0
    judge_tokens: int = 0
    queue_s: float = 0.0
    inference_s: float = 0.0

    def add(self, other: Spend) -> None:
        self.tokens += other.tokens
        self.judge_tokens += other.judge_tokens
        self.queue_s = max(self.queue_s, other.queue_s)
        self.inference_s = max(self.inference_s, other.inference_s)


@dataclass
class SourceResult(Spend):
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class ScoreSource(ABC):
    name: str
    _fingerprint: tuple[str, str] | None = field(default=None, init=False, repr=False)
    #: Cache TTL class: "model" or "rule".
    kind: ClassVar[str]

    @property
    @abstractmethod
    def reads(self) -> tuple[str, ...]:
        """Item fields the score depends on."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Identity of what computes the score (weights hash, rule config hash)."""

    @abstractmethod
    def is_ready(self) -> bool: ...

    @abstractmethod
    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def fingerprint(self) -> str:
        """Identity for cache keys; recomputed when the version changes (a redeployed model)."""
        version = self.version
        if self._fingerprint is None or self._fingerprint[0] != version:
            self._fingerprint = (version, canonical_sha256([self.name, version, self.reads]))
        return self._fingerprint[1]


@dataclass
class ModelSource(ScoreSource):
    kind: ClassVar[str] = "model"
    spec: ModelSpec = field(kw_only=True)
    backend: ModelBackend = field(kw_only=True)
    batcher: DynamicBatcher = field(kw_only=True)

    @property
    def reads(self) -> tuple[str, ...]:
        return self.backend.reads

    @property
    def version(self) -> str:
        return self.backend.version

    @property
    def head_names(self) -> list[str]:
        return self.backend.head_names

    def is_ready(self) -> bool:
        return self.backend.is_ready()

    async def start(self) -> None:
        await self.backend.load()
        self.batcher.start()

    async def close(self) -> None:
        await self.batcher.close()
        await self.backend.close()

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        encoded = await self.backend.encode(items)
        work = [entry for entry in encoded if isinstance(entry, WorkItem)]
        futures = iter(self.batcher.enqueue(work, deadline))
        pending = [next(futures) if isinstance(e, WorkItem) else e for e in encoded]
        waited = await asyncio.gather(
            *(p for p in pending if isinstance(p, asyncio.Future)), return_exceptions=True
        )
        result = SourceResult(outcomes=[], tokens=sum(w.length * w.rows for w in work))
        answers = iter(waited)
        for entry in pending:
            answer = next(answers) if isinstance(entry, asyncio.Future) else entry
            result.outcomes.append(self._to_outcome(answer, result))
        return result

    def _to_outcome(self, answer, result: SourceResult) -> Outcome:
        if isinstance(answer, ComponentError):
            return answer
        if isinstance(answer, BaseException):
            raise answer  # request-level: overloaded, deadline, shutdown
        scores, timing = answer
        result.queue_s = max(result.queue_s, timing.queue_s)
        result.inference_s = max(result.inference_s, timing.inference_s)
        if not all(math.isfinite(value) for value in scores):
            return BackendError(f"model {self.name!r} produced a non-finite score {scores}")
        return list(scores)


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

    def is_ready(self) -> bool:
        return not self.rule.isolated or (self.pool is not None and self.pool.ready)

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        if self.rule.isolated:
            outcomes = await self._isolated_all(items, deadline)
        else:
            outcomes = [self._inline(item) for item in items]
        return SourceResult(outcomes=list(outcomes))

    def _inline(self, item: ScoringItem) -> Outcome:
        started = time.perf_counter()
        try:
            return [self.rule.evaluate(item)]
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
        try:
            # The rule's own limit kills a hung verifier; the request deadline only
            # abandons the tasks (cancelling never kills a healthy worker, see pool.py).
            async with asyncio.timeout(remaining):
                return await asyncio.gather(*(self._isolated(item) for item in items))
        except TimeoutError as exc:
            raise DeadlineExceeded("deadline passed while verifying") from exc

    async def _isolated(self, item: ScoringItem) -> Outcome:
        started = time.perf_counter()
        try:
            return [await self.pool.run(_evaluate, self.rule, item, timeout_s=self.rule.timeout_s)]
        except ComponentError as exc:
            return exc
        finally:
            self._observe(time.perf_counter() - started)

    def _observe(self, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.rule_seconds.labels(self.name).observe(seconds)


def _evaluate(rule: Rule, item: ScoringItem) -> float:
    """Runs in a verifier process (module-level so it pickles)."""
    return rule.evaluate(item)
