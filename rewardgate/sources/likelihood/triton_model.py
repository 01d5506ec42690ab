"""The Triton python-backend model of a ``kind: likelihood`` model (docs/triton.md).

The repository's ``1/model.py`` imports :class:`TritonPythonModel` from here,
so Triton runs the same forward (:func:`span_logprobs`) as the in-process
backend; the gateway keeps tokenisation, the span rules and the reduction.
Only importable inside Triton's python backend stub.

Contract: ``input_ids`` INT64 ``[B, T]`` (any padding), ``lengths`` INT64
``[B, 1]`` (real tokens, 2..T), ``starts`` INT64 ``[B, 1]`` (the span's first
token, 1..length-1) in; ``token_logprobs`` FP32 ``[B, T]`` out, column ``j``
holding ``log p(ids[j] | ids[<j])`` for ``start <= j < length`` and 0
elsewhere; with a reference model (parameter ``reference_path``) also
``ref_token_logprobs``, from the same batch. A malformed request gets its own
``INVALID_ARGUMENT`` error without failing the others.
"""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from rewardgate.sources.likelihood.logprobs import span_logprobs
from rewardgate.sources.likelihood.runner import load_causal_lm
from rewardgate.sources.likelihood.spans import SpanRow
from rewardgate.sources.likelihood.triton_repository import REF_TOKEN_LOGPROBS, STARTS, TOKEN_LOGPROBS
from rewardgate.sources.model.runners.torch_setup import resolve_device
from rewardgate.sources.model.triton import INPUT_IDS, LENGTHS
from rewardgate.sources.model.triton.model_setup import start_model


def _error(message: str):
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None)
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)


def read_rows(ids: np.ndarray, lengths: np.ndarray, starts: np.ndarray) -> list[SpanRow]:
    """The request's rows; raises ValueError for a malformed request."""
    lengths, starts = lengths.reshape(-1), starts.reshape(-1)
    if ids.ndim != 2 or not (lengths.shape[0] == starts.shape[0] == ids.shape[0]):
        raise ValueError(f"expected [B, T], [B, 1], [B, 1], got {ids.shape}, {lengths.shape}, {starts.shape}")
    rows = []
    for row, length, start in zip(ids, lengths, starts, strict=True):
        if not 1 <= start < length <= ids.shape[1]:
            raise ValueError(f"need 1 <= {STARTS} < {LENGTHS} <= {ids.shape[1]}, got {start} and {length}")
        rows.append(SpanRow(tuple(int(token) for token in row[:length]), int(start)))
    return rows


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        # Checks the stub's numpy (with numpy 2 it would answer empty outputs), applies torch_threads.
        params, device = start_model(args)
        self.device = resolve_device(device)
        dtype = params.get("dtype", "auto")
        self.model = load_causal_lm(params["model_path"], self.device, dtype)
        reference = params.get("reference_path") or ""
        self.reference = load_causal_lm(reference, self.device, dtype) if reference else None

    def execute(self, requests: list) -> list:
        responses = []
        for request in requests:  # each request is one gateway batch
            try:
                ids = pb_utils.get_input_tensor_by_name(request, INPUT_IDS).as_numpy()
                rows = read_rows(
                    ids,
                    pb_utils.get_input_tensor_by_name(request, LENGTHS).as_numpy(),
                    pb_utils.get_input_tensor_by_name(request, STARTS).as_numpy(),
                )
            except ValueError as exc:
                responses.append(_error(str(exc)))
                continue
            try:
                outputs = [pb_utils.Tensor(TOKEN_LOGPROBS, self._table(self.model, rows, ids.shape[1]))]
                if self.reference is not None:
                    table = self._table(self.reference, rows, ids.shape[1])
                    outputs.append(pb_utils.Tensor(REF_TOKEN_LOGPROBS, table))
                responses.append(pb_utils.InferenceResponse(output_tensors=outputs))
            except Exception as exc:
                responses.append(
                    pb_utils.InferenceResponse(
                        output_tensors=[],
                        error=pb_utils.TritonError(f"forward pass failed: {type(exc).__name__}: {exc}"),
                    )
                )
        return responses

    def _table(self, model, rows: list[SpanRow], width: int) -> np.ndarray:
        table = np.zeros((len(rows), width), dtype=np.float32)
        for index, (row, values) in enumerate(
            zip(rows, span_logprobs(model, rows, 0, self.device), strict=True)
        ):
            table[index, row.start : len(row.ids)] = values.numpy()
        return table

    def finalize(self) -> None:
        self.model = self.reference = None
