"""TRL: a ``reward_funcs`` entry for ``GRPOTrainer`` backed by rewardgate.

    from rewardgate_client.integrations.trl import reward_function
    trainer = GRPOTrainer(..., reward_funcs=[reward_function("http://rg:8000", "math")])

TRL calls ``f(prompts=..., completions=..., completion_ids=..., **columns)``
where ``columns`` holds every other dataset column, one value per sample.
The adapter sends one request per call (the service batches), takes the
reference from ``reference_column`` and passes other plain columns as
metadata. Failed items are returned as ``None``, which TRL drops for that
sample, never as 0. Samples of the same prompt share a group (GRPO siblings),
so group-relative transforms work.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from rewardgate_client.client import AsyncRewardClient
from rewardgate_client.integrations._shared import message_text, plain, shared_client
from rewardgate_client.types import Result

#: Arguments TRL passes that are not dataset columns.
_NOT_COLUMNS = {"trainer_state", "completion_ids", "log_extra", "log_metric"}


def reward_function(
    url: str,
    pipeline: str,
    *,
    reference_column: str | None = "solution",
    metadata_columns: list[str] | None = None,
    component: str | None = None,
    group_by_prompt: bool = True,
    asynchronous: bool = False,
    **options: Any,
) -> Callable[..., Any]:
    """A TRL reward function returning ``list[float | None]``.

    Args:
        reference_column: dataset column holding the reference (None: no reference).
        metadata_columns: columns sent as metadata (default: every other plain column).
        component: return this component's value instead of the reward
            (e.g. one reward function per component, weighted by ``reward_weights``).
        group_by_prompt: give samples of the same prompt one ``group``.
        asynchronous: return an ``async def`` (TRL awaits it concurrently).
        options: score options (``explain``, ``weights``, ``timeout_s``, ...).
    """

    def build_items(prompts, completions, kwargs) -> list[dict[str, Any]]:
        return _items(prompts, completions, kwargs, reference_column, metadata_columns, group_by_prompt)

    def pick(results: list[Result]) -> list[float | None]:
        if component is None:
            return [r.reward for r in results]
        return [r.components.get(component) for r in results]

    name = f"rewardgate_{pipeline}" + (f"_{component}" if component else "")
    if asynchronous:
        clients: dict[int, AsyncRewardClient] = {}

        async def async_reward(prompts, completions, **kwargs) -> list[float | None]:
            import asyncio

            loop_id = id(asyncio.get_running_loop())  # a grpc/httpx client belongs to one loop
            client = clients.get(loop_id) or clients.setdefault(loop_id, AsyncRewardClient(url))
            return pick(await client.score(build_items(prompts, completions, kwargs), pipeline, **options))

        async_reward.__name__ = name
        return async_reward

    def reward(prompts, completions, **kwargs) -> list[float | None]:
        client = shared_client(url)
        return pick(client.score(build_items(prompts, completions, kwargs), pipeline, **options))

    reward.__name__ = name
    return reward


def _items(prompts, completions, kwargs, reference_column, metadata_columns, group_by_prompt):
    columns = {k: v for k, v in kwargs.items() if k not in _NOT_COLUMNS and isinstance(v, list | tuple)}
    references = columns.pop(reference_column, None) if reference_column else None
    chosen = metadata_columns if metadata_columns is not None else list(columns)
    items = []
    for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        item: dict[str, Any] = {"prompt": prompt, "response": message_text(completion)}
        if references is not None and references[index] is not None:
            reference = references[index]
            item["reference"] = reference if isinstance(reference, str) else json.dumps(reference)
        metadata = {k: columns[k][index] for k in chosen if k in columns and plain(columns[k][index])}
        if metadata:
            item["metadata"] = metadata
        if group_by_prompt:
            item["group"] = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()[:16]
        items.append(item)
    return items
