"""Protobuf messages (rewardgate.v1) <-> the scorer's calls and outcomes.

Score requests become a :class:`~rewardgate.core.calls.ScoreCall` straight
from protobuf: protobuf already types every field, so only what it cannot
express is checked here (content vs parts, tool-call JSON, Struct depth and
finiteness, a positive deadline, a positive beta); chat messages go through
the model both transports share (rewardgate/api/messages.py), so a
conversation becomes the same ``ScoringItem`` on both. Compare requests are
built the same way. Nothing here imports the HTTP transport. A problem
becomes InvalidInput (INVALID_ARGUMENT) naming the field.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from google.protobuf import json_format
from pydantic import TypeAdapter, ValidationError
from rewardgate_client.v1 import reward_pb2 as pb

from rewardgate.api.messages import ChatMessage, prompt_of
from rewardgate.api.problems import describe_problem
from rewardgate.core.calls import CallItem, CallOptions, CompareCall, CompareOptions, PairCall, ScoreCall
from rewardgate.core.results import CompareReply, ItemResult, PipelineInfo, ScoreReply, Usage
from rewardgate.errors import InvalidInput
from rewardgate.items import ScoringItem
from rewardgate.media.parts import IMAGE_PART_TYPES
from rewardgate.plain_json import check_plain_json

_MESSAGES = TypeAdapter(list[ChatMessage])


def _validated(model: TypeAdapter, data: Any, location: tuple = ()):
    """``data`` validated by ``model``; InvalidInput naming the field otherwise."""
    try:
        return model.validate_python(data)
    except ValidationError as exc:
        # A union field (prompt: text or messages) reports each branch; the deepest
        # error is the one about what was actually sent.
        deepest = max(exc.errors(), key=lambda error: len(error.get("loc", ())))
        raise InvalidInput(
            describe_problem({**deepest, "loc": (*location, *deepest.get("loc", ()))})
        ) from None


def _plain(value: Any, where: str) -> Any:
    """``value`` if a request may carry it (depth, integer range; rewardgate/plain_json.py)."""
    try:
        check_plain_json(value, where, text=False)  # protobuf strings are valid UTF-8 already
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return value


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
    if part.HasField("image"):
        if part.type not in IMAGE_PART_TYPES:
            raise InvalidInput(
                f"messages[].parts[]: 'image' bytes on a part of type {part.type!r}, not 'image'"
            )
        if any(key in data for key in ("image", "image_url", "url", "path")):
            raise InvalidInput(
                "messages[].parts[]: an image part carries either 'image' bytes or a source in fields"
            )
        # The HTTP spelling of the same bytes: validation decodes it, detects the format
        # and makes it canonical (rewardgate/media/parts.py), so both transports give one item.
        mime = part.mime_type if part.HasField("mime_type") else "application/octet-stream"
        data["image"] = f"data:{mime};base64," + base64.b64encode(part.image).decode("ascii")
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


def _scoring_item(item: pb.Item, index: int) -> ScoringItem:
    """An item as the scorer sees it; messages validated by the HTTP model (one canonical form)."""
    prompt: str | list[dict[str, Any]] = item.prompt
    if item.messages:
        messages = [_chat_message(m) for m in item.messages]
        prompt = prompt_of(_validated(_MESSAGES, _plain(messages, "messages"), ("items", index, "prompt")))
    metadata = _plain(struct_dict(item.metadata), "metadata") if item.HasField("metadata") else {}
    reference = item.reference if item.HasField("reference") else None
    # Bytes as the HTTP spelling of the same image: validation makes both canonical.
    images = tuple(
        "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii")
        for data in item.response_images
    )
    return ScoringItem(prompt, item.response, reference, metadata, response_images=images)


def call_items(items, ids: list[str] | None = None) -> list[CallItem]:
    """``pb.Item`` messages as call items (``ids`` replace the callers' ids when given)."""
    return [
        CallItem(
            ids[index] if ids is not None else item.id or None,
            _scoring_item(item, index),
            item.group if item.HasField("group") else None,
            item.group_size if item.HasField("group_size") else None,
        )
        for index, item in enumerate(items)
    ]


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


def call_options(options: pb.ScoreOptions, remaining_s: float | None) -> CallOptions:
    """The call's options; the deadline is the tighter of the requested one and the gRPC deadline."""
    requested = options.deadline_ms if options.HasField("deadline_ms") else None
    if requested is not None and requested <= 0:
        raise InvalidInput("options.deadline_ms: must be greater than 0")
    return CallOptions(
        return_components=options.return_components if options.HasField("return_components") else True,
        deadline_ms=_deadline_ms(requested, remaining_s),
        cache=options.cache if options.HasField("cache") else True,
        explain=options.explain,
        return_steps=options.return_steps,
        weights=dict(options.weights) if options.weights else None,
    )


def score_call(message: pb.ScoreRequest, remaining_s: float | None) -> ScoreCall:
    return ScoreCall(message.pipeline, call_items(message.items), call_options(message.options, remaining_s))


def compare_call(message: pb.CompareRequest, remaining_s: float | None) -> CompareCall:
    """The compare call, built from protobuf as :func:`score_call` is (no HTTP model in between)."""
    if not message.pairs:
        raise InvalidInput("pairs: List should have at least 1 item after validation, not 0")
    options = message.options
    requested = options.deadline_ms if options.HasField("deadline_ms") else None
    if requested is not None and requested <= 0:
        raise InvalidInput("options.deadline_ms: must be greater than 0")
    beta = options.beta if options.HasField("beta") else 1.0
    if not beta > 0:  # NaN fails too
        raise InvalidInput("options.beta: must be greater than 0")
    return CompareCall(
        message.pipeline,
        [_pair(pair, index) for index, pair in enumerate(message.pairs)],
        CompareOptions(
            deadline_ms=_deadline_ms(requested, remaining_s),
            cache=options.cache if options.HasField("cache") else True,
            beta=beta,
            explain=options.explain,
            return_components=options.return_components if options.HasField("return_components") else True,
        ),
    )


def _pair(pair: pb.ComparePair, index: int) -> PairCall:
    """Both sides of a pair as items sharing prompt, reference and metadata."""
    prompt: str | list[dict[str, Any]] = pair.prompt
    if pair.messages:
        messages = [_chat_message(m) for m in pair.messages]
        prompt = prompt_of(_validated(_MESSAGES, _plain(messages, "messages"), ("pairs", index, "prompt")))
    metadata = _plain(struct_dict(pair.metadata), "metadata") if pair.HasField("metadata") else {}
    reference = pair.reference if pair.HasField("reference") else None
    return PairCall(
        pair.id or None,
        ScoringItem(prompt, pair.response_a, reference, metadata),
        ScoringItem(prompt, pair.response_b, reference, dict(metadata)),
    )


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


def score_response(value: ScoreReply) -> pb.ScoreResponse:
    return pb.ScoreResponse(
        pipeline=value.pipeline,
        pipeline_hash=value.pipeline_hash,
        results=[result(r) for r in value.results],
        usage=usage(value.usage),
        versions=value.versions,
    )


def compare_response(value: CompareReply) -> pb.CompareResponse:
    results = []
    for entry in value.results:
        message = pb.CompareResult(id=entry.id, status=entry.status, a=result(entry.a), b=result(entry.b))
        if entry.probability is not None:
            message.probability = entry.probability
        results.append(message)
    return pb.CompareResponse(
        pipeline=value.pipeline, pipeline_hash=value.pipeline_hash, results=results, usage=usage(value.usage)
    )


def pipelines_response(pipelines: list[PipelineInfo]) -> pb.ListPipelinesResponse:
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
                        group_relative=c.group_relative,
                    )
                    for name, c in p.components.items()
                },
            )
            for p in pipelines
        ]
    )
