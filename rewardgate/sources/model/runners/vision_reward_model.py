"""Vision-language reward models: an ``AutoProcessor``, a VL backbone and a linear reward head.

Directory layout (what ``rewardgate random-model --kind vision_reward_model``
writes, and what a published multimodal RM is converted to):

* the processor (``AutoProcessor``: tokenizer with its chat template, image
  processor) and the vision-language backbone loadable by ``AutoModel``
  (LLaVA, Qwen2-VL, ... : anything whose forward takes ``input_ids``,
  ``attention_mask``, ``pixel_values`` and returns ``last_hidden_state``);
* ``reward_head.safetensors``: ``weight`` ``[num_heads, hidden]`` and optional
  ``bias`` ``[num_heads]``, the value head read at the last real token (as the
  sequence-classification heads of text RMs, and the value heads of
  InternLM-XComposer2.5-Reward or Skywork-VL-Reward, pool);
* ``reward_head.json``: ``{"labels": ["head0", ...]}``, the heads' names.

Encoding (:class:`VisionEncoder`, no weights) runs the processor per item:
the prompt's canonical image parts (rewardgate/media/parts.py) become the
template's ``{"type": "image"}`` slots and their decoded pixels the
processor's images, so an item's length, the batcher's token budget, counts
the image tokens the processor expanded. Its payload (:class:`VisionRow`)
keeps the ids, the images' bytes and their pixel values: the in-process
forward reads the pixels, a Triton backend sends the bytes and Triton
recomputes the same pixels with :meth:`VisionRewardModelRunner.pixel_values`
(rewardgate/sources/model/triton/vision_model.py, docs/triton.md).
Scores are raw head outputs, one per head.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import AutoModel, AutoProcessor

from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.media.decode import open_image
from rewardgate.media.parts import data_url_bytes, is_image_part
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.runners.torch_setup import resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version

HEAD_WEIGHTS = "reward_head.safetensors"
HEAD_LABELS = "reward_head.json"


def template_messages(item: ScoringItem) -> tuple[list[dict[str, Any]], list[bytes]]:
    """The conversation for the processor's chat template, and the images in slot order.

    Raises:
        InvalidComponentInput: an image part without pixels (a placeholder).
    """
    prompt = item.prompt if isinstance(item.prompt, list) else [{"role": "user", "content": item.prompt}]
    messages, images = [], []
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if is_image_part(part):
                    if not isinstance(part.get("image"), str):
                        raise InvalidComponentInput(
                            "an image part without pixels (a placeholder) cannot be scored by a VLM"
                        )
                    images.append(data_url_bytes(part["image"]))
                    parts.append({"type": "image"})
                elif part.get("type") == "text":
                    parts.append({"type": "text", "text": part.get("text") or ""})
            content = parts
        messages.append({"role": message.get("role", "user"), "content": content or ""})
    # An image-generation response: its images first in the assistant turn, then its text.
    images.extend(data_url_bytes(url) for url in item.response_images)
    answer = [{"type": "image"} for _ in item.response_images]
    messages.append({"role": "assistant", "content": [*answer, {"type": "text", "text": item.response}]})
    return messages, images


@dataclass(frozen=True, slots=True)
class VisionRow:
    """One item's batcher payload: its token ids (image tokens expanded by the processor), its
    images' canonical bytes in slot order (what a Triton backend sends), and the processor's
    ``pixel_values`` for them (what the in-process forward uses; None without images, or when
    the encoder was asked not to keep them)."""

    ids: list[int]
    images: tuple[bytes, ...]
    pixels: torch.Tensor | None


def read_head_names(path: Path) -> list[str]:
    """The reward heads' names: ``reward_head.json`` labels, else ``head0..`` by the weight's rows
    (read from the safetensors header, no weights loaded)."""
    labels_file = path / HEAD_LABELS
    labels = json.loads(labels_file.read_text())["labels"] if labels_file.exists() else None
    if labels:
        return list(labels)
    with safe_open(str(path / HEAD_WEIGHTS), framework="pt") as weights:
        rows = weights.get_slice("weight").get_shape()[0]
    return [f"head{i}" for i in range(rows)]


class VisionEncoder:
    """The processor side of a VLM reward model (needs no weights): items -> :class:`VisionRow`.

    The gateway of a Triton-served model runs it too (``keep_pixels=False``): the token ids and
    so the batch budget are the same as in-process, and only the images' bytes travel.
    """

    reads = ("prompt", "response", "response_images")

    def __init__(self, path: str | Path, *, max_length: int = 4096, keep_pixels: bool = True) -> None:
        self.path = Path(path)
        self.max_length = max_length
        self.keep_pixels = keep_pixels
        self.processor = AutoProcessor.from_pretrained(self.path)
        self.head_names = read_head_names(self.path)

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        """Batcher work per item (per-item errors returned), its length the token count with
        the image tokens."""
        outcomes: list[WorkItem | InvalidComponentInput] = []
        for item in items:
            try:
                outcomes.append(self._encode(item))
            except InvalidComponentInput as exc:
                outcomes.append(exc)
        return outcomes

    def _encode(self, item: ScoringItem) -> WorkItem:
        messages, images = template_messages(item)
        try:
            text = self.processor.apply_chat_template(messages, tokenize=False)
            encoded = self.processor(
                text=[text], images=[open_image(data) for data in images] or None, return_tensors="pt"
            )
        except Exception as exc:  # templates and processors raise anything on what they cannot take
            raise InvalidComponentInput(f"the model's processor cannot take this item: {exc}") from None
        ids = encoded["input_ids"][0].tolist()
        if len(ids) > self.max_length:
            raise InvalidComponentInput(
                f"{len(ids)} tokens (image tokens included) exceeds this model's max_length {self.max_length}"
            )
        pixels = encoded.get("pixel_values") if self.keep_pixels else None
        return WorkItem(payload=VisionRow(ids, tuple(images), pixels), length=len(ids))


class VisionRewardModelRunner:
    """Processor, backbone and head: encode per item, batched forward passes."""

    reads = VisionEncoder.reads

    def __init__(
        self, path: str | Path, *, device: str = "auto", dtype: str = "auto", max_length: int = 4096
    ):
        self.path = Path(path)
        self.encoder = VisionEncoder(self.path, max_length=max_length)
        self.processor = self.encoder.processor
        self.head_names = self.encoder.head_names
        self.device = resolve_device(device)
        self.model = AutoModel.from_pretrained(self.path, dtype=resolve_dtype(dtype, self.device)).to(
            self.device
        )
        self.model.eval()
        head = load_file(self.path / HEAD_WEIGHTS)
        self.head_weight = head["weight"].to(self.device, self.model.dtype)
        self.head_bias = head.get("bias")
        if self.head_bias is not None:
            self.head_bias = self.head_bias.to(self.device, self.model.dtype)
        tokenizer = self.processor.tokenizer
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad is None:
            raise ValueError(f"{self.path}: the tokenizer has no pad or eos token to pad batches with")
        self.pad_id = int(pad)
        self.version = directory_version(self.path)
        config = self.model.config
        # The token the processor expands each image into (LLaVA: image_token_id; older: image_token_index).
        token = getattr(config, "image_token_id", None)
        self.image_token_id: int | None = (
            token if token is not None else getattr(config, "image_token_index", None)
        )

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | InvalidComponentInput]:
        """:meth:`VisionEncoder.encode_many`."""
        return self.encoder.encode_many(items)

    def pixel_values(self, images: list[bytes]) -> torch.Tensor | None:
        """The processor's ``pixel_values`` for decoded ``images`` (None for none): what the
        Triton model computes from the bytes it receives, as :meth:`VisionEncoder.encode_many`
        does in-process (the same image processor and settings)."""
        if not images:
            return None
        return self.processor.image_processor(
            images=[open_image(data) for data in images], return_tensors="pt"
        )["pixel_values"]

    def forward(self, batch: list[VisionRow]) -> list[list[float]]:
        """Raw head outputs, ``[len(batch)][num_heads]``, in batch order (right padding)."""
        lengths = [len(row.ids) for row in batch]
        width = max(lengths)
        input_ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for index, row in enumerate(batch):
            input_ids[index, : len(row.ids)] = torch.tensor(row.ids)
            mask[index, : len(row.ids)] = 1
        pixels = [row.pixels for row in batch if row.pixels is not None]
        inputs = {"input_ids": input_ids.to(self.device), "attention_mask": mask.to(self.device)}
        if pixels:
            # The backbone fills its image tokens in order across the batch: pixels concatenated in row order.
            inputs["pixel_values"] = torch.cat(pixels).to(self.device, self.model.dtype)
        with torch.inference_mode():
            hidden = self.model(**inputs).last_hidden_state
            last = hidden[torch.arange(len(batch)), torch.tensor(lengths) - 1]
            scores = last @ self.head_weight.T
            if self.head_bias is not None:
                scores = scores + self.head_bias
        return scores.float().cpu().tolist()
