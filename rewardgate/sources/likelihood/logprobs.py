"""Batched per-token log-probabilities of each row's span, and their reductions.

Rows are right-padded (every real token keeps the position it has alone, so
a row's numbers do not depend on its batch) and run with ``use_cache=False``
(no key/value cache is built for a single scoring pass). Only the positions
that predict span tokens are projected to the vocabulary when the model
accepts ``logits_to_keep``; the log-softmax is taken in float32 as
``logit[target] - logsumexp(logits)``, without a second vocabulary-sized tensor.
"""

from __future__ import annotations

import inspect

import torch

from rewardgate.sources.likelihood.spans import SpanRow
from rewardgate.sources.model.runners.torch_setup import pad_right


def accepts_logits_to_keep(model) -> bool:
    return "logits_to_keep" in inspect.signature(model.forward).parameters


#: On a CPU a forward pass costs about its padded token count (one row already keeps the cores
#: busy), so a batch is run as sub-batches of similar lengths whose padding stays under this share
#: of their real tokens (bench/likelihood.py: long, uneven rows ran at half the one-at-a-time rate
#: when padded together). On a GPU the batch runs as one forward.
CPU_MAX_PADDING = 0.25


def padding_chunks(lengths: list[int], max_padding: float) -> list[list[int]]:
    """Indexes of ``lengths`` grouped, longest first, so that each group's padded size
    (``rows * longest``) exceeds its real tokens by at most ``max_padding`` of them."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    chunks: list[list[int]] = []
    real = 0
    for index in order:
        if chunks and (len(chunks[-1]) + 1) * lengths[chunks[-1][0]] <= (1 + max_padding) * (
            real + lengths[index]
        ):
            chunks[-1].append(index)
            real += lengths[index]
        else:
            chunks.append([index])
            real = lengths[index]
    return chunks


def span_logprobs(model, rows: list[SpanRow], pad_id: int, device: torch.device) -> list[torch.Tensor]:
    """Per row, the float32 CPU log-probabilities of its span tokens (``ids[start:]``), in order.

    A row's numbers do not depend on the rows it runs with (right padding), so the sub-batches
    of a CPU run give the same numbers as one forward."""
    if device.type != "cpu" or len(rows) == 1:
        return _forward(model, rows, pad_id, device)
    out: list[torch.Tensor | None] = [None] * len(rows)
    for chunk in padding_chunks([len(row.ids) for row in rows], CPU_MAX_PADDING):
        for index, values in zip(
            chunk, _forward(model, [rows[i] for i in chunk], pad_id, device), strict=True
        ):
            out[index] = values
    return out  # type: ignore[return-value] - every index is in one chunk


def _forward(model, rows: list[SpanRow], pad_id: int, device: torch.device) -> list[torch.Tensor]:
    input_ids, mask = pad_right([list(row.ids) for row in rows], pad_id, device)
    # Position p predicts token p + 1: the span's predictions are [start - 1, len - 1).
    first = min(row.start for row in rows) - 1
    stop = max(len(row.ids) for row in rows) - 1
    kwargs = {"use_cache": False}
    if accepts_logits_to_keep(model):
        kwargs["logits_to_keep"] = torch.arange(first, stop, device=device)
        offset = first
    else:
        offset = 0
    with torch.inference_mode():
        logits = model(input_ids=input_ids, attention_mask=mask, **kwargs).logits
        out = []
        for index, row in enumerate(rows):
            predict = logits[index, row.start - 1 - offset : len(row.ids) - 1 - offset].float()
            targets = input_ids[index, row.start : len(row.ids)].unsqueeze(-1)
            chosen = predict.gather(-1, targets).squeeze(-1)
            out.append((chosen - torch.logsumexp(predict, dim=-1)).cpu())
    return out


def reduce(values: torch.Tensor, how: str, steps: tuple[int, ...] | None = None) -> list[float]:
    """``values`` (one row's token log-probabilities) reduced: ``[sum]``, ``[mean]``, ``[exp(sum)]``,
    ``[mean(exp)]``, or one sum per step."""
    values = values.double()  # sums of many float32 terms drift; the reduction is exact to fp64
    if how == "sum":
        return [float(values.sum())]
    if how == "mean":
        return [float(values.mean())]
    if how == "prob":
        return [float(values.sum().exp())]
    if how == "mean_prob":
        return [float(values.exp().mean())]
    if steps is None or sum(steps) != values.numel():
        raise ValueError(f"per_step needs step lengths summing to {values.numel()} tokens, got {steps}")
    return [float(part.sum()) for part in torch.split(values, list(steps))]
