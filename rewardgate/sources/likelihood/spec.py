"""The ``likelihood:`` block of a ``kind: likelihood`` model (docs/configuration.md).

Only plain settings live here (no torch), so the pipeline-file schema can
import it cheaply.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rewardgate.strict import StrictModel


class LikelihoodSpec(StrictModel):
    """What a likelihood model scores and how the token log-probabilities are reduced."""

    span: Literal["reference", "response"] = Field(
        "reference",
        description="reference: log p(reference | prompt, response) with the reference appended after "
        "the response (VeriFree/RLPR); response: log p(response | prompt) (DPO-style, implicit PRM).",
    )
    reduce: Literal["mean", "sum", "prob", "mean_prob", "per_step"] = Field(
        "mean",
        description="mean or sum of the span's token log-probabilities; prob: exp(sum), the span's "
        "probability (VeriFree); mean_prob: the mean token probability (RLPR); per_step: one sum per "
        "step of the response (span=response, the component needs steps).",
    )
    separator: str = Field(
        "\n", description="span=reference: text between the response and the appended reference."
    )
    reasoning_end: str | None = Field(
        None,
        min_length=1,
        description="span=reference: keep the response only up to and including the first "
        "occurrence of this marker (e.g. '</think>'), dropping the response's own answer; a "
        "response without it is an invalid_component_input error.",
    )
    reference_in_context: Literal["error", "allow"] = Field(
        "error",
        description="span=reference: a response whose kept part already states the reference "
        "(as a whole word, case and spacing ignored) is an error (the model would copy it), or allow.",
    )
    reference_model: str | None = Field(
        None,
        description="Directory of a reference model with the same tokenizer: both run on the same "
        "batch and the heads become log_ratio, logp, ref_logp.",
    )
    beta: float = Field(1.0, gt=0, description="Scale of log_ratio = beta * (logp - ref_logp).")
    truncation: Literal["error", "left"] = Field(
        "error",
        description="Input longer than max_length: error, or drop the oldest context tokens "
        "(never the scored span; a span that alone does not fit is an error).",
    )
    step_separator: str = Field(
        "\n\n",
        min_length=1,
        description="reduce=per_step: text after each step when the response is rebuilt from its "
        "steps; its tokens count towards the step they follow.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> LikelihoodSpec:
        if self.reduce == "per_step" and self.span != "response":
            raise ValueError("reduce=per_step scores the response's steps: it needs span=response")
        if self.reference_model and self.reduce in ("prob", "mean_prob"):
            raise ValueError("a log-ratio needs log-probabilities: use reduce mean, sum or per_step")
        if self.reasoning_end is not None and self.span != "reference":
            raise ValueError("reasoning_end applies to span=reference")
        return self

    @property
    def heads(self) -> list[str]:
        """Output heads, in order: a pair's log-ratio first, so head 0 is the reward."""
        return ["log_ratio", "logp", "ref_logp"] if self.reference_model else ["logp"]
