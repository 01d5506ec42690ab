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

import logging
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

from rewardgate.errors import InputTooLong, InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.packing import PackedRows, choose_layout, layout_rows, packed_logits
from rewardgate.sources.model.runners.token_ids import PROBE_TEXT, TokenIds
from rewardgate.sources.model.runners.torch_setup import resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.text_only import image_refusal, with_response_images

log = logging.getLogger(__name__)


def head_names_of(config) -> list[str]:
    labels = config.id2label or {}
    return [labels.get(i, f"head{i}") for i in range(config.num_labels)]


class RewardModelEncoder:
    """Formats and tokenises items for one reward model (needs no weights)."""

    reads = with_response_images(("prompt", "response"))

    def __init__(self, path: str | Path, *, max_length: int = 4096, use_chat_template: bool = True) -> None:
        self.path = Path(path)
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.use_chat_template = use_chat_template and bool(self.tokenizer.chat_template)
        self.head_names = head_names_of(AutoConfig.from_pretrained(self.path))
        # The wrapper's ids from the Rust tokenizer directly where provably the same (token_ids.py).
        self._ids = TokenIds(self.tokenizer, probes=self._template_probes())

    def _template_probes(self) -> list[str]:
        """A rendering of the chat template (its control tokens) for the direct ids' check."""
        if not self.use_chat_template:
            return []
        try:
            return [self.chat_text(ScoringItem(PROBE_TEXT, PROBE_TEXT))]
        except InvalidComponentInput:
            return []

    def token_ids(self, item: ScoringItem) -> list[int]:
        """Token ids of prompt + response (through the chat template when there is one)."""
        if self.use_chat_template:
            return self._ids([self.chat_text(item)], add_special_tokens=False)[0]
        return self._ids([item.prompt_text() + item.response], add_special_tokens=True)[0]

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
                would silently score a different text, so it is refused. An item with
                images (rewardgate/sources/model/text_only.py).
        """
        refusal = image_refusal(item, self.reads, "reward_model")
        if refusal is not None:
            raise refusal
        return self._work(self.token_ids(item))

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        """:meth:`encode` for many items with one tokenizer call (per-item errors returned)."""
        outcomes: list[WorkItem | InvalidComponentInput | None] = [None] * len(items)
        texts: list[str] = []
        placed: list[int] = []
        for index, item in enumerate(items):
            refusal = image_refusal(item, self.reads, "reward_model")
            if refusal is not None:
                outcomes[index] = refusal
                continue
            try:
                texts.append(
                    self.chat_text(item) if self.use_chat_template else item.prompt_text() + item.response
                )
                placed.append(index)
            except InvalidComponentInput as exc:
                outcomes[index] = exc
        rows = self._ids(texts, add_special_tokens=not self.use_chat_template)
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
        layout: str = "auto",
        pack_row_tokens: int = 4096,
        model: torch.nn.Module | None = None,
    ) -> None:
        """``layout``: ``auto`` packs when :func:`choose_layout`'s probe passes on this
        model, ``packed`` requires it, ``padded`` never packs; ``pack_row_tokens``:
        packed row length for attention kernels that mask per row (sdpa, eager).
        ``model``: an already built sequence classifier to run instead of loading
        weights from ``path`` (bench/gpu_reward_model.py builds random weights of
        real sizes on the GPU, which never touch the disk); ``path`` still holds
        its tokenizer and config."""
        self.encoder = RewardModelEncoder(path, max_length=max_length, use_chat_template=use_chat_template)
        self.path = self.encoder.path
        self.tokenizer = self.encoder.tokenizer
        self.head_names = self.encoder.head_names
        self.device = resolve_device(device)
        if model is None:
            model = AutoModelForSequenceClassification.from_pretrained(
                self.path, dtype=resolve_dtype(dtype, self.device)
            )
        self.model = model.to(self.device)
        self.model.eval()
        self.pad_id = self._resolve_pad_id()
        self.version = directory_version(self.path)
        self.layout = choose_layout(
            self.model, layout, pad_id=self.pad_id, row_tokens=max(pack_row_tokens, max_length)
        )
        log.info(
            "reward model %s: %s batches (%s)",
            self.path,
            "packed" if self.layout.packed else "padded",
            self.layout.reason,
        )

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

    @staticmethod
    def probe_payload(ids: list[int]) -> list[int]:
        """Batch work for token ids (memory calibration's probes)."""
        return ids

    def prepare(self, batch: list[list[int]]) -> PackedRows:
        """Host-side layout of ``batch`` (packed or padded), pinned when the model is on CUDA.

        Separate from :meth:`run` so the backend can lay out batch N+1 while
        batch N runs.
        """
        return layout_rows(
            batch,
            packed=self.layout.packed,
            row_tokens=self.layout.row_tokens,
            pad_id=self.pad_id,
            attention_tokens=self.layout.attention_tokens,
            pin=self.device.type == "cuda",
        )

    def run(self, rows: PackedRows) -> list[list[float]]:
        """Raw logits, ``[len(batch)][num_heads]``, in batch order, for prepared rows."""
        return self.run_tensors(rows).tolist()

    def forward(self, batch: list[list[int]]) -> list[list[float]]:
        """Raw logits, ``[len(batch)][num_heads]``, in batch order."""
        return self.run(self.prepare(batch))

    def forward_padded(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits for ``[B, T]`` ids whose row ``i`` is real up to ``lengths[i]``.

        Whatever the caller padded with is dropped, so padding is never scored;
        the rows are laid out again as this runner batches (packed or padded).
        """
        rows = [row[:n].tolist() for row, n in zip(input_ids, lengths.reshape(-1).tolist(), strict=True)]
        return self.run_tensors(self.prepare(rows))

    def run_tensors(self, rows: PackedRows) -> torch.Tensor:
        """Raw logits as a float32 CPU tensor ``[N, num_heads]``; no KV cache is kept."""
        # Where each sequence is pooled: read on the host before the copy (no device sync).
        pooled = rows.last_tokens(self.pad_id) if rows.packed else None
        rows = rows.to(self.device, non_blocking=True)
        with torch.inference_mode():
            if pooled is not None:
                logits = packed_logits(self.model, rows, pooled)
            else:
                logits = self.model(
                    input_ids=rows.input_ids, attention_mask=rows.attention_mask, use_cache=False
                ).logits
        return logits.float().cpu()
