"""The chat-message wire models both transports validate into, and the request base models.

HTTP reads them from JSON (api/http/schemas.py builds its requests from
them); gRPC converts its protobuf messages to the same dicts and validates
them here (api/grpc/codec.py). One model, so a conversation becomes the same
``ScoringItem``, and has one cache key, whichever transport carried it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from rewardgate.plain_json import check_plain_json


class RequestModel(BaseModel):
    """Requests reject unknown fields so typos surface as 422s."""

    model_config = ConfigDict(extra="forbid")


class PlainJsonRequest:
    """Mixin of top-level requests: the raw input is checked once by
    :func:`~rewardgate.plain_json.check_plain_json` before field validation."""

    @model_validator(mode="before")
    @classmethod
    def _plain_json(cls, data: Any, info: ValidationInfo) -> Any:
        # Parsed JSON cannot hold unpaired surrogates (the parser refuses them).
        check_plain_json(data, text=info.mode != "json")
        return data


def _integral_floats_as_ints(value: Any) -> Any:
    """``2.0`` -> ``2`` inside free-form part fields: a protobuf ``Struct`` has
    only doubles, so this keeps a part identical whichever transport carried it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    return value


class ContentPart(BaseModel):
    """One typed part of a message's content (OpenAI / Hugging Face content blocks).

    ``{"type": "text", "text": ...}`` carries text. An image part (``image``,
    ``image_url``, ``input_image``) is decoded and made canonical by request
    validation (rewardgate/media/parts.py; docs/api.md#images) and reaches vision
    rules, VLM judges and VLM reward models. Any other type (``input_audio``, ...)
    is kept with its other fields, which enter the cache key but are not shown to
    models, rules and judges.
    """

    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1, max_length=64, description="Part type: text, image, image_url, ...")
    text: str | None = Field(None, description="The text of a text part.")

    @model_validator(mode="after")
    def _normalise_extras(self) -> ContentPart:
        if self.__pydantic_extra__:
            self.__pydantic_extra__ = _integral_floats_as_ints(self.__pydantic_extra__)
        return self


class FunctionCall(RequestModel):
    name: str = Field(description="The called tool's name.")
    arguments: dict[str, Any] | str = Field(
        default_factory=dict, description="Arguments: an object, or JSON text as OpenAI encodes it."
    )


class ToolCall(RequestModel):
    id: str | None = Field(None, description="The call's id, which a tool turn's tool_call_id names.")
    type: str = Field("function", description="Call type (function).")
    function: FunctionCall


class ChatMessage(RequestModel):
    """One chat turn, as OpenAI-style and Hugging Face chat datasets write it.

    ``content`` is text or a list of typed parts (text + images, as
    vision-language datasets have); ``null`` (an assistant turn that only
    calls tools) reads as ``""`` and an empty part list as ``""`` too, so
    both transports give the same message.
    """

    role: str = Field(description="Chat role (system, user, assistant, tool).")
    content: str | list[ContentPart] | None = Field(
        "", description="Text, or typed content parts (text, image, ...)."
    )
    name: str | None = Field(None, description="A tool turn's tool name (or a participant name).")
    tool_call_id: str | None = Field(None, description="The tool call a tool turn answers.")
    tool_calls: list[ToolCall] | None = Field(None, description="An assistant turn's tool calls.")
    reasoning_content: str | None = Field(None, description="An assistant turn's reasoning text.")

    @model_validator(mode="after")
    def _canonical_content(self) -> ChatMessage:
        if self.content is None or self.content == []:
            self.content = ""
        if self.tool_calls == []:
            self.tool_calls = None
        return self


def prompt_of(prompt: str | list[ChatMessage]) -> str | list[dict[str, Any]]:
    """Text as is; chat messages as plain dicts without unset fields (the one canonical form)."""
    if isinstance(prompt, str):
        return prompt
    return [message.model_dump(exclude_none=True) for message in prompt]
