"""The validated HTTP wire models (api/http/schemas.py) -> the scorer's calls (core/calls.py).

Pydantic has already checked every field; these only move the values into
the transport-free shapes. The chat-message form here (``model_dump`` without
unset fields) is the one every transport produces, so a conversation has one
cache key whichever transport carried it.
"""

from __future__ import annotations

from rewardgate.api.http.schemas import CompareRequest, GroupRef, ScoreItem, ScoreRequest
from rewardgate.api.messages import prompt_of
from rewardgate.core.calls import CallItem, CallOptions, CompareCall, CompareOptions, PairCall, ScoreCall
from rewardgate.items import ScoringItem


def scoring_item(item: ScoreItem) -> ScoringItem:
    return ScoringItem(
        prompt_of(item.prompt),
        item.response,
        item.reference,
        dict(item.metadata),
        response_images=tuple(item.response_images),
    )


def call_item(item: ScoreItem) -> CallItem:
    """An item with its group: a bare id, or ``{id, size}``."""
    group, size = item.group, None
    if isinstance(group, GroupRef):
        group, size = group.id, group.size
    return CallItem(item.id, scoring_item(item), group, size)


def score_call(request: ScoreRequest) -> ScoreCall:
    options = request.options
    return ScoreCall(
        request.pipeline,
        [call_item(item) for item in request.items],
        CallOptions(
            return_components=options.return_components,
            deadline_ms=options.deadline_ms,
            cache=options.cache,
            explain=options.explain,
            return_steps=options.return_steps,
            weights=options.weights,
        ),
    )


def compare_call(request: CompareRequest) -> CompareCall:
    pairs = []
    for pair in request.pairs:
        prompt, metadata = prompt_of(pair.prompt), dict(pair.metadata)
        pairs.append(
            PairCall(
                pair.id,
                ScoringItem(prompt, pair.response_a, pair.reference, metadata),
                ScoringItem(prompt, pair.response_b, pair.reference, metadata),
            )
        )
    options = request.options
    return CompareCall(
        request.pipeline,
        pairs,
        CompareOptions(
            deadline_ms=options.deadline_ms,
            cache=options.cache,
            beta=options.beta,
            explain=options.explain,
            return_components=options.return_components,
        ),
    )
