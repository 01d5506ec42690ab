"""Wire models of the HTTP API (v1). docs/api.md documents the same shapes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The chat-message models live in api/messages.py, shared with the gRPC codec; kept importable here.
from rewardgate.api.messages import ChatMessage as ChatMessage
from rewardgate.api.messages import ContentPart as ContentPart
from rewardgate.api.messages import FunctionCall as FunctionCall
from rewardgate.api.messages import PlainJsonRequest as PlainJsonRequest
from rewardgate.api.messages import RequestModel as RequestModel
from rewardgate.api.messages import ToolCall as ToolCall
from rewardgate.groups.spec import MAX_GROUP_SIZE


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
    response_images: list[str] = Field(
        default_factory=list,
        description="Images the response is (image-generation rewards): data URLs or base64, "
        "checked as prompt images are (docs/api.md#images).",
    )


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
    group_relative: bool = Field(
        False,
        description="A transform compares each item with its group's mean (ref: group_mean): "
        "the whole group must be in one request.",
    )


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
