"""Protobuf messages (rewardgate.v1) <-> the wire models of service/schemas.py.

Requests go through the same pydantic models as HTTP, so validation and
defaults are identical on both transports; a validation failure becomes
InvalidInput (INVALID_ARGUMENT) naming the field.
"""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from pydantic import ValidationError
from rewardgate_client.v1 import reward_pb2 as pb

from service.api.errors import describe_problem
from service.errors import InvalidInput
from service.schemas import (
    CompareRequest,
    PipelinesResponse,
    ScoreRequest,
)
from service.scoring.results import CompareOutcome, ItemResult, ScoreOutcome, Usage


def _validated(model, data: dict[str, Any]):
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # A union field (prompt: text or messages) reports each branch; the deepest
        # error is the one about what was actually sent.
        deepest = max(exc.errors(), key=lambda error: len(error.get("loc", ())))
        raise InvalidInput(describe_problem(deepest)) from None


def _prompt(message) -> str | list[dict[str, Any]]:
    if message.messages:
        return [_chat_message(m) for m in message.messages]
    return message.prompt


def _chat_message(message: pb.ChatMessage) -> dict[str, Any]:
    """A ChatMessage as the HTTP API's message dict (validated by the same model afterwards)."""
    if message.parts and message.content:
        raise InvalidInput("messages[].content, messages[].parts: set one of them, not both")
    data: dict[str, Any] = {
        "role": message.role,
        "content": [_content_part(part) for part in message.parts] if message.parts else message.content,
    }
    if message.tool_calls:
        data["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
    data.update(_optional_fields(message, ("name", "tool_call_id", "reasoning_content")))
    return data


def _content_part(part: pb.ContentPart) -> dict[str, Any]:
    data = struct_dict(part.fields, "messages[].parts[].fields") if part.HasField("fields") else {}
    if "type" in data or "text" in data:
        raise InvalidInput("messages[].parts[].fields: 'type' and 'text' are fields of the part itself")
    data["type"] = part.type
    if part.HasField("text"):
        data["text"] = part.text
    return data


def _tool_call(call: pb.ToolCall) -> dict[str, Any]:
    try:
        arguments = json.loads(call.arguments_json) if call.arguments_json else {}
    except (ValueError, RecursionError):
        raise InvalidInput("messages[].tool_calls[].arguments_json: not valid JSON") from None
    data: dict[str, Any] = {
        "type": call.type or "function",
        "function": {"name": call.name, "arguments": arguments},
    }
    if call.HasField("id"):
        data["id"] = call.id
    return data


def _item(item: pb.Item) -> dict[str, Any]:
    data: dict[str, Any] = {"prompt": _prompt(item), "response": item.response}
    if item.id:
        data["id"] = item.id
    if item.HasField("reference"):
        data["reference"] = item.reference
    if item.HasField("group"):
        data["group"] = item.group
    if item.HasField("metadata"):
        data["metadata"] = struct_dict(item.metadata)
    return data


def struct_dict(message, where: str = "metadata") -> dict[str, Any]:
    """A ``google.protobuf.Struct`` as a dict; NaN and infinities (not JSON) are InvalidInput."""
    try:
        return json_format.MessageToDict(message)
    except ValueError as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def _optional_fields(message, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(message, name) for name in names if message.HasField(name)}


def _deadline_ms(requested: int | None, remaining_s: float | None) -> int | None:
    """The tighter of the requested deadline and the caller's gRPC deadline."""
    if remaining_s is None:
        return requested
    left_ms = max(1, int(remaining_s * 1000))
    return min(requested, left_ms) if requested else left_ms


def score_request(message: pb.ScoreRequest, remaining_s: float | None) -> ScoreRequest:
    options = message.options
    data = _optional_fields(options, ("return_components", "deadline_ms", "cache"))
    data.update(explain=options.explain, return_steps=options.return_steps)
    if options.weights:
        data["weights"] = dict(options.weights)
    data["deadline_ms"] = _deadline_ms(data.get("deadline_ms"), remaining_s)
    body = {"pipeline": message.pipeline, "items": [_item(i) for i in message.items], "options": data}
    return _validated(ScoreRequest, body)


def stream_request(message: pb.StreamRequest, item_id: str, remaining_s: float | None) -> ScoreRequest:
    single = pb.ScoreRequest(pipeline=message.pipeline, items=[message.item], options=message.options)
    if not message.item.id:
        single.items[0].id = item_id
    return score_request(single, remaining_s)


def compare_request(message: pb.CompareRequest, remaining_s: float | None) -> CompareRequest:
    options = message.options
    data = _optional_fields(options, ("deadline_ms", "cache", "beta", "return_components"))
    data["explain"] = options.explain
    data["deadline_ms"] = _deadline_ms(data.get("deadline_ms"), remaining_s)
    pairs = []
    for pair in message.pairs:
        entry: dict[str, Any] = {
            "prompt": _prompt(pair),
            "response_a": pair.response_a,
            "response_b": pair.response_b,
        }
        if pair.id:
            entry["id"] = pair.id
        if pair.HasField("reference"):
            entry["reference"] = pair.reference
        if pair.HasField("metadata"):
            entry["metadata"] = struct_dict(pair.metadata)
        pairs.append(entry)
    return _validated(CompareRequest, {"pipeline": message.pipeline, "pairs": pairs, "options": data})


def result(value: ItemResult) -> pb.Result:
    message = pb.Result(id=value.id, status=value.status, cached=value.cached)
    if value.reward is not None:
        message.reward = value.reward
    message.components.update(value.components or {})
    for name, error in value.errors.items():
        message.errors[name].CopyFrom(
            pb.ItemError(type=error.type, message=error.message, retryable=error.retryable)
        )
    for name, steps in (value.steps or {}).items():
        message.steps[name].CopyFrom(pb.StepRewards(rewards=steps.rewards, deltas=steps.deltas))
    if value.explanation is not None:
        message.explanation.update(value.explanation)
    return message


def usage(value: Usage) -> pb.Usage:
    return pb.Usage(
        items=value.items,
        cache_hits=value.cache_hits,
        model_tokens=value.model_tokens,
        judge_tokens=value.judge_tokens,
    )


def score_response(value: ScoreOutcome) -> pb.ScoreResponse:
    return pb.ScoreResponse(
        pipeline=value.pipeline,
        pipeline_hash=value.pipeline_hash,
        results=[result(r) for r in value.results],
        usage=usage(value.usage),
        versions=value.versions,
    )


def compare_response(value: CompareOutcome) -> pb.CompareResponse:
    results = []
    for entry in value.results:
        message = pb.CompareResult(id=entry.id, status=entry.status, a=result(entry.a), b=result(entry.b))
        if entry.probability is not None:
            message.probability = entry.probability
        results.append(message)
    return pb.CompareResponse(
        pipeline=value.pipeline, pipeline_hash=value.pipeline_hash, results=results, usage=usage(value.usage)
    )


def pipelines_response(value: PipelinesResponse) -> pb.ListPipelinesResponse:
    return pb.ListPipelinesResponse(
        pipelines=[
            pb.PipelineInfo(
                name=p.name,
                description=p.description,
                hash=p.hash,
                ready=p.ready,
                components={
                    name: pb.ComponentInfo(
                        kind=c.kind,
                        source=c.source or "",
                        head=str(c.head),
                        required=c.required,
                        weight=c.weight,
                        transforms=c.transforms,
                    )
                    for name, c in p.components.items()
                },
            )
            for p in value.pipelines
        ]
    )
