"""Hugging Face sequence-classification reward models.

Two halves, so tokenisation stays in the gateway while the forward pass runs
in-process or on Triton:

* :class:`RewardModelEncoder` (tokenizer only): item -> token ids;
* :class:`RewardModelRunner` (encoder + weights): batched forward pass.

The Triton python model (rewardgate/sources/model/triton/python_model.py) uses the same runner,
so both backends compute the same numbers. Scores are raw logits (no sigmoid
or softmax), one value per output head.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from rewardgate.errors import InputTooLong, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.runners.torch_setup import pad_right, resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version


def head_names_of(config) -> list[str]:
    labels = config.id2label or {}
    return [labels.get(i, f"head{i}") for i in range(config.num_labels)]


class RewardModelEncoder:
    """Formats and tokenises items for one reward model (needs no weights)."""

    reads = ("prompt", "response")

    def __init__(self, path: str | Path, *, max_length: int = 4096, use_chat_template: bool = True) -> None:
        self.path = Path(path)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.use_chat_template = use_chat_template and bool(self.tokenizer.chat_template)
        self.head_names = head_names_of(AutoConfig.from_pretrained(self.path))

    def token_ids(self, item: ScoringItem) -> list[int]:
        """Token ids of prompt + response (through the chat template when there is one)."""
        if self.use_chat_template:
            return self.tokenizer(self.chat_text(item), add_special_tokens=False)["input_ids"]
        return self.tokenizer(item.prompt_text() + item.response)["input_ids"]

    def chat_text(self, item: ScoringItem) -> str:
        """The conversation through the model's chat template.

        Raises:
            InvalidComponentInput: the template refuses the conversation (e.g. a
                tool turn or role order it does not support); one item's
                problem, never the batch's.
        """
        try:
            return self.tokenizer.apply_chat_template(item.messages(), tokenize=False)
        except Exception as exc:  # templates raise anything (jinja2 errors, raise_exception)
            raise InvalidComponentInput(
                f"the model's chat template cannot render this conversation: {exc}"
            ) from None

    def encode(self, item: ScoringItem) -> WorkItem:
        """Batcher work for one item.

        Raises:
            InvalidComponentInput: longer than ``max_length`` tokens. Truncating
                would silently score a different text, so it is refused.
        """
        return self._work(self.token_ids(item))

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        """:meth:`encode` for many items with one tokenizer call (per-item errors returned)."""
        outcomes: list[WorkItem | InvalidComponentInput | None] = [None] * len(items)
        texts: list[str] = []
        placed: list[int] = []
        for index, item in enumerate(items):
            try:
                texts.append(
                    self.chat_text(item) if self.use_chat_template else item.prompt_text() + item.response
                )
                placed.append(index)
            except InvalidComponentInput as exc:
                outcomes[index] = exc
        rows = (
            self.tokenizer(texts, add_special_tokens=not self.use_chat_template)["input_ids"] if texts else []
        )
        for index, ids in zip(placed, rows, strict=True):
            try:
                outcomes[index] = self._work(ids)
            except InvalidComponentInput as exc:
                outcomes[index] = exc
        return outcomes  # type: ignore[return-value] - every slot is filled above

    def _work(self, ids: list[int]) -> WorkItem:
        if len(ids) > self.max_length:
            raise InputTooLong(f"{len(ids)} tokens exceeds this model's max_length {self.max_length}")
        return WorkItem(payload=ids, length=len(ids))


class RewardModelRunner:
    """Encoder plus weights: batched forward passes for one reward model."""

    reads = RewardModelEncoder.reads

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 4096,
        use_chat_template: bool = True,
    ) -> None:
        self.encoder = RewardModelEncoder(path, max_length=max_length, use_chat_template=use_chat_template)
        self.path = self.encoder.path
        self.tokenizer = self.encoder.tokenizer
        self.head_names = self.encoder.head_names
        self.device = resolve_device(device)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            self.path, dtype=resolve_dtype(dtype, self.device)
        ).to(self.device)
        self.model.eval()
        self.pad_id = self._resolve_pad_id()
        self.version = directory_version(self.path)

    @property
    def use_chat_template(self) -> bool:
        return self.encoder.use_chat_template

    def _resolve_pad_id(self) -> int:
        pad_id = self.model.config.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id
        if pad_id is None:
            raise ValueError(f"{self.path}: the model has no pad or eos token to pad batches with")
        # The HF head pools at the last non-pad token; it must know the id we pad with.
        self.model.config.pad_token_id = pad_id
        return int(pad_id)

    def token_ids(self, item: ScoringItem) -> list[int]:
        return self.encoder.token_ids(item)

    def encode(self, item: ScoringItem) -> WorkItem:
        return self.encoder.encode(item)

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        return self.encoder.encode_many(items)

    def forward(self, batch: list[list[int]]) -> list[list[float]]:
        """Raw logits, ``[len(batch)][num_heads]``, in batch order."""
        input_ids, mask = pad_right(batch, self.pad_id, self.device)
        return self.forward_tensors(input_ids, mask).tolist()

    def forward_padded(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits for ``[B, T]`` ids whose row ``i`` is real up to ``lengths[i]``.

        Whatever the caller padded with is replaced by this model's pad id and
        masked out, so padding is never scored.
        """
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0)
        mask = (positions < lengths.reshape(-1, 1)).long()
        ids = torch.where(mask.bool(), input_ids, torch.full_like(input_ids, self.pad_id))
        return self.forward_tensors(ids.to(self.device), mask.to(self.device))

    def forward_tensors(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Raw logits as a float32 CPU tensor ``[B, num_heads]`` (right-padded inputs)."""
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits.float().cpu()
