"""gRPC transport: the generated stubs (rewardgate_client/v1) over grpc.aio.

Request dicts (the HTTP JSON shape) are converted to protobuf messages and
replies back to the shared result types, so both transports behave alike.
The typed error of a failed call is read from the ``grpc-status-details-bin``
trailer (an ``RpcStatus`` holding an ``ErrorDetail``).
"""

from __future__ import annotations

import base64
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
            items=[item_to_proto(item, index) for index, item in enumerate(body["items"])],
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


def item_to_proto(item: dict[str, Any], index: int | None = None) -> pb.Item:
    """An item dict (the HTTP JSON shape) as a protobuf Item.

    Raises:
        InvalidInput: the item does not fit the wire shape (a wrong type, an
            unknown message field), naming the field as the server would over
            HTTP: ``items[3].messages[0].content: expected a string, got int``
            (protobuf itself only says "bad argument type for built-in operation").
    """
    where = f"items[{index}]" if index is not None else f"item {item.get('id', '')!r}"
    try:
        return _item_to_proto(item, where)
    except _FieldError as exc:
        raise InvalidInput(str(exc)) from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInput(f"{where}: {type(exc).__name__}: {exc}") from None


class _FieldError(Exception):
    """A value that does not fit its protobuf field; the message names the field's path."""


def _put(proto: Any, field: str, value: Any, where: str) -> None:
    """``proto.field = value``, or a :class:`_FieldError` naming ``where.field``."""
    try:
        setattr(proto, field, value)
    except (TypeError, ValueError) as exc:
        raise _FieldError(f"{where}.{field}: {_expected(proto, field)}, got {_shown(value)}") from exc


def _update(struct: Any, values: Any, where: str) -> None:
    """``struct.update(values)`` (a google.protobuf.Struct), or a :class:`_FieldError`."""
    if not isinstance(values, dict):
        raise _FieldError(f"{where}: expected an object, got {_shown(values)}")
    for key, value in values.items():
        try:
            struct.update({key: value})
        except (TypeError, ValueError, AttributeError) as exc:
            raise _FieldError(f"{where}.{key}: not a JSON value: {_shown(value)}") from exc


def _expected(proto: Any, field: str) -> str:
    kind = proto.DESCRIPTOR.fields_by_name[field].type
    descriptor = proto.DESCRIPTOR.fields_by_name[field]
    if kind == descriptor.TYPE_STRING:
        return "expected a string"
    if kind == descriptor.TYPE_BOOL:
        return "expected true or false"
    if kind in (descriptor.TYPE_DOUBLE, descriptor.TYPE_FLOAT):
        return "expected a number"
    return "expected an integer"


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"


def _item_to_proto(item: dict[str, Any], where: str) -> pb.Item:
    if not isinstance(item, dict):
        raise _FieldError(f"{where}: expected an object, got {_shown(item)}")
    if "response" not in item:
        raise _FieldError(f"{where}.response: required")
    message = pb.Item()
    _put(message, "id", str(item.get("id", "")), where)
    _put(message, "response", item["response"], where)
    prompt = item.get("prompt", "")
    if isinstance(prompt, str):
        message.prompt = prompt
    elif isinstance(prompt, list):
        message.messages.extend(message_to_proto(m, f"{where}.prompt[{i}]") for i, m in enumerate(prompt))
    else:
        raise _FieldError(f"{where}.prompt: expected a string or a list of messages, got {_shown(prompt)}")
    if item.get("reference") is not None:
        _put(message, "reference", item["reference"], where)
    if item.get("group") is not None:
        _put_group(message, item["group"], where)
    if item.get("metadata"):
        _update(message.metadata, item["metadata"], f"{where}.metadata")
    for index, image in enumerate(item.get("response_images") or ()):
        data, _ = _image_bytes({"type": "image", "image": image})
        if data is None:
            raise _FieldError(
                f"{where}.response_images[{index}]: images travel as bytes on gRPC: give base64 data URLs"
            )
        message.response_images.append(data)
    return message


