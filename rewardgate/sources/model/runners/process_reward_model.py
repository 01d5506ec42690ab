"""Process reward models: Hugging Face token classifiers read at step ends.

The response's steps (split by the pipeline component) are joined with the
model's ``step_separator`` after every step, formatted like a reward-model
input (chat template when there is one), and run once; each step's score is
read at the last token of the separator that follows it. With two or more
labels the score is the softmax probability of ``step_label`` (default: the
last label, the "good step" class of two-label PRMs); with one label it is
the raw logit.

Pick a separator that tokenises on its own (a special token such as
``<extra_0>`` is exact); a separator merged into a token with the next step's
first characters lets that token see a little of the next step.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import AutoModelForTokenClassification, AutoTokenizer

from rewardgate.errors import InvalidComponentInput
from rewardgate.hashing import canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.packing import (
    PackedRows,
    base_hidden_states,
    choose_layout,
    head_of,
    layout_rows,
)
from rewardgate.sources.model.runners.torch_setup import resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.text_only import image_refusal, with_response_images

log = logging.getLogger(__name__)


class ProcessRewardModelRunner:
    """Tokenises stepwise items and runs batched token-classification forwards."""

    reads = with_response_images(("prompt", "steps"))
    head_names = ["step"]

    def __init__(
        self,
        path: str | Path,
        *,
        step_separator: str,
        step_label: int | None = None,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 4096,
        use_chat_template: bool = True,
        layout: str = "auto",
        pack_row_tokens: int = 4096,
    ) -> None:
        """``layout`` / ``pack_row_tokens``: as for the reward-model runner."""
        self.path = Path(path)
        self.separator = step_separator
        self.max_length = max_length
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        if not self.tokenizer.is_fast:
            raise ValueError(f"{self.path}: a process reward model needs a fast tokenizer (offsets)")
        self.use_chat_template = use_chat_template and bool(self.tokenizer.chat_template)
        self.device = resolve_device(device)
        self.model = AutoModelForTokenClassification.from_pretrained(
            self.path, dtype=resolve_dtype(dtype, self.device)
        ).to(self.device)
        self.model.eval()
        labels = self.model.config.num_labels
        self.label = labels - 1 if step_label is None else step_label
        if not 0 <= self.label < labels:
            raise ValueError(f"step_label {step_label} out of range (model has {labels} labels)")
        pad = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        if pad is None:
            raise ValueError(f"{self.path}: the tokenizer has no pad or eos token to pad batches with")
        self.pad_id = int(pad)
        # The separator and label change every step score: they are part of the identity.
        settings = canonical_sha256([step_separator, self.label])[:16]
        self.version = f"{directory_version(self.path)}+{settings}"
        self.layout = choose_layout(
            self.model, layout, pad_id=self.pad_id, row_tokens=max(pack_row_tokens, max_length)
        )
        log.info(
            "process reward model %s: %s batches (%s)",
            self.path,
            "packed" if self.layout.packed else "padded",
            self.layout.reason,
        )

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        return [self._encode(item) for item in items]

    def _encode(self, item: ScoringItem) -> WorkItem | InvalidComponentInput:
        refusal = image_refusal(item, self.reads, "process_reward_model")
        if refusal is not None:
            return refusal
        if not item.steps:
            return InvalidComponentInput("a process reward model needs the response split into steps")
        response = "".join(step + self.separator for step in item.steps)
        if self.use_chat_template:
            messages = [*item.messages()[:-1], {"role": "assistant", "content": response}]
            try:
                text = self.tokenizer.apply_chat_template(messages, tokenize=False)
            except Exception as exc:  # templates raise anything (jinja2 errors, raise_exception)
                return InvalidComponentInput(
                    f"the model's chat template cannot render this conversation: {exc}"
                )
            special = False
        else:
            text = item.prompt_text() + response
            special = True
        start = text.rfind(response)
        if start < 0:
            return InvalidComponentInput("the chat template altered the response; steps cannot be located")
        ends, offset = [], start
        for step in item.steps:
            offset += len(step) + len(self.separator)
            ends.append(offset - 1)  # last character of the separator after this step
        encoding = self.tokenizer(text, add_special_tokens=special, return_offsets_mapping=True)
        ids, spans = encoding["input_ids"], encoding["offset_mapping"]
        if len(ids) > self.max_length:
            return InvalidComponentInput(
                f"{len(ids)} tokens exceeds this model's max_length {self.max_length}"
            )
        positions = [_token_at(spans, char) for char in ends]
        if None in positions:
            return InvalidComponentInput("a step separator could not be located among the tokens")
        return WorkItem(payload=(ids, positions), length=len(ids))

    @staticmethod
    def probe_payload(ids: list[int]) -> tuple[list[int], list[int]]:
        """Batch work for token ids, one step ending at the last token (memory calibration)."""
        return ids, [len(ids) - 1]

    def prepare(self, batch: list[tuple[list[int], list[int]]]) -> tuple[PackedRows, list[list[int]]]:
        """Host-side layout of ``batch`` plus each row's step positions (see the reward-model runner)."""
        rows = layout_rows(
            [ids for ids, _ in batch],
            packed=self.layout.packed,
            row_tokens=self.layout.row_tokens,
            pad_id=self.pad_id,
            attention_tokens=self.layout.attention_tokens,
            pin=self.device.type == "cuda",
        )
        return rows, [positions for _, positions in batch]

    def run(self, prepared: tuple[PackedRows, list[list[int]]]) -> list[list[float]]:
        """Per row, one score per step, in step order; no KV cache is kept."""
        rows, step_positions = prepared
        rows = rows.to(self.device, non_blocking=True)
        # Only the step-end tokens go through the head: gathered once for the whole batch.
        where = [rows.tokens(index, positions) for index, positions in enumerate(step_positions)]
        row_index = torch.cat([r for r, _ in where]).to(self.device)
        column_index = torch.cat([c for _, c in where]).to(self.device)
        with torch.inference_mode():
            if rows.packed:
                hidden = base_hidden_states(self.model, rows)
                logits = head_of(self.model)(hidden[row_index, column_index])
            else:
                output = self.model(
                    input_ids=rows.input_ids, attention_mask=rows.attention_mask, use_cache=False
                )
                logits = output.logits[row_index, column_index]
        logits = logits.float().cpu()
        scores = logits[:, 0] if logits.shape[-1] == 1 else torch.softmax(logits, dim=-1)[:, self.label]
        return [chunk.tolist() for chunk in torch.split(scores, [len(p) for p in step_positions])]

    def forward(self, batch: list[tuple[list[int], list[int]]]) -> list[list[float]]:
        """Per row, one score per step, in step order."""
        return self.run(self.prepare(batch))


def _token_at(spans: list[tuple[int, int]], char: int) -> int | None:
    """Index of the token whose character span covers ``char`` (last one wins)."""
    found = None
    for index, (begin, end) in enumerate(spans):
        if begin <= char < end:
            found = index
    return found
