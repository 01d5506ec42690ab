from google.protobuf import any_pb2 as _any_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChatMessage(_message.Message):
    __slots__ = ("role", "content", "parts", "tool_calls", "name", "tool_call_id", "reasoning_content")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    PARTS_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALL_ID_FIELD_NUMBER: _ClassVar[int]
    REASONING_CONTENT_FIELD_NUMBER: _ClassVar[int]
    role: str
    content: str
    parts: _containers.RepeatedCompositeFieldContainer[ContentPart]
    tool_calls: _containers.RepeatedCompositeFieldContainer[ToolCall]
    name: str
    tool_call_id: str
    reasoning_content: str
    def __init__(self, role: _Optional[str] = ..., content: _Optional[str] = ..., parts: _Optional[_Iterable[_Union[ContentPart, _Mapping]]] = ..., tool_calls: _Optional[_Iterable[_Union[ToolCall, _Mapping]]] = ..., name: _Optional[str] = ..., tool_call_id: _Optional[str] = ..., reasoning_content: _Optional[str] = ...) -> None: ...

class ContentPart(_message.Message):
    __slots__ = ("type", "text", "fields", "image", "mime_type")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MIME_TYPE_FIELD_NUMBER: _ClassVar[int]
    type: str
    text: str
    fields: _struct_pb2.Struct
    image: bytes
    mime_type: str
    def __init__(self, type: _Optional[str] = ..., text: _Optional[str] = ..., fields: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., image: _Optional[bytes] = ..., mime_type: _Optional[str] = ...) -> None: ...

class ToolCall(_message.Message):
    __slots__ = ("id", "type", "name", "arguments_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ARGUMENTS_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    type: str
    name: str
    arguments_json: str
    def __init__(self, id: _Optional[str] = ..., type: _Optional[str] = ..., name: _Optional[str] = ..., arguments_json: _Optional[str] = ...) -> None: ...

class Item(_message.Message):
    __slots__ = ("id", "prompt", "messages", "response", "reference", "group", "metadata", "response_images", "group_size")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_IMAGES_FIELD_NUMBER: _ClassVar[int]
    GROUP_SIZE_FIELD_NUMBER: _ClassVar[int]
    id: str
    prompt: str
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    response: str
    reference: str
    group: str
    metadata: _struct_pb2.Struct
    response_images: _containers.RepeatedScalarFieldContainer[bytes]
    group_size: int
    def __init__(self, id: _Optional[str] = ..., prompt: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., response: _Optional[str] = ..., reference: _Optional[str] = ..., group: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., response_images: _Optional[_Iterable[bytes]] = ..., group_size: _Optional[int] = ...) -> None: ...

class ScoreOptions(_message.Message):
    __slots__ = ("return_components", "deadline_ms", "cache", "explain", "return_steps", "weights")
    class WeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    RETURN_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    RETURN_STEPS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    return_components: bool
    deadline_ms: int
    cache: bool
    explain: bool
    return_steps: bool
    weights: _containers.ScalarMap[str, float]
    def __init__(self, return_components: _Optional[bool] = ..., deadline_ms: _Optional[int] = ..., cache: _Optional[bool] = ..., explain: _Optional[bool] = ..., return_steps: _Optional[bool] = ..., weights: _Optional[_Mapping[str, float]] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("pipeline", "items", "options")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    items: _containers.RepeatedCompositeFieldContainer[Item]
    options: ScoreOptions
    def __init__(self, pipeline: _Optional[str] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ..., options: _Optional[_Union[ScoreOptions, _Mapping]] = ...) -> None: ...

class ItemError(_message.Message):
    __slots__ = ("type", "message", "retryable")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    retryable: bool
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ...) -> None: ...

class StepRewards(_message.Message):
    __slots__ = ("rewards", "deltas")
    REWARDS_FIELD_NUMBER: _ClassVar[int]
    DELTAS_FIELD_NUMBER: _ClassVar[int]
    rewards: _containers.RepeatedScalarFieldContainer[float]
    deltas: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, rewards: _Optional[_Iterable[float]] = ..., deltas: _Optional[_Iterable[float]] = ...) -> None: ...

class Result(_message.Message):
    __slots__ = ("id", "reward", "status", "components", "errors", "cached", "steps", "explanation")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ErrorsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ItemError
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ItemError, _Mapping]] = ...) -> None: ...
    class StepsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: StepRewards
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[StepRewards, _Mapping]] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    REWARD_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    id: str
    reward: float
    status: str
    components: _containers.ScalarMap[str, float]
    errors: _containers.MessageMap[str, ItemError]
    cached: _containers.RepeatedScalarFieldContainer[str]
    steps: _containers.MessageMap[str, StepRewards]
    explanation: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., reward: _Optional[float] = ..., status: _Optional[str] = ..., components: _Optional[_Mapping[str, float]] = ..., errors: _Optional[_Mapping[str, ItemError]] = ..., cached: _Optional[_Iterable[str]] = ..., steps: _Optional[_Mapping[str, StepRewards]] = ..., explanation: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("items", "cache_hits", "model_tokens", "judge_tokens")
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CACHE_HITS_FIELD_NUMBER: _ClassVar[int]
    MODEL_TOKENS_FIELD_NUMBER: _ClassVar[int]
    JUDGE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    items: int
    cache_hits: int
    model_tokens: int
    judge_tokens: int
    def __init__(self, items: _Optional[int] = ..., cache_hits: _Optional[int] = ..., model_tokens: _Optional[int] = ..., judge_tokens: _Optional[int] = ...) -> None: ...

