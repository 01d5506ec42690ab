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

Conversations are sent as they are: content parts (text and images, as
vision-language datasets have; an in-memory image travels as a data URL, and
the images of an ``images``/``image`` column fill the prompt's
``{"type": "image"}`` placeholders in order) and tool turns (``tool_calls``, ``name``,
``tool_call_id``), over HTTP and gRPC alike. The response is the policy's own
turns of the completion: assistant text, and its tool calls as
``<tool_call>`` blocks; tool results are not the policy's words and are left
out. Client options (``retry=RetryPolicy(...)``, ``api_key``, ``headers``,
``chunk_size``, ``max_concurrency``) configure the client; the others are
score options. When samples get no reward, the reason is logged (once per
distinct reason) on the ``rewardgate_client`` logger, and, when TRL passes
``log_metric``, the failed share is logged as ``rewardgate/failed/<function
name>`` (``rewardgate/failed/rewardgate_math``, ``.../rewardgate_math_fmt``
with ``component="fmt"``): one metric per reward function, since TRL averages
what is logged under one name. A ``None`` is dropped from the weighted sum
when another reward function scored the sample (TRL's ``nansum``), so the
sample is trained on the others' rewards alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from rewardgate_client.images import fill_placeholders
from rewardgate_client.integrations._shared import (
    loop_client,
    message_text,
    plain,
    shared_client,
    split_options,
    wire_messages,
)
from rewardgate_client.labels import reference_from_label
from rewardgate_client.types import Result

logger = logging.getLogger("rewardgate_client")

#: Arguments TRL passes that are not dataset columns.
_NOT_COLUMNS = {"trainer_state", "completion_ids", "log_extra", "log_metric", "environments"}


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
        options: client options (``retry``, ``api_key``, ``headers``, ``chunk_size``,
            ``max_concurrency``) and score options (``explain``, ``weights``, ``timeout_s``, ...).
    """
    client_options, score_options = split_options(options)
    name = f"rewardgate_{pipeline}" + (f"_{component}" if component else "")
    explain = _FailureReporter(pipeline, reference_column, name)

    def build_items(prompts, completions, kwargs) -> list[dict[str, Any]]:
        return _items(prompts, completions, kwargs, reference_column, metadata_columns, group_by_prompt)

    def pick(results: list[Result], kwargs: dict[str, Any]) -> list[float | None]:
        values = [r.reward if component is None else r.components.get(component) for r in results]
        explain(results, values, kwargs)
        return values

    if asynchronous:

        async def async_reward(prompts, completions, **kwargs) -> list[float | None]:
            client = loop_client(url, **client_options)
            items = build_items(prompts, completions, kwargs)
            return pick(await client.score(items, pipeline, **score_options), kwargs)

        async_reward.__name__ = name
        return async_reward

    def reward(prompts, completions, **kwargs) -> list[float | None]:
        client = shared_client(url, **client_options)
        return pick(
            client.score(build_items(prompts, completions, kwargs), pipeline, **score_options), kwargs
        )

    reward.__name__ = name
    return reward


class _FailureReporter:
    """Says why samples got ``None``: TRL only reports that every function returned None."""

    def __init__(self, pipeline: str, reference_column: str | None, function: str) -> None:
        self.pipeline = pipeline
        self.reference_column = reference_column
        # One metric per reward function: TRL averages every value logged under one name in a
        # step, so a shared name would mix a failing function with the others.
        self.metric = f"rewardgate/failed/{function}"
        self.reported: set[tuple[str, str]] = set()

    def __call__(self, results: list[Result], values: list[float | None], kwargs: dict[str, Any]) -> None:
        failed = [result for result, value in zip(results, values, strict=True) if value is None]
        if callable(kwargs.get("log_metric")) and results:
            kwargs["log_metric"](self.metric, len(failed) / len(results))
        for result in failed:
            for component, error in result.errors.items() or [("reward", None)]:
                reason = f"{component}: {error.type}: {error.message}" if error else "no reward"
                key = (component, error.type if error else "none")
                if key in self.reported:
                    continue
                self.reported.add(key)
                logger.warning(
                    "rewardgate pipeline %r: %d of %d samples got no reward (first reason: %s)%s",
                    self.pipeline,
                    len(failed),
                    len(results),
                    reason,
                    self._hint(error, kwargs),
                )

    def _hint(self, error, kwargs: dict[str, Any]) -> str:
        if error is None or error.type != "invalid_reference":
            return ""
        columns = sorted(k for k in kwargs if k not in _NOT_COLUMNS)
        if self.reference_column is None:
            return f"; the reward function was built with reference_column=None (dataset columns: {columns})"
        if self.reference_column not in kwargs:
            return (
                f"; the dataset has no {self.reference_column!r} column (its columns: {columns}):"
                " pass reference_column=<the column holding the answer>"
            )
        return ""


def _items(prompts, completions, kwargs, reference_column, metadata_columns, group_by_prompt):
    columns = {k: v for k, v in kwargs.items() if k not in _NOT_COLUMNS and isinstance(v, list | tuple)}
    references = columns.pop(reference_column, None) if reference_column else None
    chosen = metadata_columns if metadata_columns is not None else list(columns)
    items = []
    for index, (prompt, completion) in enumerate(zip(prompts, completions, strict=True)):
        prompt = wire_messages(prompt)
        if isinstance(prompt, list) and (images := _sample_images(columns, index)):
            prompt = fill_placeholders(prompt, images)
        item: dict[str, Any] = {"prompt": prompt, "response": message_text(completion)}
        # The reference column is a label: one rule for every path (rewardgate_client.labels).
        reference, metadata = reference_from_label(references[index] if references is not None else None)
        if reference is not None:
            item["reference"] = reference
        metadata = {k: v for k, v in metadata.items() if plain(v)}
        metadata |= {k: columns[k][index] for k in chosen if k in columns and plain(columns[k][index])}
        if metadata:
            item["metadata"] = metadata
        if group_by_prompt:
            item["group"] = hashlib.sha256(json.dumps(prompt, sort_keys=True).encode()).hexdigest()[:16]
        items.append(item)
    return items


def _sample_images(columns: dict[str, Any], index: int) -> list[Any]:
    """The images of sample ``index`` from TRL's vision columns (``images``: a list per
    sample; ``image``: one per sample), which fill the prompt's image placeholders."""
    if "images" in columns and columns["images"][index] is not None:
        return list(columns["images"][index])
    if "image" in columns and columns["image"][index] is not None:
        return [columns["image"][index]]
    return []
