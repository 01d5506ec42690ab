"""Padding-free batches: variable-length sequences packed into a few rows.

A padded batch computes ``rows x longest`` tokens; on an RL length mix most
of them are padding. A packed batch lays sequences end to end in rows of up
to ``row_tokens`` tokens, with position ids that restart at 0 for every
sequence and no 2-D attention mask. Recent ``transformers`` reads such
position ids as packed sequences: sdpa/eager/flex get a block-diagonal causal
mask, flash-attention its variable-length kernel. Each token then attends
only to earlier tokens of its own sequence, so a sequence scores the same
packed as alone.

Whether a given model and attention implementation really isolate the
sequences is not assumed from its name: :func:`probe_isolation` checks it on
the loaded model, and a runner falls back to padded batches when it fails
(docs/configuration.md, ``batching.layout``).

Interface for every source that runs a decoder over token rows (reward and
process reward models here; likelihood and VLM sources can use the same):

* :func:`pack` -> :class:`PackedRows` (tensors plus where every sequence lies),
* :func:`pad` -> the same :class:`PackedRows` shape for the padded fallback,
* :func:`base_hidden_states` runs the model's trunk without a cache,
* :meth:`PackedRows.last_tokens` / :meth:`PackedRows.tokens` index its output.

Pure tensor work on the host: nothing here touches a device except
:meth:`PackedRows.to`, so a caller can build batch N+1 while batch N runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from rewardgate.sources.model.row_plan import LayoutWork, attention_tokens_for, choose_rows

# Attention implementations whose packed path has no T x T mask (cu_seqlens
# from the position ids): one row of every sequence costs nothing extra.
VARLEN_ATTENTION = frozenset({"flash_attention_2", "flash_attention_3", "kernels-community/flash-attn"})


@dataclass(frozen=True, slots=True)
class PackedRows:
    """Sequences laid into ``[R, C]`` rows.

    ``rows[i]`` / ``starts[i]`` / ``lengths[i]``: where sequence ``i`` lies.
    ``position_ids`` is None for a padded layout (the model numbers a padded
    row itself); ``attention_mask`` is None for a packed one (the position
    ids carry the boundaries).
    """

    input_ids: torch.Tensor
    position_ids: torch.Tensor | None
    attention_mask: torch.Tensor | None
    rows: tuple[int, ...]
    starts: tuple[int, ...]
    lengths: tuple[int, ...]

    @property
    def packed(self) -> bool:
        return self.position_ids is not None

    @property
    def computed_tokens(self) -> int:
        """Token slots the forward computes (``R x C``), padding included."""
        return self.input_ids.numel()

    @property
    def real_tokens(self) -> int:
        return sum(self.lengths)

    def work(self, *, varlen: bool) -> LayoutWork:
        """Tokens and attention entries this layout computes (``varlen``: flash-attention's
        variable-length kernel computes each sequence's causal triangle; otherwise, and always
        for a padded layout, every entry of every ``C x C`` row)."""
        rows, width = self.input_ids.shape
        causal = sum(n * (n + 1) // 2 for n in self.lengths)
        computed = causal if varlen and self.packed else rows * width * width
        return LayoutWork(self.real_tokens, self.computed_tokens, causal, computed)

    def to(self, device: torch.device, non_blocking: bool = False) -> PackedRows:
        """The same layout on ``device`` (pinned host tensors copy asynchronously on CUDA)."""

        def move(tensor: torch.Tensor | None) -> torch.Tensor | None:
            return None if tensor is None else tensor.to(device, non_blocking=non_blocking)

        return PackedRows(
            move(self.input_ids),  # type: ignore[arg-type] - never None
            move(self.position_ids),
            move(self.attention_mask),
            self.rows,
            self.starts,
            self.lengths,
        )

    def last_tokens(self, pad_id: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row, column)`` index tensors of the token each sequence is pooled at, in order.

        ``pad_id`` None: the last token. Else the last token that is not
        ``pad_id`` (the sequence's first token if all are), which is where a
        Hugging Face sequence classifier pools a padded row: a sequence that
        ends in pad ids (a template ending with an eos that is also the pad
        token, or pad-token text in a response) scores packed exactly as it
        does padded, and trailing pad ids cannot move its score. Read on the
        host tensors (call before :meth:`to`).
        """
        columns = []
        ids = self.input_ids.cpu().numpy() if pad_id is not None else None  # no copy on the host
        for row, start, n in zip(self.rows, self.starts, self.lengths, strict=True):
            offset = n - 1
            if ids is not None:
                real = np.flatnonzero(ids[row, start : start + n] != pad_id)
                offset = int(real[-1]) if real.size else 0
            columns.append(start + offset)
        return torch.tensor(self.rows, dtype=torch.long), torch.tensor(columns, dtype=torch.long)

    def tokens(self, sequence: int, offsets: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(row, column)`` index tensors of ``offsets`` (token indices within ``sequence``)."""
        start = self.starts[sequence]
        columns = torch.tensor([start + o for o in offsets], dtype=torch.long)
        return torch.full_like(columns, self.rows[sequence]), columns


def pack(
    sequences: Sequence[Sequence[int]], *, row_tokens: int, pad_id: int, attention_tokens: int | None = None
) -> PackedRows:
    """Pack ``sequences`` (token ids, each non-empty) into rows of at most ``row_tokens``.

    Which sequences share a row: :func:`~rewardgate.sources.model.row_plan.choose_rows`
    (``attention_tokens``: see there; None packs into ``row_tokens``). Rows are as
    long as the fullest one; the tail of a shorter row holds ``pad_id`` at
    positions that restart from 0, a sequence of its own that comes after every
    real token and so is never attended to.
    """
    lengths = [len(s) for s in sequences]
    if not lengths or min(lengths) < 1:
        raise ValueError("pack needs at least one sequence and no empty one")
    layout = choose_rows(lengths, row_tokens, attention_tokens)
    width = max(sum(lengths[i] for i in row) for row in layout)
    # Built as one flat list converted once by numpy (torch.tensor on a list costs ~10x
    # more per element), positions from segment starts: no per-sequence tensor op.
    flat_ids: list[int] = []
    segments: list[int] = []  # lengths of the sequences and row tails, in row-major order
    rows = [0] * len(lengths)
    starts = [0] * len(lengths)
    for r, row in enumerate(layout):
        offset = 0
        for index in sorted(row):  # the callers' order within a row: easier to read when debugging
            flat_ids.extend(sequences[index])
            segments.append(lengths[index])
            rows[index], starts[index] = r, offset
            offset += lengths[index]
        if width > offset:
            flat_ids.extend([pad_id] * (width - offset))
            segments.append(width - offset)
    sizes = np.asarray(segments, dtype=np.int64)
    segment_starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
    positions = np.arange(len(flat_ids), dtype=np.int64) - segment_starts
    ids = torch.from_numpy(np.asarray(flat_ids, dtype=np.int64)).view(len(layout), width)
    positions = torch.from_numpy(positions).view(len(layout), width)
    return PackedRows(ids, positions, None, tuple(rows), tuple(starts), tuple(lengths))


def pad(sequences: Sequence[Sequence[int]], *, pad_id: int) -> PackedRows:
    """One right-padded row per sequence (the fallback layout).

    Right padding keeps every real token at the position it has alone, so a
    row's score does not depend on its batch.
    """
    lengths = [len(s) for s in sequences]
    if not lengths or min(lengths) < 1:
        raise ValueError("pad needs at least one sequence and no empty one")
    width = max(lengths)
    ids = np.full((len(lengths), width), pad_id, dtype=np.int64)
    for r, row in enumerate(sequences):
        ids[r, : len(row)] = row
    mask = (np.arange(width)[None, :] < np.asarray(lengths)[:, None]).astype(np.int64)
    ids, mask = torch.from_numpy(ids), torch.from_numpy(mask)
    return PackedRows(ids, None, mask, tuple(range(len(lengths))), (0,) * len(lengths), tuple(lengths))


def flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(ids, lengths)``: every sequence end to end (int64 ``[total]``) and each one's length
    (int64 ``[N]``), the padding-free wire form (:func:`unflatten` reads it back)."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    ids = np.fromiter((t for s in sequences for t in s), dtype=np.int64, count=int(lengths.sum()))
    return ids, lengths


def unflatten(ids: np.ndarray, lengths: np.ndarray) -> list[list[int]]:
    """The sequences :func:`flatten` wrote.

    Raises:
        ValueError: not one-dimensional, no sequence, a length below 1, or
            lengths that do not add up to the ids (a malformed request: its
            own error, never a guess at where sequences lie).
    """
    if ids.ndim != 1 or lengths.ndim != 1:
        raise ValueError(f"expected flat ids and lengths, got shapes {ids.shape} and {lengths.shape}")
    if lengths.size == 0 or int(lengths.min()) < 1:
        raise ValueError("every sequence needs at least one token")
    if int(lengths.sum()) != ids.size:
        raise ValueError(f"lengths add up to {int(lengths.sum())} tokens, the ids hold {ids.size}")
    flat = ids.tolist()
    ends = np.cumsum(lengths).tolist()
    return [flat[end - n : end] for end, n in zip(ends, lengths.tolist(), strict=True)]


def layout_rows(
    sequences: Sequence[Sequence[int]],
    *,
    packed: bool,
    row_tokens: int,
    pad_id: int,
    attention_tokens: int | None = None,
    pin: bool = False,
) -> PackedRows:
    """:func:`pack` or :func:`pad`; ``pin``: page-locked host memory (for async copies to CUDA)."""
    if packed:
        rows = pack(sequences, row_tokens=row_tokens, pad_id=pad_id, attention_tokens=attention_tokens)
    else:
        rows = pad(sequences, pad_id=pad_id)
    if not pin:
        return rows
    return PackedRows(
        rows.input_ids.pin_memory(),
        None if rows.position_ids is None else rows.position_ids.pin_memory(),
        None if rows.attention_mask is None else rows.attention_mask.pin_memory(),
        rows.rows,
        rows.starts,
        rows.lengths,
    )


def row_tokens_for(model, configured: int) -> tuple[int, int | None]:
    """``(row_tokens, attention_tokens)`` for :func:`pack` on ``model``.

    Varlen attention (flash-attention) computes no masked entries: one row of
    everything. sdpa/eager build a ``C x C`` block-diagonal mask per row and
    compute every entry of it, so rows stay within ``configured`` and their
    width is weighed against one token's weight work
    (:func:`~rewardgate.sources.model.row_plan.choose_rows`), counted on the
    loaded trunk's linear layers.
    """
    implementation = getattr(model.config, "_attn_implementation", None)
    if implementation in VARLEN_ATTENTION:
        return 1 << 62, None
    config = model.config.get_text_config()
    weights = sum(
        module.weight.numel() for module in model.base_model.modules() if isinstance(module, torch.nn.Linear)
    )
    return configured, attention_tokens_for(config, weights // max(1, config.num_hidden_layers))


def base_hidden_states(model, rows: PackedRows) -> torch.Tensor:
    """The trunk's last hidden states ``[R, C, H]`` for ``rows`` (no KV cache kept).

    ``use_cache=False``: a scoring forward never decodes further, and a cache
    would hold every layer's keys and values until the forward returns.
    """
    trunk = model.base_model
    output = trunk(
        input_ids=rows.input_ids,
        attention_mask=rows.attention_mask,
        position_ids=rows.position_ids,
        use_cache=False,
    )
    return output.last_hidden_state


def head_of(model) -> torch.nn.Module | None:
    """The linear head a ``*ForSequenceClassification`` / ``*ForTokenClassification`` applies per token."""
    for name in ("score", "classifier"):
        head = getattr(model, name, None)
        if isinstance(head, torch.nn.Linear):
            return head
    return None


def packed_logits(model, rows: PackedRows, pooled: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """Head logits ``[N, labels]`` at ``pooled`` (:meth:`PackedRows.last_tokens`), as a
    sequence classifier pools."""
    hidden = base_hidden_states(model, rows)
    row_index, column_index = pooled
    head = head_of(model)
    if head is None:
        raise ValueError(f"{type(model).__name__} has no linear score head to apply to packed states")
    return head(hidden[row_index.to(hidden.device), column_index.to(hidden.device)])


def probe_isolation(model, pad_id: int, vocab_size: int, *, tolerance: float) -> str | None:
    """None when packed rows compute what one-at-a-time rows do on this model, else why not.

    Checked on the trunk's hidden states at every token of a few random
    sequences (ids avoid ``pad_id``), so it holds for any head read from them:

    * isolation: a sequence's states must not move when the sequence packed
      before it changes (masked keys add an exact zero; a leak moves them far
      more than ``min(tolerance / 10, 1e-3)``);
    * equality: packed states equal the padded forward of each sequence alone
      within ``tolerance`` relative to their scale (positions restart).
    """
    generator = torch.Generator().manual_seed(0)
    device = next(model.parameters()).device

    def sequence(length: int) -> list[int]:
        ids = torch.randint(0, max(vocab_size - 1, 1), (length,), generator=generator).tolist()
        return [i + 1 if i >= pad_id else i for i in ids]

    first, other_first, second, third = sequence(7), sequence(7), sequence(5), sequence(3)
    try:
        with torch.inference_mode():
            packed = pack([first, second, third], row_tokens=64, pad_id=pad_id)
            together = base_hidden_states(model, packed.to(device)).float().cpu()
            changed_rows = pack([other_first, second, third], row_tokens=64, pad_id=pad_id).to(device)
            changed = base_hidden_states(model, changed_rows).float().cpu()
            alone = [
                base_hidden_states(model, pad([s], pad_id=pad_id).to(device)).float().cpu()[0]
                for s in (first, second, third)
            ]
    except Exception as exc:  # an architecture whose trunk refuses these inputs
        return f"packed forward failed: {type(exc).__name__}: {exc}"
    spans = [(packed.starts[i], packed.starts[i] + packed.lengths[i]) for i in range(3)]
    scale = max(float(a.abs().max()) for a in alone) + 1e-6
    leak = max(float((together[0, b:e] - changed[0, b:e]).abs().max()) for b, e in spans[1:]) / scale
    if leak > min(tolerance / 10, 1e-3):
        return f"sequences are not isolated (a neighbour moved hidden states by {leak:.2e} of their scale)"
    error = (
        max(float((together[0, b:e] - a).abs().max()) for (b, e), a in zip(spans, alone, strict=True)) / scale
    )
    if error > tolerance:
        return f"packed hidden states differ from one-at-a-time by {error:.2e} of their scale"
    return None


# Relative error allowed between packed and one-at-a-time states: fp32 sums in
# another order differ in the last bits. Half precision keeps 8-11 bits and a
# packed row runs other GEMM shapes than a row alone, so its rounding differs
# by up to a few percent after 30+ layers; a wrong position or a leak across
# sequences moves states by the order of their scale. The isolation check
# (a neighbour's content changing) compares the same shapes, so it stays tight.
_TOLERANCE = {torch.float32: 1e-4, torch.float64: 1e-8}
_HALF_TOLERANCE = 0.1


@dataclass(frozen=True, slots=True)
class LayoutChoice:
    """What a runner batches with, and why (logged at load, shown by the bench)."""

    packed: bool
    row_tokens: int
    reason: str
    attention_tokens: int | None = None  # see row_plan.choose_rows


def choose_layout(model, requested: str, *, pad_id: int, row_tokens: int) -> LayoutChoice:
    """``requested``: ``padded``, ``packed`` (must pass the probe) or ``auto`` (packed if it passes).

    Raises:
        ValueError: ``packed`` was required and the probe failed.
    """
    if requested == "padded":
        return LayoutChoice(False, 0, "configured padded")
    if head_of(model) is None:
        problem: str | None = f"{type(model).__name__} has no linear per-token head"
    else:
        dtype = next(model.parameters()).dtype
        vocab = model.config.get_text_config().vocab_size
        problem = probe_isolation(model, pad_id, vocab, tolerance=_TOLERANCE.get(dtype, _HALF_TOLERANCE))
    if problem is None:
        rows, attention = row_tokens_for(model, row_tokens)
        return LayoutChoice(True, rows, "probe passed", attention)
    if requested == "packed":
        raise ValueError(f"batching.layout=packed is not possible for this model: {problem}")
    return LayoutChoice(False, 0, f"padded fallback: {problem}")
