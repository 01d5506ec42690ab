"""In-process backend: the model runs in this process, off the event loop.

Forward passes run on one dedicated thread (torch parallelises inside an op;
two concurrent forwards would only contend for the same cores). Tokenisation
runs on another, coalescing concurrent requests (rewardgate/sources/model/backends/coalescing.py).
A runner that separates host-side layout (``prepare``: packing, pinned
memory) from the forward (``run``) has the layout done on a third thread, so
with ``max_concurrent_batches`` >= 2 batch N+1 is laid out while batch N runs.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from rewardgate.errors import ComponentError, ServiceNotReady
from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.backends.coalescing import CoalescingEncoder
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.memory_budget import MemoryBudget, calibrate_cuda, runner_probe
from rewardgate.sources.model.runners.process_reward_model import ProcessRewardModelRunner
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.runners.similarity import SimilarityRunner
from rewardgate.sources.model.spec import ModelSpec

log = logging.getLogger(__name__)


class Runner(Protocol):
    version: str
    head_names: list[str]
    reads: tuple[str, ...]

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]: ...
    def forward(self, batch: list[Any]) -> list[list[float]]: ...


def build_runner(spec: ModelSpec) -> Runner:
    """Construct the runner for ``spec.kind`` (blocking: loads weights)."""
    if spec.kind == "likelihood":
        from rewardgate.sources.likelihood.runner import LikelihoodRunner  # torch-heavy: only when used

        return LikelihoodRunner.from_spec(spec)
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
            layout=spec.batching.layout,
            pack_row_tokens=spec.batching.pack_row_tokens,
        )
    if spec.kind == "vision_reward_model":
        from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner

        return VisionRewardModelRunner(
            spec.path, device=spec.device, dtype=spec.dtype, max_length=spec.max_length
        )
    return RewardModelRunner(
        spec.path,
        device=spec.device,
        dtype=spec.dtype,
        max_length=spec.max_length,
        use_chat_template=spec.use_chat_template,
        layout=spec.batching.layout,
        pack_row_tokens=spec.batching.pack_row_tokens,
    )


class LocalBackend(ModelBackend):
    def __init__(self, name: str, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        self._runner: Runner | None = None
        self._forward_thread = ThreadPoolExecutor(1, thread_name_prefix=f"forward-{name}")
        self._prepare_thread = ThreadPoolExecutor(1, thread_name_prefix=f"prepare-{name}")
        self._coalescer: CoalescingEncoder | None = None  # created once the runner exists
        self._memory_budget: MemoryBudget | None = None

    async def load(self) -> None:
        """Load the runner; with ``batching.memory_fraction``, then measure its token budget.

        Raises:
            ValueError: the calibration cannot run here (not CUDA) or finds no budget that
                fits one longest item (rewardgate/sources/model/memory_budget.py).
        """
        runner = await asyncio.to_thread(build_runner, self.spec)
        fraction = self.spec.batching.memory_fraction
        if fraction is not None:
            self._memory_budget = await asyncio.to_thread(
                calibrate_cuda,
                runner_probe(runner, self.spec.max_length),
                device=runner.device,
                unit=self.spec.max_length,
                fraction=fraction,
                least_tokens=self.spec.max_length,
            )
            log.info("model %s: %s", self.name, self._memory_budget.describe())
        self._runner = runner

    @property
    def measured_max_batch_tokens(self) -> int | None:
        return None if self._memory_budget is None else self._memory_budget.max_batch_tokens

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

    @property
    def packed(self) -> bool:
        layout = getattr(self.runner, "layout", None)
        return bool(layout and layout.packed)

    async def encode(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        if self._coalescer is None:
            self._coalescer = CoalescingEncoder(self.runner.encode_many, self.name)
        return await self._coalescer.encode(items)

    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        loop = asyncio.get_running_loop()
        runner = self.runner
        prepare = getattr(runner, "prepare", None)
        if prepare is None:
            return await loop.run_in_executor(self._forward_thread, runner.forward, payloads)
        prepared = await loop.run_in_executor(self._prepare_thread, prepare, payloads)
        return await loop.run_in_executor(self._forward_thread, runner.run, prepared)

    async def close(self) -> None:
        self._forward_thread.shutdown(wait=False, cancel_futures=True)
        self._prepare_thread.shutdown(wait=False, cancel_futures=True)
        if self._coalescer is not None:
            self._coalescer.close()
