"""A ``kind: vision_reward_model`` on Triton: the processor in the gateway, images and forward on Triton.

Everything Triton-facing (client, readiness polling, deadlines, typed errors,
version from the served model's ``rewardgate_version``) is the reward-model
:class:`TritonBackend`'s. This backend encodes items with the same
:class:`VisionEncoder` as the in-process runner, so the token ids, and the
batch lengths the dynamic batcher budgets (image tokens included), are the
same on both backends; it sends the ids and each row's canonical image bytes
(``images`` BYTES ``[B, K]`` with ``image_counts``), and Triton runs the same
image processor and forward (rewardgate/sources/model/triton/vision_model.py;
why bytes and not pixel values: docs/triton.md#vision-reward-models).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import tritonclient.grpc.aio as triton

from rewardgate.errors import BackendError, DeadlineExceeded
from rewardgate.sources.model.backends.triton import _CHANNEL_ARGS, TritonBackend, pad_batch
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.runners.vision_reward_model import VisionEncoder, VisionRow
from rewardgate.sources.model.triton import IMAGE_COUNTS, IMAGES, INPUT_IDS, LENGTHS, REWARDS


class VisionTritonBackend(TritonBackend):
    inputs = (INPUT_IDS, LENGTHS, IMAGES, IMAGE_COUNTS)

    async def load(self) -> None:
        # keep_pixels=False: the processor's pixel values are recomputed on Triton from the bytes.
        self._encoder = await asyncio.to_thread(
            VisionEncoder, self.spec.path, max_length=self.spec.max_length, keep_pixels=False
        )
        self._local_version = await asyncio.to_thread(directory_version, self.spec.path)
        self._client = triton.InferenceServerClient(self.spec.triton_url, channel_args=_CHANNEL_ARGS)
        await self.refresh()
        self._health_task = asyncio.create_task(self._watch(), name=f"triton-health:{self.name}")

    @property
    def reads(self) -> tuple[str, ...]:
        return VisionEncoder.reads

    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed before the batch reached Triton")
        rows: list[VisionRow] = payloads
        ids, lengths = pad_batch([row.ids for row in rows])
        images, counts = image_batch(rows)
        inputs = [
            triton.InferInput(INPUT_IDS, list(ids.shape), "INT64"),
            triton.InferInput(LENGTHS, list(lengths.shape), "INT64"),
            triton.InferInput(IMAGES, list(images.shape), "BYTES"),
            triton.InferInput(IMAGE_COUNTS, list(counts.shape), "INT64"),
        ]
        for tensor, array in zip(inputs, (ids, lengths, images, counts), strict=True):
            tensor.set_data_from_numpy(array)
        result = await self._call_triton(inputs, [REWARDS], remaining)
        rewards = result.as_numpy(REWARDS)
        if rewards is None or rewards.ndim != 2 or rewards.shape[0] != len(rows):
            shape = None if rewards is None else rewards.shape
            raise BackendError(f"triton returned rewards of shape {shape} for {len(rows)} items")
        return rewards.astype(np.float64).tolist()


def image_batch(rows: list[VisionRow]) -> tuple[np.ndarray, np.ndarray]:
    """``(images [B, K] bytes, image_counts [B, 1])``: each row's images in slot order, padded
    with empty bytes to the batch's most images (K >= 1: Triton refuses an empty dimension)."""
    counts = np.array([[len(row.images)] for row in rows], dtype=np.int64)
    images = np.full((len(rows), max(1, int(counts.max()))), b"", dtype=np.object_)
    for index, row in enumerate(rows):
        images[index, : len(row.images)] = row.images
    return images, counts
