"""OpenRLHF: the python-file reward function mode backed by rewardgate.

OpenRLHF's ``--remote_rm_url`` takes either an HTTP URL (point it at
rewardgate's ``/get_reward``: no adapter needed) or a ``.py`` file defining
``reward_func(queries, prompts, labels)``. For the second mode use
clients/examples/openrlhf_reward_func.py, which re-exports :data:`reward_func`
configured from ``REWARDGATE_URL`` and ``REWARDGATE_PIPELINE``.

``queries`` are prompt + response texts; the response is the query minus its
prompt prefix. The reply is ``{"rewards", "scores", "extra_logs"}`` (torch
tensors when torch is importable, as OpenRLHF expects; lists otherwise). A
failed sample raises :class:`~rewardgate_client.errors.ItemFailed`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from rewardgate_client.errors import ItemFailed
from rewardgate_client.integrations._shared import shared_client


def make_reward_func(url: str, pipeline: str, **options: Any) -> Callable[..., dict[str, Any]]:
    def reward_func(
        queries: list[str], prompts: list[str], labels: list[Any] | None = None, **kwargs
    ) -> dict:
        labels = labels if labels is not None else [None] * len(queries)
        items = []
        for query, prompt, label in zip(queries, prompts, labels, strict=True):
            response = query[len(prompt) :] if prompt and query.startswith(prompt) else query
            item: dict[str, Any] = {"prompt": prompt, "response": response}
            if label is not None:
                item["reference"] = str(label)
            items.append(item)
        results = shared_client(url).score(items, pipeline, **options)
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
    os.environ.get("REWARDGATE_URL", "http://127.0.0.1:8000"), os.environ.get("REWARDGATE_PIPELINE", "math")
)
