"""The model backend contract.

A backend owns one model (or a connection to one). The gateway-side work
(tokenising an item into batcher work) and the batch execution are separate
steps, so the dynamic batcher sits between them:

    encode(items)  ->  WorkItem per item (or a per-item ComponentError)
    infer(payloads, deadline)  ->  one list of head scores per payload, in order
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from rewardgate.errors import ComponentError
from rewardgate.items import ScoringItem
from rewardgate.sources.model.batching.batcher import WorkItem


class ModelBackend(ABC):
    """One model's encode/infer pair plus its lifecycle."""

    name: str

    @abstractmethod
    async def load(self) -> None:
        """Load weights or connect; afterwards ``version`` and ``head_names`` are set."""

    @abstractmethod
    def is_ready(self) -> bool:
        """True when ``infer`` can be expected to succeed."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Content identity of the model (enters cache keys)."""

    @property
    @abstractmethod
    def head_names(self) -> list[str]:
        """Names of the output heads, in output order."""

    @property
    @abstractmethod
    def reads(self) -> tuple[str, ...]:
        """Item fields the model's score depends on."""

    @property
    def packed(self) -> bool:
        """True when batches are packed (their cost is their tokens); padded by default."""
        return False

    @property
    def measured_max_batch_tokens(self) -> int | None:
        """A token budget measured at load (``batching.memory_fraction``), else None."""
        return None

    @abstractmethod
    async def encode(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        """Tokenise off the event loop; per-item failures are returned, not raised."""

    @abstractmethod
    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        """Run one batch. Raises a RewardgateError for whole-batch failures."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
