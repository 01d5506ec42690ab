"""gRPC transport: the generated stubs (rewardgate_client/v1) over grpc.aio.

Request dicts (the HTTP JSON shape) are converted to protobuf messages and
replies back to the shared result types, so both transports behave alike.
The typed error of a failed call is read from the ``grpc-status-details-bin``
trailer (an ``RpcStatus`` holding an ``ErrorDetail``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

from rewardgate_client.errors import (
    ConnectionFailed,
    DeadlineExceeded,
    InvalidInput,
    Overloaded,
    PayloadTooLarge,
    PipelineNotFound,
    RewardgateError,
    error_from,
)
from rewardgate_client.types import CompareResult, ItemError, Result, ScoreReply
from rewardgate_client.v1 import reward_pb2 as pb
from rewardgate_client.v1.reward_pb2_grpc import RewardServiceStub

DETAILS_KEY = "grpc-status-details-bin"


class GrpcTransport:
    def __init__(self, target: str, *, max_message_bytes: int = 64 * 1024 * 1024, api_key: str | None = None):
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else None
        self._channel = grpc.aio.insecure_channel(
            target,
            options=[
                ("grpc.max_receive_message_length", max_message_bytes),
                ("grpc.max_send_message_length", max_message_bytes),
                # A name resolving to several pods (a headless Service) gets every one of
                # them, calls spread round robin; one address behaves as before.
                ("grpc.lb_policy_name", "round_robin"),
                # After a refused connection gRPC waits before dialling again, 1 s growing
                # 1.6x up to 120 s by default, and fails calls meanwhile: a service back
                # within seconds of a restart would stay unreachable past the client's own
                # retries. Dial again at most every 2 s.
                ("grpc.initial_reconnect_backoff_ms", 250),
                ("grpc.min_reconnect_backoff_ms", 250),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )
        self._stub = RewardServiceStub(self._channel)

    async def score(self, body: dict[str, Any], timeout_s: float) -> ScoreReply:
        request = pb.ScoreRequest(
            pipeline=body["pipeline"],
            items=[item_to_proto(i) for i in body["items"]],
            options=options_to_proto(body.get("options") or {}),
        )
        reply = await self._call(self._stub.Score, request, timeout_s)
        return ScoreReply(
            pipeline=reply.pipeline,
            pipeline_hash=reply.pipeline_hash,
            results=[result_from_proto(r, reply.pipeline_hash) for r in reply.results],
            usage=usage_from_proto(reply.usage),
            versions=dict(reply.versions),
        )

    async def compare(self, body: dict[str, Any], timeout_s: float) -> list[CompareResult]:
        options = body.get("options") or {}
        request = pb.CompareRequest(
            pipeline=body["pipeline"],
            pairs=[pair_to_proto(p) for p in body["pairs"]],
            options=pb.CompareOptions(**{k: v for k, v in options.items() if v is not None}),
        )
        reply = await self._call(self._stub.Compare, request, timeout_s)
        return [
            CompareResult(
                id=r.id,
                probability=r.probability if r.HasField("probability") else None,
                status=r.status,
                a=result_from_proto(r.a, reply.pipeline_hash),
                b=result_from_proto(r.b, reply.pipeline_hash),
            )
            for r in reply.results
        ]

    async def pipelines(self, timeout_s: float) -> list[dict[str, Any]]:
        reply = await self._call(self._stub.ListPipelines, pb.ListPipelinesRequest(), timeout_s)
        return json_format.MessageToDict(reply, preserving_proto_field_name=True).get("pipelines", [])

    async def stream(
        self, requests: AsyncIterator[pb.StreamRequest], timeout_s: float | None
    ) -> AsyncIterator[pb.StreamResult]:
        call = self._stub.ScoreStream(requests, timeout=timeout_s, metadata=self._metadata)
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None

    async def close(self) -> None:
        await self._channel.close()

    async def _call(self, method, request, timeout_s: float):
        try:
            return await method(request, timeout=timeout_s, metadata=self._metadata)
        except grpc.aio.AioRpcError as exc:
            raise error_from_rpc(exc) from None


# ---------------------------------------------------------------- conversions


def item_to_proto(item: dict[str, Any]) -> pb.Item:
    """An item dict (the HTTP JSON shape) as a protobuf Item.

    Raises:
        InvalidInput: the item does not fit the wire shape (a wrong type, an
            unknown message field), as the server would answer over HTTP.
    """
    try:
        return _item_to_proto(item)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"item {item.get('id', '')!r}: {type(exc).__name__}: {exc}") from None


def _item_to_proto(item: dict[str, Any]) -> pb.Item:
    prompt = item.get("prompt", "")
    message = pb.Item(id=str(item.get("id", "")), response=item["response"])
    if isinstance(prompt, str):
        message.prompt = prompt
    else:
        message.messages.extend(message_to_proto(m) for m in prompt)
    if item.get("reference") is not None:
        message.reference = item["reference"]
    group = item.get("group")
    if isinstance(group, dict):  # {id, size}: a group that may arrive over several requests
        message.group = group["id"]
        if group.get("size") is not None:
            message.group_size = group["size"]
    elif group is not None:
        message.group = group
    if item.get("metadata"):
        message.metadata.update(item["metadata"])
    return message


#: Chat message fields the wire carries (the HTTP API refuses others too).
_MESSAGE_FIELDS = {"role", "content", "tool_calls", "name", "tool_call_id", "reasoning_content"}


def message_to_proto(message: dict[str, Any]) -> pb.ChatMessage:
    """A chat message dict (text or content parts, tool calls) as a ChatMessage."""
    unknown = sorted(set(message) - _MESSAGE_FIELDS)
    if unknown:
        raise ValueError(f"chat message field {unknown[0]!r} is not part of the API")
    proto = pb.ChatMessage(role=message["role"])
    content = message.get("content")
    if isinstance(content, list):
        proto.parts.extend(_part_to_proto(part) for part in content)
    elif content is not None:
        proto.content = content
    proto.tool_calls.extend(_tool_call_to_proto(call) for call in message.get("tool_calls") or ())
    for name in ("name", "tool_call_id", "reasoning_content"):
        if message.get(name) is not None:
            setattr(proto, name, message[name])
    return proto


def _part_to_proto(part: dict[str, Any]) -> pb.ContentPart:
    proto = pb.ContentPart(type=part["type"])
    if part.get("text") is not None:
        proto.text = part["text"]
    fields = {key: value for key, value in part.items() if key not in ("type", "text")}
    if fields:
        proto.fields.update(fields)
    return proto


def _tool_call_to_proto(call: dict[str, Any]) -> pb.ToolCall:
    function = call["function"]
    proto = pb.ToolCall(
        type=call.get("type") or "function",
        name=function["name"],
        arguments_json=json.dumps(function.get("arguments", {})),
    )
    if call.get("id") is not None:
        proto.id = call["id"]
    return proto


def pair_to_proto(pair: dict[str, Any]) -> pb.ComparePair:
    item = item_to_proto({**pair, "response": ""})
    message = pb.ComparePair(
        id=item.id,
        prompt=item.prompt,
        messages=item.messages,
        response_a=pair["response_a"],
        response_b=pair["response_b"],
    )
    if item.HasField("reference"):
        message.reference = item.reference
    if item.HasField("metadata"):
        message.metadata.CopyFrom(item.metadata)
    return message


def options_to_proto(options: dict[str, Any]) -> pb.ScoreOptions:
    message = pb.ScoreOptions()
    for key in ("return_components", "deadline_ms", "cache", "explain", "return_steps"):
        if options.get(key) is not None:
            setattr(message, key, options[key])
    message.weights.update(options.get("weights") or {})
    return message


def result_from_proto(result: pb.Result, pipeline_hash: str = "") -> Result:
    return Result(
        id=result.id,
        reward=result.reward if result.HasField("reward") else None,
        status=result.status,
        components=dict(result.components),
        errors={k: ItemError(v.type, v.message, v.retryable) for k, v in result.errors.items()},
        cached=list(result.cached),
        steps={k: {"rewards": list(v.rewards), "deltas": list(v.deltas)} for k, v in result.steps.items()}
        or None,
        explanation=struct_to_dict(result.explanation) if result.HasField("explanation") else None,
        pipeline_hash=pipeline_hash,
    )


def usage_from_proto(usage: pb.Usage) -> dict[str, int]:
    return {
        "items": usage.items,
        "cache_hits": usage.cache_hits,
        "model_tokens": usage.model_tokens,
        "judge_tokens": usage.judge_tokens,
    }


def struct_to_dict(value: struct_pb2.Struct) -> dict[str, Any]:
    return json_format.MessageToDict(value)


def error_from_rpc(exc: grpc.aio.AioRpcError) -> RewardgateError:
    """The typed error of a failed call: from its status details, else from its code."""
    detailed = _detailed_error(exc)
    if detailed is not None:
        return detailed
    code, text = exc.code(), exc.details() or ""
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and "larger than max" in text:
        return PayloadTooLarge(text)
    by_code = {
        grpc.StatusCode.UNAVAILABLE: ConnectionFailed,
        grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
        grpc.StatusCode.RESOURCE_EXHAUSTED: Overloaded,
        grpc.StatusCode.INVALID_ARGUMENT: InvalidInput,
        grpc.StatusCode.NOT_FOUND: PipelineNotFound,
    }
    return by_code.get(code, RewardgateError)(f"{code.name}: {text}")


def _detailed_error(exc: grpc.aio.AioRpcError) -> RewardgateError | None:
    for key, value in exc.trailing_metadata() or ():
        if key != DETAILS_KEY:
            continue
        for detail in pb.RpcStatus.FromString(value).details:
            error = pb.ErrorDetail()
            if detail.Unpack(error):
                retry_after = error.retry_after_s if error.HasField("retry_after_s") else None
                return error_from(error.type, error.message, error.retryable, retry_after)
    return None