#: Chat message fields the wire carries (the HTTP API refuses others too).
_MESSAGE_FIELDS = {"role", "content", "tool_calls", "name", "tool_call_id", "reasoning_content"}


def message_to_proto(message: dict[str, Any], where: str = "message") -> pb.ChatMessage:
    """A chat message dict (text or content parts, tool calls) as a ChatMessage."""
    if not isinstance(message, dict):
        raise _FieldError(f"{where}: expected a message object, got {_shown(message)}")
    unknown = sorted(set(message) - _MESSAGE_FIELDS)
    if unknown:
        raise ValueError(f"chat message field {unknown[0]!r} is not part of the API")
    if "role" not in message:
        raise _FieldError(f"{where}.role: required")
    proto = pb.ChatMessage()
    _put(proto, "role", message["role"], where)
    content = message.get("content")
    if isinstance(content, list):
        proto.parts.extend(_part_to_proto(part, f"{where}.content[{i}]") for i, part in enumerate(content))
    elif content is not None:
        _put(proto, "content", content, where)
    calls = message.get("tool_calls") or ()
    proto.tool_calls.extend(
        _tool_call_to_proto(call, f"{where}.tool_calls[{i}]") for i, call in enumerate(calls)
    )
    for name in ("name", "tool_call_id", "reasoning_content"):
        if message.get(name) is not None:
            _put(proto, name, message[name], where)
    return proto


def _part_to_proto(part: dict[str, Any], where: str) -> pb.ContentPart:
    if not isinstance(part, dict) or "type" not in part:
        raise _FieldError(f"{where}: expected a content part with a type, got {_shown(part)}")
    proto = pb.ContentPart()
    _put(proto, "type", part["type"], where)
    if part.get("text") is not None:
        _put(proto, "text", part["text"], where)
    image, mime = _image_bytes(part)
    if image is not None:  # images travel as bytes on gRPC, not as base64 text
        proto.type, proto.image = "image", image
        if mime:
            proto.mime_type = mime
        part = {key: value for key, value in part.items() if key not in ("image", "image_url", "url")}
    fields = {key: value for key, value in part.items() if key not in ("type", "text")}
    if fields:
        _update(proto.fields, fields, where)
    return proto


def _put_group(message: pb.Item, group: Any, where: str) -> None:
    """A bare group id, or ``{id, size}``: a group that may arrive over several requests."""
    if isinstance(group, dict):
        _put(message, "group", group.get("id"), where)
        if group.get("size") is not None:
            _put(message, "group_size", group["size"], where)
    else:
        _put(message, "group", group, where)


def _image_bytes(part: dict[str, Any]) -> tuple[bytes | None, str]:
    """The bytes of an image part given as a base64 data URL, and the MIME type the URL
    declares (bytes None: the part travels as it is, and the service decides about its
    source). Raw bytes in an item are refused as on HTTP (not JSON): the adapters make
    in-memory images data URLs first (rewardgate_client.images)."""
    if part.get("type") not in ("image", "image_url", "input_image"):
        return None, ""
    for key in ("image", "image_url", "url"):
        value = part.get(key)
        if isinstance(value, dict):
            value = value.get("url")
        if isinstance(value, str) and value[:5].lower() == "data:":
            header, _, payload = value.partition(",")
            if ";base64" in header.lower():
                try:
                    return base64.b64decode(payload, validate=True), header[5:].split(";")[0].strip()
                except ValueError:
                    pass  # not clean base64: sent as text, the service names the problem
            return None, ""
    return None, ""


def _tool_call_to_proto(call: dict[str, Any], where: str) -> pb.ToolCall:
    function = call["function"]
    proto = pb.ToolCall()
    _put(proto, "type", call.get("type") or "function", where)
    _put(proto, "name", function["name"], f"{where}.function")
    proto.arguments_json = json.dumps(function.get("arguments", {}))
    if call.get("id") is not None:
        _put(proto, "id", call["id"], where)
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
