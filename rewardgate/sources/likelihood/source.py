"""A likelihood model as a score source: a model source that also reports what it computes.

Everything is :class:`ModelSource`'s (encode, batcher, backend); in addition
each freshly computed value (head 0: the reward; a per-step row's sum) goes
to ``recorder``, the reward monitor's window for this model's drift
(rewardgate/reward_monitor/, docs/monitoring.md). Cache hits are repeats of
values already recorded, so they are not recorded again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from rewardgate.items import ScoringItem
from rewardgate.sources.base import SourceResult
from rewardgate.sources.model.source import ModelSource

#: ``recorder(values, response_chars)``: one value and one response length per scored item.
Recorder = Callable[[list[float], list[int]], None]


@dataclass
class LikelihoodSource(ModelSource):
    recorder: Recorder | None = field(default=None, kw_only=True)

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        result = await super().compute(items, deadline)
        if self.recorder is not None:
            values, lengths = [], []
            for item, outcome in zip(items, result.outcomes, strict=True):
                if isinstance(outcome, list) and outcome:
                    per_step = self.spec.likelihood is not None and self.spec.likelihood.reduce == "per_step"
                    value = math.fsum(outcome) if per_step else outcome[0]
                    values.append(value)
                    lengths.append(len(item.response) if not per_step else sum(map(len, item.steps or ())))
            if values:
                self.recorder(values, lengths)
        return result