class ScoreResponse(_message.Message):
    __slots__ = ("pipeline", "pipeline_hash", "results", "usage", "versions")
    class VersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_HASH_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_hash: str
    results: _containers.RepeatedCompositeFieldContainer[Result]
    usage: Usage
    versions: _containers.ScalarMap[str, str]
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_hash: _Optional[str] = ..., results: _Optional[_Iterable[_Union[Result, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., versions: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ErrorDetail(_message.Message):
    __slots__ = ("type", "message", "retryable", "retry_after_s")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_S_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    retryable: bool
    retry_after_s: float
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., retryable: _Optional[bool] = ..., retry_after_s: _Optional[float] = ...) -> None: ...

class RpcStatus(_message.Message):
    __slots__ = ("code", "message", "details")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    details: _containers.RepeatedCompositeFieldContainer[_any_pb2.Any]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., details: _Optional[_Iterable[_Union[_any_pb2.Any, _Mapping]]] = ...) -> None: ...

class StreamRequest(_message.Message):
    __slots__ = ("pipeline", "item", "options", "items")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    ITEM_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    item: Item
    options: ScoreOptions
    items: _containers.RepeatedCompositeFieldContainer[Item]
    def __init__(self, pipeline: _Optional[str] = ..., item: _Optional[_Union[Item, _Mapping]] = ..., options: _Optional[_Union[ScoreOptions, _Mapping]] = ..., items: _Optional[_Iterable[_Union[Item, _Mapping]]] = ...) -> None: ...

class StreamResult(_message.Message):
    __slots__ = ("id", "result", "error", "pipeline_hash", "batch")
    ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_HASH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    id: str
    result: Result
    error: ErrorDetail
    pipeline_hash: str
    batch: _containers.RepeatedCompositeFieldContainer[StreamResult]
    def __init__(self, id: _Optional[str] = ..., result: _Optional[_Union[Result, _Mapping]] = ..., error: _Optional[_Union[ErrorDetail, _Mapping]] = ..., pipeline_hash: _Optional[str] = ..., batch: _Optional[_Iterable[_Union[StreamResult, _Mapping]]] = ...) -> None: ...

class ComparePair(_message.Message):
    __slots__ = ("id", "prompt", "messages", "response_a", "response_b", "reference", "metadata")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_A_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_B_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    id: str
    prompt: str
    messages: _containers.RepeatedCompositeFieldContainer[ChatMessage]
    response_a: str
    response_b: str
    reference: str
    metadata: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., prompt: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[ChatMessage, _Mapping]]] = ..., response_a: _Optional[str] = ..., response_b: _Optional[str] = ..., reference: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class CompareOptions(_message.Message):
    __slots__ = ("deadline_ms", "cache", "beta", "explain", "return_components")
    DEADLINE_MS_FIELD_NUMBER: _ClassVar[int]
    CACHE_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    RETURN_COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    deadline_ms: int
    cache: bool
    beta: float
    explain: bool
    return_components: bool
    def __init__(self, deadline_ms: _Optional[int] = ..., cache: _Optional[bool] = ..., beta: _Optional[float] = ..., explain: _Optional[bool] = ..., return_components: _Optional[bool] = ...) -> None: ...

class CompareRequest(_message.Message):
    __slots__ = ("pipeline", "pairs", "options")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PAIRS_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pairs: _containers.RepeatedCompositeFieldContainer[ComparePair]
    options: CompareOptions
    def __init__(self, pipeline: _Optional[str] = ..., pairs: _Optional[_Iterable[_Union[ComparePair, _Mapping]]] = ..., options: _Optional[_Union[CompareOptions, _Mapping]] = ...) -> None: ...

class CompareResult(_message.Message):
    __slots__ = ("id", "probability", "status", "a", "b")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    A_FIELD_NUMBER: _ClassVar[int]
    B_FIELD_NUMBER: _ClassVar[int]
    id: str
    probability: float
    status: str
    a: Result
    b: Result
    def __init__(self, id: _Optional[str] = ..., probability: _Optional[float] = ..., status: _Optional[str] = ..., a: _Optional[_Union[Result, _Mapping]] = ..., b: _Optional[_Union[Result, _Mapping]] = ...) -> None: ...

class CompareResponse(_message.Message):
    __slots__ = ("pipeline", "pipeline_hash", "results", "usage")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_HASH_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_hash: str
    results: _containers.RepeatedCompositeFieldContainer[CompareResult]
    usage: Usage
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_hash: _Optional[str] = ..., results: _Optional[_Iterable[_Union[CompareResult, _Mapping]]] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ...) -> None: ...

class ListPipelinesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ComponentInfo(_message.Message):
    __slots__ = ("kind", "source", "head", "required", "weight", "transforms", "group_relative")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    TRANSFORMS_FIELD_NUMBER: _ClassVar[int]
    GROUP_RELATIVE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    source: str
    head: str
    required: bool
    weight: float
    transforms: _containers.RepeatedScalarFieldContainer[str]
    group_relative: bool
    def __init__(self, kind: _Optional[str] = ..., source: _Optional[str] = ..., head: _Optional[str] = ..., required: _Optional[bool] = ..., weight: _Optional[float] = ..., transforms: _Optional[_Iterable[str]] = ..., group_relative: _Optional[bool] = ...) -> None: ...

class PipelineInfo(_message.Message):
    __slots__ = ("name", "description", "hash", "ready", "components")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: ComponentInfo
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[ComponentInfo, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    hash: str
    ready: bool
    components: _containers.MessageMap[str, ComponentInfo]
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., hash: _Optional[str] = ..., ready: _Optional[bool] = ..., components: _Optional[_Mapping[str, ComponentInfo]] = ...) -> None: ...

class ListPipelinesResponse(_message.Message):
    __slots__ = ("pipelines",)
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedCompositeFieldContainer[PipelineInfo]
    def __init__(self, pipelines: _Optional[_Iterable[_Union[PipelineInfo, _Mapping]]] = ...) -> None: ...
