"""Device and dtype resolution shared by every runner."""

from __future__ import annotations

import torch

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(dtype: str, device: torch.device) -> torch.dtype:
    """``auto``: bfloat16 on GPU (reward models are trained in it), float32 on CPU."""
    if dtype == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return _DTYPES[dtype]


def pad_right(rows: list[list[int]], pad_id: int, device: torch.device):
    """``(input_ids, attention_mask)`` as [B, T] tensors, padded on the right.

    Right padding keeps every real token at the same position it has when the
    row is run alone, so a row's score does not depend on its batch. Built by
    :func:`rewardgate.sources.model.packing.pad` (one numpy conversion per batch).
    """
    from rewardgate.sources.model.packing import pad

    padded = pad(rows, pad_id=pad_id)
    return padded.input_ids.to(device), padded.attention_mask.to(device)
