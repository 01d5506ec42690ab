"""A model as a score source: encode, then the dynamic batcher, then the backend."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from rewardgate.errors import BackendError, ComponentError
from rewardgate.items import ScoringItem
from rewardgate.sources.base import Outcome, ScoreSource, SourceResult
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.batching.batcher import DynamicBatcher, WorkItem
from rewardgate.sources.model.spec import ModelSpec


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
    def code_module(self) -> str:
        # The backend reaches the runner that tokenises and reads the heads (Triton runs the same).
        return type(self.backend).__module__

    @property
    def head_names(self) -> list[str]:
        return self.backend.head_names

    def is_ready(self) -> bool:
        return self.backend.is_ready()

    async def start(self) -> None:
        await self.backend.load()
        self.batcher.count_packed_tokens(self.backend.packed)
        if (measured := self.backend.measured_max_batch_tokens) is not None:
            self.batcher.set_max_batch_tokens(measured)
        self.batcher.start()

    async def close(self) -> None:
        await self.batcher.close()
        await self.backend.close()

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        encoded = await self.backend.encode(items)
        work = [entry for entry in encoded if isinstance(entry, WorkItem)]
        # One future for the request's items, not one each plus a gather (batcher.enqueue_group).
        answers = iter(await self.batcher.enqueue_group(work, deadline))
        result = SourceResult(outcomes=[], tokens=sum(w.length * w.rows for w in work))
        for entry in encoded:
            answer = next(answers) if isinstance(entry, WorkItem) else entry
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
