"""Protocols of trainers that cannot be changed to call /v1/score.

``POST /get_reward`` is OpenRLHF's remote reward model protocol
(``--remote_rm_url``); ``POST /slime/reward`` is slime's ``remote_rm`` (one
``{"prompt", "response", "label"}`` sample per request, the reward as the JSON
reply). A failed sample cannot be expressed in these float-only replies, so
any failed item turns the reply into an error envelope with that item's status
(both trainers retry on non-2xx), never into a made-up number.

The functions here are transport-free; rewardgate/api/http/scoring_routes.py serves
them over HTTP.
"""

from __future__ import annotations

from rewardgate_client.labels import AmbiguousLabel, reference_from_label

from rewardgate.api.http.codec import prompt_of
from rewardgate.api.http.context import AppContext
from rewardgate.api.http.schemas import OpenRLHFRewardRequest, OpenRLHFRewardResponse, SlimeRewardRequest
from rewardgate.core.calls import CallItem, ScoreCall
from rewardgate.core.results import ItemResult, StageTimings
from rewardgate.errors import InvalidInput, ItemFailed
from rewardgate.items import ScoringItem


async def get_reward(
    ctx: AppContext, body: OpenRLHFRewardRequest, pipeline: str
) -> tuple[OpenRLHFRewardResponse, StageTimings]:
    """OpenRLHF: ``{"query", "prompts", "labels"}`` -> ``{"rewards", "scores", "extra_logs"}``.

    Raises:
        ItemFailed: a sample failed (the reply cannot carry it); and what the scorer raises.
    """
    result, timings = await ctx.core.score(ScoreCall(pipeline, openrlhf_items(body)))
    rewards = [_reward_or_raise(item) for item in result.results]
    logs = _component_logs(result.results)
    reply = OpenRLHFRewardResponse(rewards=rewards, scores=rewards, extra_logs=logs)
    return reply, timings


async def slime_reward(
    ctx: AppContext, body: SlimeRewardRequest, pipeline: str, components: bool
) -> tuple[float | dict[str, float], StageTimings]:
    """slime: ``{"prompt", "response", "label"}`` -> the reward (``{"reward", COMPONENT...}``
    with ``components``).

    Raises:
        ItemFailed: the sample failed; and what the scorer raises.
    """
    label, metadata = slime_reference(body)
    item = ScoringItem(prompt_of(body.prompt), body.response, label, metadata)
    result, timings = await ctx.core.score(ScoreCall(pipeline, [CallItem("0", item)]))
    (scored,) = result.results
    reward = _reward_or_raise(scored)
    return ({"reward": reward, **(scored.components or {})} if components else reward), timings


def slime_reference(body: SlimeRewardRequest) -> tuple[str | None, dict]:
    """(reference, metadata) of a slime sample: :func:`rewardgate_client.labels.reference_from_label`.

    Raises:
        InvalidInput: an ambiguous label.
    """
    return label_reference(body.label, body.metadata, "label")


def label_reference(label, metadata, field: str) -> tuple[str | None, dict]:
    """:func:`rewardgate_client.labels.reference_from_label`, its refusal a 422 naming ``field``."""
    try:
        return reference_from_label(label, metadata)
    except AmbiguousLabel as exc:
        raise InvalidInput(f"{field}: {exc.message}") from exc


def openrlhf_items(body: OpenRLHFRewardRequest) -> list[CallItem]:
    """``query`` is prompt + response; the response is the query minus its prompt prefix."""
    count = len(body.query)
    if count == 0:
        raise InvalidInput("query: must contain at least one sample")
    for field in ("prompts", "labels"):
        values = getattr(body, field)
        if values is not None and len(values) != count:
            raise InvalidInput(f"{field}: has {len(values)} entries but query has {count}")
    prompts = body.prompts or [""] * count
    labels = [
        label_reference(label, None, f"labels[{index}]")
        for index, label in enumerate(body.labels or [None] * count)
    ]
    return [
        CallItem(
            str(index),
            ScoringItem(prompt, response_after_prompt(query, prompt, index), reference, metadata),
        )
        for index, (query, prompt, (reference, metadata)) in enumerate(
            zip(body.query, prompts, labels, strict=True)
        )
    ]


def response_after_prompt(query: str, prompt: str, index: int) -> str:
    """The text after the first occurrence of ``prompt`` in ``query``.

    OpenRLHF decodes with special tokens kept, so a BOS or chat-template prefix
    may precede the prompt. A query that does not contain its prompt cannot be
    split: scoring it whole would let the prompt's own text (a worked example,
    the answer) earn the reward, so it is refused.

    Raises:
        InvalidInput: ``prompt`` is not part of ``query``.
    """
    if not prompt:
        return query
    at = query.find(prompt)
    if at < 0:
        raise InvalidInput(
            f"query[{index}] does not contain prompts[{index}]: the response cannot be separated from the "
            "prompt (send the prompt exactly as it appears in the query)"
        )
    return query[at + len(prompt) :]


def _reward_or_raise(item: ItemResult) -> float:
    if item.reward is not None:
        return item.reward
    name, error = next(iter(item.errors.items()))
    raise ItemFailed(
        f"sample {item.id}, component {name}: {error.message}",
        error_type=error.type,
        retryable=error.retryable,
    )


def _component_logs(results: list[ItemResult]) -> dict[str, list[float]]:
    """Components present for every sample (a partial item may lack some)."""
    present = [set(item.components or {}) for item in results]
    names = sorted(set.intersection(*present)) if present else []
    return {name: [item.components[name] for item in results] for name in names}
