"""The Triton python-backend model of a ``kind: vision_reward_model`` (docs/triton.md).

The repository's ``1/model.py`` imports :class:`TritonPythonModel` from here,
so Triton runs the same :class:`VisionRewardModelRunner` forward as the
in-process backend. The gateway keeps the chat template and the processor's
token expansion (so its batch budget counts image tokens); the images travel
as their canonical encoded bytes and Triton runs the image processor on them,
the same one the in-process encoder runs, giving the same ``pixel_values``.
Only importable inside Triton's python backend stub.

Contract: ``input_ids`` INT64 ``[B, T]`` (any padding), ``lengths`` INT64
``[B, 1]`` (real tokens per row, 1..T), ``images`` BYTES ``[B, K]`` (a row's
images in slot order, then anything), ``image_counts`` INT64 ``[B, 1]``
(0..K real images per row) in; ``rewards`` FP32 ``[B, heads]`` raw head
outputs out. Images are checked again under the default image limits (Triton
may have callers besides the gateway). A malformed request, undecodable image
or a request the model refuses (image tokens that do not match its images)
gets its own ``INVALID_ARGUMENT`` without failing the others of the batch.
"""

from __future__ import annotations

import numpy as np
import triton_python_backend_utils as pb_utils

from rewardgate.media.decode import ImageLimits, inspect
from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner, VisionRow
from rewardgate.sources.model.triton import IMAGE_COUNTS, IMAGES, INPUT_IDS, LENGTHS, REWARDS
from rewardgate.sources.model.triton.model_setup import start_model


def _error(message: str, invalid_argument: bool = False):
    code = getattr(pb_utils.TritonError, "INVALID_ARG", None) if invalid_argument else None
    error = pb_utils.TritonError(message, code) if code is not None else pb_utils.TritonError(message)
    return pb_utils.InferenceResponse(output_tensors=[], error=error)


def read_rows(
    ids: np.ndarray, lengths: np.ndarray, images: np.ndarray, counts: np.ndarray, limits: ImageLimits
) -> list[tuple[list[int], list[bytes]]]:
    """``(ids, image bytes)`` per row; raises ValueError for a malformed request or image."""
    lengths, counts = lengths.reshape(-1), counts.reshape(-1)
    if (
        ids.ndim != 2
        or images.ndim != 2
        or not (lengths.shape[0] == counts.shape[0] == ids.shape[0] == images.shape[0])
    ):
        raise ValueError(
            f"expected {INPUT_IDS} [B, T], {LENGTHS} [B, 1], {IMAGES} [B, K], {IMAGE_COUNTS} [B, 1]; got "
            f"{ids.shape}, {lengths.shape}, {images.shape}, {counts.shape}"
        )
    rows = []
    for index, (row, length, row_images, count) in enumerate(zip(ids, lengths, images, counts, strict=True)):
        if not 1 <= length <= ids.shape[1]:
            raise ValueError(f"row {index}: {LENGTHS} must be within 1..{ids.shape[1]}, got {length}")
        if not 0 <= count <= images.shape[1]:
            raise ValueError(f"row {index}: {IMAGE_COUNTS} must be within 0..{images.shape[1]}, got {count}")
        data = [bytes(image) for image in row_images[:count]]
        if len(data) > limits.max_images_per_item:
            raise ValueError(f"row {index}: more than {limits.max_images_per_item} images")
        for position, image in enumerate(data):
            try:
                inspect(image, limits)
            except ValueError as exc:  # ImageRejected included
                raise ValueError(f"row {index}, image {position}: {exc}") from None
        rows.append(([int(token) for token in row[:length]], data))
    return rows


class TritonPythonModel:
    def initialize(self, args: dict) -> None:
        # Checks the stub's numpy (with numpy 2 it would answer empty outputs), applies torch_threads.
        params, device = start_model(args)
        self.runner = VisionRewardModelRunner(
            params["model_path"], device=device, dtype=params.get("dtype", "auto")
        )
        self.limits = ImageLimits()

    def execute(self, requests: list) -> list:
        responses: list = [None] * len(requests)
        valid: list[tuple[int, list[VisionRow]]] = []
        for index, request in enumerate(requests):
            try:
                valid.append((index, self._rows(request)))
            except ValueError as exc:
                responses[index] = _error(str(exc), invalid_argument=True)
        if not valid:
            return responses
        try:
            self._answer(valid, responses)
        except Exception:
            # One request the model refuses must not fail the others: each alone, its own answer.
            for index, rows in valid:
                try:
                    self._answer([(index, rows)], responses)
                except ValueError as exc:  # e.g. image tokens that do not match the images
                    responses[index] = _error(f"the model refused the request: {exc}", invalid_argument=True)
                except Exception as exc:
                    responses[index] = _error(f"forward pass failed: {type(exc).__name__}: {exc}")
        return responses

    def _rows(self, request) -> list[VisionRow]:
        def tensor(name):
            return pb_utils.get_input_tensor_by_name(request, name).as_numpy()

        rows = read_rows(
            tensor(INPUT_IDS), tensor(LENGTHS), tensor(IMAGES), tensor(IMAGE_COUNTS), self.limits
        )
        token = self.runner.image_token_id
        for index, (ids, images) in enumerate(rows):
            # Without pixels the backbone would embed image tokens as text: a score of no image.
            tokens = ids.count(token) if token is not None else 0
            if bool(tokens) != bool(images):
                raise ValueError(f"row {index}: {tokens} image tokens for {len(images)} images")
        try:
            return [VisionRow(ids, tuple(images), self.runner.pixel_values(images)) for ids, images in rows]
        except Exception as exc:  # image processors raise anything on what they cannot take
            raise ValueError(f"the model's image processor cannot take an image: {exc}") from None

    def _answer(self, valid: list[tuple[int, list[VisionRow]]], responses: list) -> None:
        rewards = np.asarray(
            self.runner.forward([row for _, rows in valid for row in rows]), dtype=np.float32
        )
        start = 0
        for index, rows in valid:
            responses[index] = pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor(REWARDS, rewards[start : start + len(rows)])]
            )
            start += len(rows)

    def finalize(self) -> None:
        self.runner = None
