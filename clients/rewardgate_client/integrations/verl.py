"""verl: ``compute_score`` functions backed by rewardgate.

verl loads a custom reward function by path and name::

    custom_reward_function.path=.../rewardgate_client/integrations/verl.py
    custom_reward_function.name=compute_score          # or compute_score_batch / compute_score_async

and calls ``compute_score(data_source, solution_str, ground_truth, extra_info)``
per sample (``compute_score_batch`` takes lists, for verl's batch reward
manager). ``data_source`` picks the pipeline. Configure with environment
variables (they reach Ray workers): ``REWARDGATE_URL`` (default
``http://127.0.0.1:8000``), ``REWARDGATE_PIPELINE`` (default ``math``) and
``REWARDGATE_ROUTES`` (JSON ``{"data_source": "pipeline"}``), or build your
own with :func:`make_compute_score`.

The result is a dict ``{"score": reward, <component>: value, ...}`` so verl
logs the components. verl needs the same keys for every sample of a batch, so
the keys are the components of every pipeline the routes can pick (asked from
the service once); a sample whose pipeline lacks one gets NaN there. verl
needs a number for every sample; a failed sample raises
:class:`~rewardgate_client.errors.ItemFailed` (never a made-up 0). Batch
arguments may be lists or numpy arrays, as verl passes them.

verl hands a reward function no pixels. A vision dataset that puts its images
in ``extra_info["images"]`` (PIL images, bytes or ``{"bytes": ...}`` as the
datasets library stores them) gets them sent with ``extra_info["question"]``
as one user turn, so vision rules, VLM judges and VLM reward models see them.

Groups: with ``REWARDGATE_GROUP_SIZE`` (verl's ``rollout.n``) samples whose
``extra_info`` share ``REWARDGATE_GROUP_KEY`` (default ``index``, which verl's
data preprocessing writes per prompt) are sent as ``group: {id, size}`` with a
unique sample id, so a pipeline with group components (docs/groups.md) scores
the whole group whether verl sends it in one batch or sample by sample.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import uuid
from collections.abc import Callable
from typing import Any

from rewardgate_client.errors import InvalidInput, ItemFailed, RewardgateError
from rewardgate_client.images import prompt_with_images
from rewardgate_client.integrations._shared import loop_client, plain, shared_client, split_options
from rewardgate_client.labels import reference_from_label
from rewardgate_client.types import Result


class Router:
    """``data_source`` -> pipeline, with a default."""

    def __init__(self, routes: dict[str, str] | None, default: str) -> None:
        self.routes = dict(routes or {})
        self.default = default

    def __call__(self, data_source: str) -> str:
        return self.routes.get(data_source, self.default)


def _plain(value: Any) -> Any:
    """numpy arrays and scalars (as verl passes them, also inside dicts and lists) as plain
    Python values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _image_list(images: Any) -> list[Any]:
    if images is None:
        return []
    return list(images) if isinstance(images, list | tuple) or hasattr(images, "tolist") else [images]


def _group(extra: dict[str, Any], group_size: int | None, group_key: str) -> dict[str, Any] | None:
    """``{id, size}`` from the prompt's ``extra_info[group_key]`` (verl's datasets carry the prompt's
    ``index``; the GRPO samples of a prompt share it) when the group size (``rollout.n``) is given."""
    value = extra.get(group_key)
    if not group_size or not isinstance(value, str | int) or isinstance(value, bool):
        return None
    return {"id": f"verl-{value}", "size": group_size}


def _item(
    solution_str: str,
    ground_truth: Any,
    extra_info: Any,
    group_size: int | None = None,
    group_key: str = "index",
) -> dict[str, Any]:
    """The item of one verl sample; ``ground_truth`` is a label read by
    :func:`rewardgate_client.labels.reference_from_label` (an ambiguous one raises
    :class:`~rewardgate_client.labels.AmbiguousLabel`)."""
    item: dict[str, Any] = {"response": str(solution_str)}
    extra = extra_info if isinstance(extra_info, dict) else {}
    group = _group(extra, group_size, group_key)
    if group is not None:
        # A sample of a group may be sent alone: the service matches samples (and retries) by id.
        item["group"], item["id"] = group, f"{group['id']}-{uuid.uuid4().hex[:16]}"
    reference, metadata = reference_from_label(_plain(ground_truth), extra)
    if reference is not None:
        item["reference"] = reference
    prompt = extra.get("question") or extra.get("prompt")
    images = extra.get("images")
    if isinstance(prompt, str) or images:
        # verl passes no pixels itself: a dataset puts its images in extra_info["images"].
        item["prompt"] = prompt_with_images(prompt if isinstance(prompt, str) else "", _image_list(images))
    metadata = {k: v for k, v in metadata.items() if isinstance(k, str) and plain(v)}
    if metadata:
        item["metadata"] = metadata
    return item


