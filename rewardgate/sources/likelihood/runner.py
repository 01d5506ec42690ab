"""A causal LM (or a policy/reference pair) scoring spans behind the dynamic batcher.

Heads, in order (``LikelihoodSpec.heads``):

* one model: ``logp``, the span's reduced log-probability;
* a pair (``reference_model``): ``log_ratio`` = ``beta * (logp - ref_logp)``,
  then ``logp`` and ``ref_logp``. Both models run on the same padded batch
  (one batch shape, one token budget), so their numbers line up token for
  token; they must share the tokenizer (checked when loading).

With ``reduce: per_step`` a row gives one value per step instead (the
log-ratio's per-step sums for a pair: the implicit process reward).
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardgate.errors import ComponentError
from rewardgate.hashing import canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.sources.likelihood.logprobs import reduce, span_logprobs
from rewardgate.sources.likelihood.spans import SpanEncoder, SpanRow
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.runners.torch_setup import resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.spec import ModelSpec


def load_causal_lm(path: str | Path, device: torch.device, dtype: str):
    model = AutoModelForCausalLM.from_pretrained(path, dtype=resolve_dtype(dtype, device)).to(device)
    model.eval()
    return model


class LikelihoodRunner:
    """Tokenises items into span rows and runs batched log-probability passes."""

    def __init__(
        self,
        path: str | Path,
        spec: LikelihoodSpec,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 4096,
        use_chat_template: bool = True,
    ) -> None:
        self.path = Path(path)
        self.spec = spec
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.encoder = SpanEncoder(
            self.tokenizer, spec, max_length=max_length, use_chat_template=use_chat_template
        )
        self.device = resolve_device(device)
        self.model = load_causal_lm(self.path, self.device, dtype)
        self.reference = None
        versions = [directory_version(self.path)]
        if spec.reference_model:
            reference_tokenizer = AutoTokenizer.from_pretrained(spec.reference_model)
            if reference_tokenizer.get_vocab() != self.tokenizer.get_vocab():
                raise ValueError(
                    f"{spec.reference_model}: the reference model's tokenizer differs from {self.path}'s; "
                    "a log-ratio needs both models to score the same tokens"
                )
            self.reference = load_causal_lm(spec.reference_model, self.device, dtype)
            versions.append(directory_version(spec.reference_model))
        pad = self.tokenizer.pad_token_id
        pad = self.tokenizer.eos_token_id if pad is None else pad
        # Padding sits after every real token and is masked out: any id works when none is declared.
        self.pad_id = 0 if pad is None else int(pad)
        self.head_names = spec.heads
        # The span, reduction and pair change every number: they are part of the identity.
        settings = canonical_sha256(
            [spec.model_dump(mode="json"), max_length, self.encoder.use_chat_template]
        )
        self.version = "+".join(versions) + "+" + settings[:16]

    @classmethod
    def from_spec(cls, spec: ModelSpec) -> LikelihoodRunner:
        return cls(
            spec.path,
            spec.likelihood or LikelihoodSpec(),
            device=spec.device,
            dtype=spec.dtype,
            max_length=spec.max_length,
            use_chat_template=spec.use_chat_template,
        )

    @property
    def reads(self) -> tuple[str, ...]:
        return self.encoder.reads

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        return self.encoder.encode_many(items)

    def token_logprobs(self, rows: list[SpanRow]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Per row, the span's token log-probabilities under the model and the reference model (or None)."""
        policy = span_logprobs(self.model, rows, self.pad_id, self.device)
        if self.reference is None:
            return [(values, None) for values in policy]
        reference = span_logprobs(self.reference, rows, self.pad_id, self.device)
        return list(zip(policy, reference, strict=True))

    def forward(self, batch: list[SpanRow]) -> list[list[float]]:
        """One list per row: the heads' values, or one value per step (reduce=per_step)."""
        how, beta = self.spec.reduce, self.spec.beta
        out = []
        for row, (logp, ref_logp) in zip(batch, self.token_logprobs(batch), strict=True):
            if ref_logp is None:
                out.append(reduce(logp, how, row.steps))
                continue
            mine, theirs = reduce(logp, how, row.steps), reduce(ref_logp, how, row.steps)
            ratio = [beta * (a - b) for a, b in zip(mine, theirs, strict=True)]
            out.append(ratio if how == "per_step" else [ratio[0], mine[0], theirs[0]])
        return out
