"""YAML shape of a judge (``judges.NAME`` in the pipeline file)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from rewardgate.strict import StrictModel

JudgeKind = Literal["pointwise", "pairwise", "principle", "constraint", "correctness"]


class RetrySpec(StrictModel):
    attempts: int = Field(3, ge=1, le=20, description="Tries per call, the first included.")
    wait_initial_s: float = Field(0.2, ge=0, description="First backoff (doubles per retry, jittered).")
    wait_max_s: float = Field(5.0, gt=0, description="Cap on one backoff, and on an honoured Retry-After.")


class BreakerSpec(StrictModel):
    failures: int = Field(5, ge=1, description="Consecutive failed calls that open the breaker.")
    reset_s: float = Field(10.0, gt=0, description="Open time before one probe call is let through.")


class JudgeSpec(StrictModel):
    """One judge: an OpenAI-compatible endpoint, a kind, and its safety limits."""

    kind: JudgeKind = Field(description="What the judge is asked; see docs/judges.md.")
    base_url: str = Field(description="OpenAI-compatible API root, e.g. http://vllm:8000/v1.")
    model: str = Field(description="Model name sent in each request.")
    api_key_env: str | None = Field(None, description="Environment variable holding the API key.")
    api_key_file: str | None = Field(None, description="File holding the API key (first line).")
    template: str | None = Field(
        None, description="User-message template replacing the kind's default (same variables)."
    )
    system: str | None = Field(None, description="System message replacing the kind's default.")
    scale: tuple[int, int] = Field((1, 10), description="pointwise/principle: lowest and highest score.")
    constraint: str | None = Field(None, description="constraint: the rule the response must satisfy.")
    principle_field: str = Field(
        "principle", description="principle: metadata key of the item holding the principle."
    )
    output: Literal["auto", "json", "pattern"] = Field(
        "auto",
        description="json: ask for a JSON object (response_format); pattern: parse text; auto: JSON, "
        "switching to pattern for good if the server rejects response_format.",
    )
    pattern: str | None = Field(None, description="Pattern mode: regex whose group 1 is the answer.")
    vision: bool = Field(
        True,
        exclude_if=lambda value: value is True,  # pipeline hashes stay as they were when unset
        description="The judge sees images: an item's images are sent as image_url parts. false: a "
        "text-only judge; image items are the per-item error invalid_component_input.",
    )
    logprobs: bool = Field(
        False, description="Ask for top_logprobs and use the probability-weighted expected score."
    )
    top_logprobs: int = Field(10, ge=1, le=20)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_tokens: int = Field(512, gt=0)
    seed: int | None = None
    timeout_s: float = Field(60.0, gt=0, description="Longest single call (the request deadline may cut it).")
    max_concurrency: int = Field(16, ge=1, description="Calls open at once (bulkhead).")
    requests_per_minute: float | None = Field(None, gt=0, description="Request budget; unset = unlimited.")
    tokens_per_minute: float | None = Field(
        None, gt=0, description="Token budget (prompt estimate + max_tokens per call); unset = unlimited."
    )
    retry: RetrySpec = Field(default_factory=RetrySpec)
    breaker: BreakerSpec = Field(default_factory=BreakerSpec)

    @model_validator(mode="after")
    def _kind_requirements(self) -> JudgeSpec:
        if self.scale[0] >= self.scale[1]:
            raise ValueError("scale must be [lowest, highest] with lowest < highest")
        if self.kind == "constraint" and not self.constraint:
            raise ValueError("kind=constraint needs 'constraint' (the rule to check)")
        if self.pattern is not None:
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
            if compiled.groups < 1:
                raise ValueError("pattern needs a capturing group around the answer")
        if self.api_key_env and self.api_key_file:
            raise ValueError("give api_key_env or api_key_file, not both")
        return self


class FallbackSpec(StrictModel):
    """Cascade: ask a judge only when the rule did not decide."""

    judge: str = Field(description="A judge of this file (usually kind=correctness).")
    below: float = Field(
        1.0, description="The judge is called when the rule's value is below this, or the rule failed."
    )