def _as_dict(result: Result, keys: list[str], sample: str = "this sample") -> dict[str, Any]:
    """verl's dict for ``result``; ``sample`` names it in the error (a batch's index and source)."""
    if result.reward is None:
        name, error = next(iter(result.errors.items()), ("reward", None))
        detail = f"{name}: {error.type}: {error.message}" if error else "no reward"
        raise ItemFailed(
            f"rewardgate could not score {sample} ({detail})", retryable=bool(error and error.retryable)
        )
    return {"score": result.reward, **{key: result.components.get(key, math.nan) for key in keys}}


def _batch_item(
    index: int, make: Callable[..., dict[str, Any]], solution_str: str, ground_truth: Any, extra_info: Any
) -> dict[str, Any]:
    """``make`` (an :func:`_item`) for sample ``index`` of a batch: a refused label names the sample."""
    try:
        return make(solution_str, ground_truth, extra_info)
    except RewardgateError as exc:
        exc.message = f"sample {index} of the batch: {exc.message}"
        exc.args = (exc.message,)
        raise


def routes_from(text: str | None, variable: str = "REWARDGATE_ROUTES") -> dict[str, str]:
    """``{"data_source": "pipeline"}`` from JSON text (empty: no routes).

    Raises:
        InvalidInput: the text is not a JSON object of strings, with what is wrong and an example.
    """
    example = f'{variable}=\'{{"openai/gsm8k": "math", "codecontests": "code"}}\''
    if not text or not text.strip():
        return {}
    try:
        routes = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"{variable} is not valid JSON ({exc}): {text!r}; expected e.g. {example}"
        ) from None
    if not isinstance(routes, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in routes.items()
    ):
        raise InvalidInput(
            f"{variable} must be a JSON object mapping data_source to a pipeline name, got {text!r}; "
            f"expected e.g. {example}"
        )
    return routes


def make_compute_score(
    url: str,
    routes: dict[str, str] | None = None,
    default_pipeline: str = "math",
    *,
    group_size: int | None = None,
    group_key: str = "index",
    **options: Any,
) -> tuple[Callable[..., dict[str, Any]], Callable[..., list[dict[str, Any]]], Callable[..., Any]]:
    """``(compute_score, compute_score_batch, compute_score_async)`` for one service.

    ``group_size`` (verl's ``actor_rollout_ref.rollout.n``): samples sharing
    ``extra_info[group_key]`` are sent as one group ``{id, size}``, so group
    components (majority vote, tournament) see the whole group even when verl
    scores samples one at a time. ``options`` are client options (``retry``,
    ``api_key``, ...) and score options.
    """

    def item(solution_str, ground_truth, extra_info) -> dict[str, Any]:
        return _item(solution_str, ground_truth, extra_info, group_size, group_key)

    route = Router(routes, default_pipeline)
    client_options, options = split_options(options)
    known_keys: list[list[str]] = []

    def keys() -> list[str]:
        """Components of every pipeline a route can pick: the extra-info keys of every sample."""
        if not known_keys:
            routed = set(route.routes.values()) | {route.default}
            listed = shared_client(url, **client_options).pipelines()
            names = {c for p in listed if p["name"] in routed for c in p.get("components", {})}
            known_keys.append(sorted(names))
        return known_keys[0]

    def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs) -> dict[str, Any]:
        (result,) = shared_client(url, **client_options).score(
            [item(solution_str, ground_truth, extra_info)], route(str(data_source)), **options
        )
        return _as_dict(result, keys())

    def compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos=None, **kwargs):
        count = len(solution_strs)
        extra_infos = [None] * count if extra_infos is None else list(extra_infos)
        by_pipeline: dict[str, list[int]] = {}
        for index, source in enumerate(list(data_sources)):
            by_pipeline.setdefault(route(str(source)), []).append(index)
        answers: list[dict[str, Any] | None] = [None] * count
        client = shared_client(url, **client_options)
        for pipeline, indices in by_pipeline.items():
            items = [
                _batch_item(i, item, solution_strs[i], ground_truths[i], extra_infos[i]) for i in indices
            ]
            for index, result in zip(indices, client.score(items, pipeline, **options), strict=True):
                sample = f"sample {index} of the batch (data_source {str(list(data_sources)[index])!r})"
                answers[index] = _as_dict(result, keys(), sample)
        return answers

    async def compute_score_async(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
        client = loop_client(url, **client_options)
        (result,) = await client.score(
            [item(solution_str, ground_truth, extra_info)], route(str(data_source)), **options
        )
        return _as_dict(result, await asyncio.to_thread(keys))

    return compute_score, compute_score_batch, compute_score_async


compute_score, compute_score_batch, compute_score_async = make_compute_score(
    os.environ.get("REWARDGATE_URL", "http://127.0.0.1:8000"),
    routes_from(os.environ.get("REWARDGATE_ROUTES")),
    os.environ.get("REWARDGATE_PIPELINE", "math"),
    group_size=int(os.environ.get("REWARDGATE_GROUP_SIZE", "0")) or None,
    group_key=os.environ.get("REWARDGATE_GROUP_KEY", "index"),
)
