"""The Triton python-backend model: ``initialize / execute / finalize``.

A model repository's ``1/model.py`` is one line that imports
:class:`TritonPythonModel` from here, so Triton runs the same
:class:`~rewardgate.sources.model.runners.reward_model.RewardModelRunner` as the in-process
backend. Only importable inside Triton's python backend stub.

Rows are laid out again as the runner batches (packed where its probe passed,
so the padding an execution batch arrives with is never computed).

Contract (docs/triton.md): ``input_ids`` INT64 ``[B, T]`` (any padding value),
``lengths`` INT64 ``[B, 1]`` (real tokens per row, 1..T) in; ``rewards`` FP32
``[B, heads]`` raw logits out. Every request of an execution batch gets its own
response; a malformed request gets its own error and does not fail the others.
"""

from __future__ import annotations

import json

import numpy as np
import torch
import triton_python_backend_utils as pb_utils

from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.triton import INPUT_IDS, LENGTHS, REWARDS
from rewardgate.sources.model.triton.stub_numpy import stub_numpy_problem


def _error(message: str, invalid_argument: bool = False):
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)


def _read_request(request) -> tuple[np.ndarray, np.ndarray]:
    """``(ids [b, T], lengths [b])``; raises ValueError for a malformed request."""
    ids = pb_utils.get_input_tensor_by_name(request, INPUT_IDS).as_numpy()
    lengths = pb_utils.get_input_tensor_by_name(request, LENGTHS).as_numpy().reshape(-1)
    if ids.ndim != 2 or lengths.shape[0] != ids.shape[0]:
        raise ValueError(
            f"expected {INPUT_IDS} [B, T] and {LENGTHS} [B, 1], got {ids.shape} and {lengths.shape}"
        )
    if lengths.size and (lengths.min() < 1 or lengths.max() > ids.shape[1]):
        raise ValueError(f"{LENGTHS} must be within 1..{ids.shape[1]}")
    return ids, lengths


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        # The numpy this stub really imported: with numpy 2 it would answer empty outputs.
        problem = stub_numpy_problem(np.__version__)
        if problem is not None:
            raise RuntimeError(problem)
        config = json.loads(args["model_config"])
        params = {key: value["string_value"] for key, value in config.get("parameters", {}).items()}
        if int(params.get("torch_threads", "0")) > 0:
            torch.set_num_threads(int(params["torch_threads"]))
        on_gpu = args.get("model_instance_kind") == "GPU"
        device = f"cuda:{args.get('model_instance_device_id', 0)}" if on_gpu else "cpu"
        # layout / pack_row_tokens: the in-process backend's batching.layout options
        # (docs/triton.md); auto packs when the load-time probe passes.
        self.runner = RewardModelRunner(
            params["model_path"],
            device=device,
            dtype=params.get("dtype", "auto"),
            layout=params.get("layout", "auto"),
            pack_row_tokens=int(params.get("pack_row_tokens", "4096")),
        )

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        valid: list[tuple[int, np.ndarray, np.ndarray]] = []
        for index, request in enumerate(requests):
            try:
                valid.append((index, *_read_request(request)))
            except ValueError as exc:
                responses[index] = _error(str(exc), invalid_argument=True)
        if valid:
            try:
                self._run(valid, responses)
            except Exception as exc:  # one failure answers every request of the batch
                for index, _, _ in valid:
                    responses[index] = _error(f"forward pass failed: {type(exc).__name__}: {exc}")
        return responses

    def _run(self, valid: list[tuple[int, np.ndarray, np.ndarray]], responses: list) -> None:
        longest = max(ids.shape[1] for _, ids, _ in valid)
        ids = np.concatenate([np.pad(ids, ((0, 0), (0, longest - ids.shape[1]))) for _, ids, _ in valid])
        lengths = np.concatenate([lengths for _, _, lengths in valid])
        logits = self.runner.forward_padded(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
        start = 0
        for index, request_ids, _ in valid:
            rows = logits[start : start + request_ids.shape[0]]
            start += request_ids.shape[0]
            responses[index] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(REWARDS, rows.astype(np.float32))]
            )

    def finalize(self) -> None:
        self.runner = None
