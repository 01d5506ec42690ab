"""slime: a custom reward function backed by rewardgate.

    --custom-rm-path rewardgate_client.integrations.slime.reward

slime awaits ``reward(args, sample)`` for one sample, or ``reward(args, samples)``
for a whole group (``--group-rm``, and ``batched_async_rm``); the answer is the
reward (a float) or the list of rewards. Configure with environment variables
(they reach Ray workers): ``REWARDGATE_URL`` (default: the scheme and host of
slime's ``--rm-url``, else ``http://127.0.0.1:8000``), ``REWARDGATE_PIPELINE``
(default: the ``pipeline`` query parameter of ``--rm-url``, else ``math``),
``REWARDGATE_TIMEOUT_S`` (60), ``REWARDGATE_API_KEY`` and the retry settings
(``REWARDGATE_RETRY_ATTEMPTS``, ``REWARDGATE_RETRY_MAX_BACKOFF_S``); or build
your own with :func:`make_reward`.

Compared with ``--rm-type remote_rm`` (which retries every non-2xx reply ten
times over about 156 s and drops its body), a permanent error (a bad label, an
unknown pipeline, a bad key) raises at once with the service's message, and
the rollout stops with it; a failed sample raises
:class:`~rewardgate_client.errors.ItemFailed`, never a made-up 0. Transient
failures (a restart, overload) are retried within the timeout. Labels follow
:func:`rewardgate_client.labels.reference_from_label`, as on ``/slime/reward``;
chat prompts are sent as messages; samples of one group share a ``group``.
A multimodal sample's images (``sample.multimodal_inputs["images"]``: PIL
images or bytes) are sent with its prompt: they fill the prompt's
``{"type": "image"}`` placeholders, or precede a text prompt.

A group-relative pipeline (a component whose ``group_relative`` is true in the
service's pipeline listing) needs the whole group: called with one sample whose group size is unknown
(slime without ``--group-rm`` and without ``n_samples_per_prompt``) it raises
:class:`~rewardgate_client.errors.InvalidInput` saying to pass ``--group-rm``,
instead of answering every sample with the same constant.

Groups: a list of samples (``--group-rm``) is sent as one request with
``group: {id, size}`` (size: the list's length); a sample sent alone carries
``group: {id: "slime-<group_index>", size: args.n_samples_per_prompt}`` and
the id ``slime-<index>``, so a pipeline with group components (majority vote,
tournament; docs/groups.md) scores the group once all its samples are in.
Give such calls a timeout longer than a group takes to finish rolling out.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rewardgate_client.errors import InvalidInput, ItemFailed
from rewardgate_client.images import prompt_with_images
from rewardgate_client.integrations._shared import loop_client, plain, split_options, wire_messages
from rewardgate_client.labels import reference_from_label
from rewardgate_client.types import Result

DEFAULT_URL = "http://127.0.0.1:8000"
DEFAULT_PIPELINE = "math"


def target_of(args: Any, url: str | None, pipeline: str | None) -> tuple[str, str]:
    """(service URL, pipeline): the explicit ones, else derived from slime's ``--rm-url``."""
    rm_url = getattr(args, "rm_url", None) or ""
    parts = urlsplit(rm_url) if rm_url else None
    if url is None:
        url = f"{parts.scheme}://{parts.netloc}" if parts and parts.netloc else DEFAULT_URL
    if pipeline is None:
        pipeline = (parse_qs(parts.query).get("pipeline") or [None])[0] if parts else None
    return url, pipeline or DEFAULT_PIPELINE


def _group(args: Any, sample: Any, whole: int | None) -> str | dict[str, Any] | None:
    """The sample's group: ``{id, size}`` when its size is known (the whole list slime passed, or
    ``--n-samples-per-prompt`` for a sample sent alone, which then needs its ``index`` as id)."""
    group_index = getattr(sample, "group_index", None)
    if group_index is None:
        return None
    group_id = f"slime-{group_index}"
    size = whole or getattr(args, "n_samples_per_prompt", None)
    if not isinstance(size, int) or size < 1 or (whole is None and getattr(sample, "index", None) is None):
        return group_id
    return {"id": group_id, "size": size}


