"""OpenRLHF: the python-file reward function mode backed by rewardgate.

OpenRLHF's ``--reward.remote_url`` (``--remote_rm_url`` in older versions)
takes either an HTTP URL (point it at rewardgate's ``/get_reward``: no adapter
needed) or a ``.py`` file defining ``reward_func(queries, prompts, labels)``.
For the second mode use clients/examples/openrlhf_reward_func.py, which
re-exports :data:`reward_func` configured from ``REWARDGATE_URL``,
``REWARDGATE_PIPELINE`` and ``REWARDGATE_TIMEOUT_S`` (seconds per call, 60 by
default); the client also reads ``REWARDGATE_API_KEY`` and the retry settings.

``queries`` are prompt + response texts, decoded with special tokens kept: the
response is split off by :func:`rewardgate_client.prompts.response_of`, the
same rule as the service's ``/get_reward`` (what follows the prompt; when the
query does not hold it verbatim, as with expanded ``<image>`` placeholders or a
prompt OpenRLHF truncated, what follows the longest start or end of it that
it holds). An empty batch (OpenRLHF main with two reward URLs) gets empty
rewards without a call. The reply is ``{"rewards", "scores", "extra_logs"}`` (torch
tensors when torch is importable, as OpenRLHF expects; lists otherwise). A
failed sample raises :class:`~rewardgate_client.errors.ItemFailed`.

Groups: the samples of one prompt in a batch share a ``group`` (the prompt's
hash), which group components and group-relative transforms read; OpenRLHF
hands the reward function whole batches, so the group is what the batch
holds of the prompt (docs/groups.md).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from typing import Any

from rewardgate_client.errors import ItemFailed, RewardgateError
from rewardgate_client.integrations._shared import shared_client, split_options
from rewardgate_client.labels import reference_from_label
from rewardgate_client.prompts import response_of

__all__ = ["make_reward_func", "response_of", "reward_func"]

logger = logging.getLogger("rewardgate_client")


def make_reward_func(
    url: str, pipeline: str, timeout_s: float = 60.0, **options: Any
) -> Callable[..., dict[str, Any]]:
    """``reward_func`` for one pipeline; ``options`` are client options (``retry``, ...) and score options."""
    client_options, options = split_options(options)

    def reward_func(
        queries: list[str], prompts: list[str], labels: list[Any] | None = None, **kwargs
    ) -> dict:
        try:
            return _score(queries, prompts, labels)
        except RewardgateError as exc:
            # OpenRLHF logs a reward function's exception at INFO only: say it where it shows.
            logger.error("rewardgate: no rewards for this batch: %s: %s", type(exc).__name__, exc)
            raise

    def _score(queries, prompts, labels) -> dict:
        if not queries:  # OpenRLHF main sends an empty batch to a second reward URL
            return _tensors({"rewards": [], "scores": [], "extra_logs": {}})
        labels = labels if labels is not None else [None] * len(queries)
        items = []
        for query, prompt, label in zip(queries, prompts, labels, strict=True):
            item: dict[str, Any] = {"prompt": prompt, "response": response_of(query, prompt)}
            # The samples of one prompt in the batch are its GRPO group (group components read it).
            item["group"] = "openrlhf-" + hashlib.sha256(prompt.encode()).hexdigest()[:16]
            reference, metadata = reference_from_label(label)
            if reference is not None:
                item["reference"] = reference
            if metadata:
                item["metadata"] = metadata
            items.append(item)
        results = shared_client(url, timeout_s=timeout_s, **client_options).score(items, pipeline, **options)
        rewards = []
        for result in results:
            if result.reward is None:
                name, error = next(iter(result.errors.items()), ("reward", None))
                raise ItemFailed(f"sample {result.id}, {name}: {error.message if error else 'no reward'}")
            rewards.append(result.reward)
        names = set.intersection(*(set(r.components) for r in results)) if results else set()
        logs = {name: [r.components[name] for r in results] for name in sorted(names)}
        return _tensors({"rewards": rewards, "scores": rewards, "extra_logs": logs})

    return reward_func


def _tensors(reply: dict[str, Any]) -> dict[str, Any]:
    try:
        import torch
    except ImportError:
        return reply
    return {
        "rewards": torch.tensor(reply["rewards"], dtype=torch.float32),
        "scores": torch.tensor(reply["scores"], dtype=torch.float32),
        "extra_logs": {k: torch.tensor(v, dtype=torch.float32) for k, v in reply["extra_logs"].items()},
    }


reward_func = make_reward_func(
    os.environ.get("REWARDGATE_URL", "http://127.0.0.1:8000"),
    os.environ.get("REWARDGATE_PIPELINE", "math"),
    timeout_s=float(os.environ.get("REWARDGATE_TIMEOUT_S", "60")),
)
