"""Wire models of the HTTP API (v1). docs/api.md documents the same shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from rewardgate.groups.spec import MAX_GROUP_SIZE
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

    ``{"type": "text", "text": ...}`` carries text; any other type (``image``,
    ``image_url``, ``input_audio``, ...) is kept with its other fields (e.g.
    ``image_url: {"url": ...}``), which enter the cache key but are not shown
    to text-only models, rules and judges.
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


class GroupRef(RequestModel):
    """The sample's group: its id, and how many samples the group has in all."""

    id: str = Field(min_length=1, max_length=256, description="Group id, shared by the group's samples.")
    size: int | None = Field(
        None,
        ge=1,
        le=MAX_GROUP_SIZE,
        description="Samples in the whole group; with it a group may arrive over several requests "
        "and is scored once all are in (docs/groups.md).",
    )


class ScoreItem(RequestModel):
    id: str | None = Field(None, description="Caller's id, echoed back; defaults to the index.")
    prompt: str | list[ChatMessage] = Field(
        "", description="Prompt text, or chat messages before the response."
    )
    response: str = Field(description="The model output to score.")
    reference: str | None = Field(
        None, description="Gold answer / reference text / tests, for rules and similarity."
    )
    group: str | GroupRef | None = Field(
        None,
        description="The sample's group (GRPO siblings): an id, or {id, size}; read by group-relative "
        "transforms and group components.",
    )
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form task metadata.")


class ScoreOptions(RequestModel):
    return_components: bool = Field(True, description="Include per-component scores.")
    deadline_ms: int | None = Field(
        None, gt=0, description="Time budget for the whole request; server default if absent."
    )
    cache: bool = Field(True, description="Read and write the score cache.")
    explain: bool = Field(
        False, description="Return, per item, the tree of components, transforms and arithmetic."
    )
    return_steps: bool = Field(False, description="Return per-step rewards and deltas of process components.")
    weights: dict[str, float] | None = Field(
        None,
        description="Per-request combine weights for named components (e.g. a direction over the heads "
        "of a multi-objective model); unnamed components keep the pipeline's weights.",
    )


class ScoreRequest(PlainJsonRequest, RequestModel):
    pipeline: str = Field(description="Name of a declared pipeline (GET /v1/pipelines).")
    items: list[ScoreItem] = Field(min_length=1)
    options: ScoreOptions = Field(default_factory=ScoreOptions)


class ItemError(BaseModel):
    type: str = Field(description="Error type, e.g. timeout, verifier_timeout, backend_unavailable.")
    message: str
    retryable: bool


class StepRewards(BaseModel):
    rewards: list[float] = Field(description="Score of each step, in order.")
    deltas: list[float] = Field(description="d_k = s_k - s_(k+1), last d_K = s_K (sum telescopes to s_1).")


class Explanation(BaseModel):
    name: str | None = Field(None, description="Component (or 'reward') this node computes.")
    op: str = Field(description="Operation: a source, transform, ensemble, gate, combine, constraint...")
    value: float
    formula: str = Field("", description="The arithmetic with its actual numbers.")
    inputs: list[Explanation] = Field(default_factory=list)


class ScoreResult(BaseModel):
    id: str
    reward: float | None = Field(description="Null whenever status is 'error'; never a stand-in 0.")
    status: Literal["ok", "partial", "error"]
    components: dict[str, float] | None = Field(
        None,
        description="Score per pipeline component after its transforms (omitted if "
        "return_components=false); routed sub-pipeline components appear as ROUTE.COMPONENT.",
    )
    errors: dict[str, ItemError] = Field(default_factory=dict)
    cached: list[str] = Field(default_factory=list, description="Components served from cache.")
    steps: dict[str, StepRewards] | None = Field(
        None, description="Per-step rewards of process components (options.return_steps)."
    )
    explanation: Explanation | None = Field(
        None, description="How the reward was computed (options.explain)."
    )


class Usage(BaseModel):
    items: int
    cache_hits: int = Field(description="Component values served from the cache.")
    model_tokens: int = Field(description="Tokens run through models for this request.")
    judge_tokens: int = 0


class ScoreResponse(BaseModel):
    pipeline: str
    pipeline_hash: str
    results: list[ScoreResult]
    usage: Usage
    versions: dict[str, str] = Field(description="Identity of every model and rule used.")


class ErrorBody(BaseModel):
    type: str
    message: str
    retryable: bool


class ErrorResponse(BaseModel):
    error: ErrorBody


class ComponentInfo(BaseModel):
    kind: Literal["model", "rule", "judge", "ensemble", "route", "group"]
    source: str | None = Field(
        description="'model:NAME', 'rule:NAME' or 'judge:NAME' (a tournament's judge); null for ensembles, "
        "routes and the other group components."
    )
    head: int | str
    required: bool
    weight: float
    transforms: list[str] = Field(default_factory=list, description="Transform types, in order.")


class PipelineInfo(BaseModel):
    name: str
    description: str
    hash: str
    ready: bool
    components: dict[str, ComponentInfo]


class ComparePair(RequestModel):
    id: str | None = Field(None, description="Caller's id, echoed back; defaults to the index.")
    prompt: str | list[ChatMessage] = Field("", description="The prompt both responses answer.")
    response_a: str
    response_b: str
    reference: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class CompareOptions(RequestModel):
    deadline_ms: int | None = Field(None, gt=0, description="Time budget for the whole request.")
    cache: bool = True
    beta: float = Field(
        1.0, gt=0, description="Scale of the reward difference: P = sigmoid(beta (r_a - r_b))."
    )
    explain: bool = False
    return_components: bool = True


class CompareRequest(PlainJsonRequest, RequestModel):
    pipeline: str
    pairs: list[ComparePair] = Field(min_length=1)
    options: CompareOptions = Field(default_factory=CompareOptions)


class CompareResult(BaseModel):
    id: str
    probability: float | None = Field(description="P(a preferred to b); null when either side failed.")
    status: Literal["ok", "partial", "error"]
    a: ScoreResult
    b: ScoreResult


class CompareResponse(BaseModel):
    pipeline: str
    pipeline_hash: str
    results: list[CompareResult]
    usage: Usage


class PipelinesResponse(BaseModel):
    pipelines: list[PipelineInfo]


class HealthResponse(BaseModel):
    status: Literal["ok", "ready", "not_ready", "broken"]
    detail: dict[str, str] = Field(default_factory=dict)


class OpenRLHFRewardRequest(PlainJsonRequest, BaseModel):
    """OpenRLHF remote reward model request (``--remote_rm_url``)."""

    model_config = ConfigDict(extra="allow")

    query: list[str] = Field(description="Prompt + response text per sample.")
    prompts: list[str] | None = Field(None, description="Prompt text per sample.")
    labels: list[Any] | None = Field(
        None, description="Reference per sample, read as on /slime/reward (docs/rules.md#labels)."
    )


class SlimeRewardRequest(PlainJsonRequest, BaseModel):
    """slime ``remote_rm`` sample (``--rm-url``); extra keys are ignored."""

    model_config = ConfigDict(extra="allow")

    prompt: str | list[ChatMessage] = Field("", description="The sample's prompt (text or chat messages).")
    response: str = Field(description="The generated response.")
    label: Any = Field(
        None,
        description="The reference: text as written, numbers in decimal, a dict by its answer key, "
        "structured data as JSON; a list of several plain values is ambiguous (422) (docs/rules.md#labels).",
    )
    metadata: Any = Field(None, description="Sample metadata (a mapping), used for routing.")


class OpenRLHFRewardResponse(BaseModel):
    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]
