"""The Triton python-backend model: ``initialize / execute / finalize``.

A model repository's ``1/model.py`` is one line that imports
:class:`TritonPythonModel` from here, so Triton runs the same
:class:`~rewardgate.sources.model.runners.reward_model.RewardModelRunner` as the in-process
backend. Only importable inside Triton's python backend stub.

Rows are laid out again as the runner batches (packed where its probe passed,
so padding is never computed, and never sent by the gateway's packed requests).

Contract (docs/triton.md), two request forms, both answered by one forward
per execution batch:

* packed (what the gateway sends): ``token_ids`` INT64 ``[1, total]`` (every
  sequence end to end, no padding) and ``token_lengths`` INT64 ``[1, B]`` in,
  ``packed_rewards`` FP32 ``[1, B x heads]`` out (sequence-major);
* padded (older clients): ``input_ids`` INT64 ``[B, T]`` (any padding value)
  and ``lengths`` INT64 ``[B, 1]`` (real tokens per row, 1..T) in,
  ``rewards`` FP32 ``[B, heads]`` out.

Scores are raw logits. Every request of an execution batch gets its own
response; a malformed request gets its own error and does not fail the others.
"""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from rewardgate.sources.model.packing import unflatten
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.triton import (
    INPUT_IDS,
    LENGTHS,
    PACKED_IDS,
    PACKED_LENGTHS,
    PACKED_REWARDS,
    REWARDS,
)
from rewardgate.sources.model.triton.model_setup import start_model


def _error(message: str, invalid_argument: bool = False):
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)


def _read_request(request, vocab_size: int) -> tuple[list[list[int]], bool]:
    """``(sequences, packed)`` of one request; raises ValueError for a malformed one (token
    ids outside the vocabulary included: they would fail the forward of every request
    batched with it)."""
    sequences, packed = _sequences(request)
    for sequence in sequences:
        if min(sequence) < 0 or max(sequence) >= vocab_size:
            raise ValueError(f"token ids must be within 0..{vocab_size - 1}")
    return sequences, packed


def _sequences(request) -> tuple[list[list[int]], bool]:
    packed_ids = pb_utils.get_input_tensor_by_name(request, PACKED_IDS)
    if packed_ids is not None:
        packed_lengths = pb_utils.get_input_tensor_by_name(request, PACKED_LENGTHS)
        if packed_lengths is None:
            raise ValueError(f"{PACKED_IDS} needs {PACKED_LENGTHS}")
        ids, lengths = packed_ids.as_numpy(), packed_lengths.as_numpy()
        if ids.ndim != 2 or ids.shape[0] != 1 or lengths.ndim != 2 or lengths.shape[0] != 1:
            raise ValueError(
                f"expected {PACKED_IDS} [1, total] and {PACKED_LENGTHS} [1, B], "
                f"got {ids.shape} and {lengths.shape}"
            )
        return unflatten(ids[0], lengths[0]), True
    padded_ids, padded_lengths = (pb_utils.get_input_tensor_by_name(request, n) for n in (INPUT_IDS, LENGTHS))
    if padded_ids is None or padded_lengths is None:
        raise ValueError(f"a request needs {PACKED_IDS} and {PACKED_LENGTHS}, or {INPUT_IDS} and {LENGTHS}")
    ids, lengths = padded_ids.as_numpy(), padded_lengths.as_numpy().reshape(-1)
    if ids.ndim != 2 or lengths.shape[0] != ids.shape[0]:
        raise ValueError(
            f"expected {INPUT_IDS} [B, T] and {LENGTHS} [B, 1], got {ids.shape} and {lengths.shape}"
        )
    if lengths.size == 0:
        raise ValueError("a request needs at least one row")
    if lengths.min() < 1 or lengths.max() > ids.shape[1]:
        raise ValueError(f"{LENGTHS} must be within 1..{ids.shape[1]}")
    # The caller's padding is dropped here: whatever value it holds is never computed.
    return [row[:n].tolist() for row, n in zip(ids, lengths.tolist(), strict=True)], False


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        # Checks the stub's numpy (with numpy 2 it would answer empty outputs), applies torch_threads.
        params, device = start_model(args)
        # layout / pack_row_tokens: the in-process backend's batching.layout options
        # (docs/triton.md); auto packs when the load-time probe passes.
        self.runner = RewardModelRunner(
            params["model_path"],
            device=device,
            dtype=params.get("dtype", "auto"),
            layout=params.get("layout", "auto"),
            pack_row_tokens=int(params.get("pack_row_tokens", "4096")),
        )

    @property
    def vocab_size(self) -> int:
        return self.runner.model.config.get_text_config().vocab_size

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        valid: list[tuple[int, list[list[int]], bool]] = []
        for index, request in enumerate(requests):
            try:
                valid.append((index, *_read_request(request, self.vocab_size)))
            except ValueError as exc:
                responses[index] = _error(str(exc), invalid_argument=True)
        if valid:
            try:
                self._run(valid, responses)
            except Exception as exc:  # one failure answers every request of the batch
                for index, _, _ in valid:
                    responses[index] = _error(f"forward pass failed: {type(exc).__name__}: {exc}")
        return responses

    def _run(self, valid: list[tuple[int, list[list[int]], bool]], responses: list) -> None:
        """Every request's sequences in one forward, laid out as the runner batches."""
        sequences = [sequence for _, request, _ in valid for sequence in request]
        logits = self.runner.run_tensors(self.runner.prepare(sequences)).numpy().astype(np.float32)
        start = 0
        for index, request, packed in valid:
            rows = logits[start : start + len(request)]
            start += len(request)
            output = (
                pb_utils.Tensor(PACKED_REWARDS, rows.reshape(1, -1))
                if packed
                else pb_utils.Tensor(REWARDS, rows)
            )
            responses[index] = pb_utils.InferenceResponse(output_tensors=[output])

    def finalize(self) -> None:
        self.runner = None
