"""Protocols of trainers that cannot be changed to call /v1/score.

``POST /get_reward`` is OpenRLHF's remote reward model protocol
(``--remote_rm_url``); ``POST /slime/reward`` is slime's ``remote_rm`` (one
``{"prompt", "response", "label"}`` sample per request, the reward as the JSON
reply). A failed sample cannot be expressed in these float-only replies, so
the failure policy (docs/reward-algebra.md#failures) decides: a
failure the response caused scores as the component's failure value, and a
failure of the service (an unreachable judge or backend, a restarting
verifier pool) fails the whole request with the retryable 503 both trainers
retry on, never a made-up number. A failure of the caller's input (an
unusable label) differs by route: in an OpenRLHF batch it scores the failure
value too, so one sample never fails the others (and is logged for the
operator); slime sends one sample per request, which stays a 422 naming the
label, since there is no batch to protect and the label, not the response,
is wrong.

The functions here are transport-free; rewardgate/api/http/scoring_routes.py serves
them over HTTP.
"""

from __future__ import annotations

from rewardgate_client.labels import AmbiguousLabel, reference_from_label
from rewardgate_client.prompts import response_of

from rewardgate.api.http.codec import prompt_of
from rewardgate.api.http.compat_errors import PERMANENT_ERRORS
from rewardgate.api.http.context import AppContext
from rewardgate.api.http.schemas import OpenRLHFRewardRequest, OpenRLHFRewardResponse, SlimeRewardRequest
from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.results import ItemResult, StageTimings
from rewardgate.errors import InvalidInput, ItemFailed
from rewardgate.items import ScoringItem
from rewardgate.media.placeholders import collapse_placeholders


async def get_reward(
    ctx: AppContext, body: OpenRLHFRewardRequest, pipeline: str
) -> tuple[OpenRLHFRewardResponse, StageTimings]:
    """OpenRLHF: ``{"query", "prompts", "labels"}`` -> ``{"rewards", "scores", "extra_logs"}``.

    Raises:
        ItemFailed: a sample failed (the reply cannot carry it); and what the scorer raises.
    """
    items = openrlhf_items(body)
    if not items:  # OpenRLHF posts an empty batch to a second reward URL: nothing to score
        return OpenRLHFRewardResponse(rewards=[], scores=[], extra_logs={}), StageTimings()
    call = ScoreCall(pipeline, items, CallOptions(score_input_failures=True))
    result, timings = await ctx.core.score(call)
    rewards = [_reward_or_raise(item) for item in result.results]
    _report_scored_input_failures(result.results)
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
    """``query`` is prompt + response; the response is split off by
    :func:`rewardgate_client.prompts.response_of` (also when the query does not hold the
    prompt verbatim). An empty ``query`` is an empty batch."""
    count = len(body.query)
    for field in ("prompts", "labels"):
        values = getattr(body, field)
        if values is not None and len(values) != count:
            raise InvalidInput(f"{field}: has {len(values)} entries but query has {count}")
    prompts = body.prompts or [""] * count
    labels = [
        label_reference(label, None, f"labels[{index}]")
        for index, label in enumerate(body.labels or [None] * count)
    ]
    # A VLM sample's query repeats each image placeholder once per image token where its
    # prompt has it once: collapsed on both sides (rewardgate/media/placeholders.py).
    return [
        CallItem(
            str(index),
            ScoringItem(prompt, response_of(query, prompt), reference, metadata),
        )
        for index, (query, prompt, (reference, metadata)) in enumerate(
            zip(
                map(collapse_placeholders, body.query),
                map(collapse_placeholders, prompts),
                labels,
                strict=True,
            )
        )
    ]


def _reward_or_raise(item: ItemResult) -> float:
    """The sample's reward; a sample without one failed for a reason no failure value covers:
    the service's (retryable, 503: the trainer retries the request), else 422."""
    if item.reward is not None:
        return item.reward
    name, error = next(iter(item.errors.items()))
    raise ItemFailed(
        f"sample {item.id}, component {name}: {error.message}",
        error_type=error.type,
        retryable=error.retryable,
    )


#: The caller's input failures (rewardgate/errors.py, cause "input") a batch scores instead of failing.
_INPUT_FAILURES = frozenset({"invalid_reference", "invalid_component_input"})


def _report_scored_input_failures(results: list[ItemResult]) -> None:
    """Log, once per message, the caller's input failures an OpenRLHF batch scored as failure
    values: a wrong label must not fail the batch, nor go unnoticed."""
    for item in results:
        for name, error in item.errors.items():
            if item.reward is not None and error.type in _INPUT_FAILURES:
                message = f"sample {item.id}, component {name}: {error.message} (scored as its failure value)"
                PERMANENT_ERRORS.report("/get_reward", error.type, message, retryable=False)


def _component_logs(results: list[ItemResult]) -> dict[str, list[float]]:
    """Components present for every sample (a partial item may lack some)."""
    present = [set(item.components or {}) for item in results]
    names = sorted(set.intersection(*present)) if present else []
    return {name: [item.components[name] for item in results] for name in names}