def _item(sample: Any, args: Any = None, whole: int | None = None) -> dict[str, Any]:
    reference, metadata = reference_from_label(
        getattr(sample, "label", None), getattr(sample, "metadata", None)
    )
    prompt = prompt_with_images(wire_messages(sample.prompt or ""), _images(sample))
    item: dict[str, Any] = {"prompt": prompt, "response": sample.response or ""}
    if reference is not None:
        item["reference"] = reference
    metadata = {key: value for key, value in metadata.items() if isinstance(key, str) and plain(value)}
    if metadata:
        item["metadata"] = metadata
    group = _group(args, sample, whole)
    if group is not None:
        item["group"] = group
    if isinstance(group, dict) and whole is None:
        item["id"] = f"slime-{sample.index}"  # how the service recognises it in its group
    return item


def _images(sample: Any) -> list[Any]:
    """A multimodal sample's images (slime keeps them in ``multimodal_inputs["images"]``)."""
    inputs = getattr(sample, "multimodal_inputs", None)
    images = inputs.get("images") if isinstance(inputs, dict) else None
    return list(images) if isinstance(images, list | tuple) else []


def _reward_or_raise(result: Result) -> float:
    if result.reward is not None:
        return result.reward
    name, error = next(iter(result.errors.items()), ("reward", None))
    detail = f"{name}: {error.type}: {error.message}" if error else "no reward"
    raise ItemFailed(
        f"rewardgate could not score this sample ({detail})", retryable=bool(error and error.retryable)
    )


#: (service URL, pipeline) -> its group-relative components, asked once per process.
_group_relative: dict[tuple[str, str], list[str]] = {}


async def _refuse_group_relative(client: Any, service_url: str, name: str) -> None:
    """Raise InvalidInput if ``name`` compares samples with their group's mean.

    Without ``--group-rm`` slime sends one sample per call: each would be its own
    group's mean, the same constant for every sample (0.5 through ``par``), a reward
    that teaches nothing, silently."""
    key = (service_url, name)
    if key not in _group_relative:
        listing = await client.pipelines()
        components = next((p.get("components", {}) for p in listing if p.get("name") == name), {})
        _group_relative[key] = sorted(c for c, info in components.items() if info.get("group_relative"))
    relative = _group_relative[key]
    if relative:
        raise InvalidInput(
            f"pipeline {name!r} is group-relative (components {relative} compare each sample with its "
            "group's mean) and slime sent one sample: pass --group-rm so that slime sends the whole group"
        )


def make_reward(
    url: str | None = None, pipeline: str | None = None, timeout_s: float = 60.0, **options: Any
) -> Callable[..., Awaitable[float | list[float]]]:
    """A slime custom reward function; ``options`` are client options (``retry``, ...) and score options."""
    client_options, score_options = split_options(options)

    async def reward(args: Any, sample_or_samples: Any, **kwargs: Any) -> float | list[float]:
        samples = sample_or_samples if isinstance(sample_or_samples, list) else [sample_or_samples]
        service_url, name = target_of(args, url, pipeline)
        client = loop_client(service_url, timeout_s=timeout_s, **client_options)
        whole = len(samples) if isinstance(sample_or_samples, list) else None
        items = [_item(sample, args, whole) for sample in samples]
        if whole is None and not isinstance(items[0].get("group"), dict):
            await _refuse_group_relative(client, service_url, name)  # no size: it could never be assembled
        results = await client.score(items, name, **score_options)
        rewards = [_reward_or_raise(result) for result in results]
        return rewards if isinstance(sample_or_samples, list) else rewards[0]

    return reward


reward = make_reward(
    os.environ.get("REWARDGATE_URL") or None,
    os.environ.get("REWARDGATE_PIPELINE") or None,
    timeout_s=float(os.environ.get("REWARDGATE_TIMEOUT_S", "60")),
)
