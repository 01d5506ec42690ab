"""In-process backend: the model runs in this process, off the event loop.

Forward passes run on one dedicated thread (torch parallelises inside an op;
two concurrent forwards would only contend for the same cores). Tokenisation
runs on another, coalescing concurrent requests (rewardgate/sources/model/backends/coalescing.py).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from rewardgate.errors import ComponentError, ServiceNotReady
from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.backends.coalescing import CoalescingEncoder
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.runners.process_reward_model import ProcessRewardModelRunner
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.runners.similarity import SimilarityRunner
from rewardgate.sources.model.spec import ModelSpec


class Runner(Protocol):
    version: str
    head_names: list[str]
    reads: tuple[str, ...]

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]: ...
    def forward(self, batch: list[Any]) -> list[list[float]]: ...


def build_runner(spec: ModelSpec) -> Runner:
    """Construct the runner for ``spec.kind`` (blocking: loads weights)."""
    if spec.kind == "similarity":
        return SimilarityRunner(spec.path, device=spec.device, dtype=spec.dtype, max_length=spec.max_length)
    if spec.kind == "process_reward_model":
        return ProcessRewardModelRunner(
            spec.path,
            step_separator=spec.step_separator,
            step_label=spec.step_label,
            device=spec.device,
            dtype=spec.dtype,
            max_length=spec.max_length,
            use_chat_template=spec.use_chat_template,
        )
    return RewardModelRunner(
        spec.path,
        device=spec.device,
        dtype=spec.dtype,
        max_length=spec.max_length,
        use_chat_template=spec.use_chat_template,
    )


class LocalBackend(ModelBackend):
    def __init__(self, name: str, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self._runner: Runner | None = None
        self._forward_thread = ThreadPoolExecutor(1, thread_name_prefix=f"forward-{name}")
        self._coalescer: CoalescingEncoder | None = None  # created once the runner exists

    async def load(self) -> None:
        self._runner = await asyncio.to_thread(build_runner, self.spec)

    def is_ready(self) -> bool:
        return self._runner is not None

    @property
    def runner(self) -> Runner:
        if self._runner is None:
            raise ServiceNotReady(f"model {self.name!r} is still loading")
        return self._runner

    @property
    def version(self) -> str:
        return self.runner.version

    @property
    def head_names(self) -> list[str]:
        return self.runner.head_names

    @property
    def reads(self) -> tuple[str, ...]:
        return self.runner.reads

    async def encode(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        if self._coalescer is None:
            self._coalescer = CoalescingEncoder(self.runner.encode_many, self.name)
        return await self._coalescer.encode(items)

    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._forward_thread, self.runner.forward, payloads)

    async def close(self) -> None:
        self._forward_thread.shutdown(wait=False, cancel_futures=True)
        if self._coalescer is not None:
            self._coalescer.close()
