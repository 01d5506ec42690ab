"""Triton backend: tokenise in the gateway, one gRPC inference per gateway batch.

* ``tritonclient.grpc.aio``; ``client_timeout`` and Triton's own queue timeout
  derive from the batch deadline, so an expired request is dropped by Triton
  too.
* Errors become typed rewardgate errors: ``UNAVAILABLE`` (server down, queue
  full, queue timeout) -> :class:`BackendUnavailable` (retryable 503);
  ``DEADLINE_EXCEEDED`` -> :class:`DeadlineExceeded` (504);
  ``INVALID_ARGUMENT`` -> :class:`InvalidComponentInput` (422-class, per item);
  anything else -> :class:`BackendError`.
* Readiness follows Triton's model readiness, polled in the background, and
  drops at once when a batch fails with ``UNAVAILABLE``; the gRPC channel
  reconnects with a short backoff, so the gateway recovers by itself when
  Triton restarts.
* Requests are packed (``token_ids`` / ``token_lengths``: every sequence end
  to end, no padding on the wire) when the model's config declares those
  inputs (``rewardgate triton-repo`` writes them); a repository written
  before them gets the padded ``input_ids`` / ``lengths`` form.
* The model version comes from the ``rewardgate_version`` parameter that
  ``rewardgate triton-repo`` writes (a hash of the served weights), re-read
  whenever the model becomes ready again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import numpy as np
import tritonclient.grpc.aio as triton
from tritonclient.utils import InferenceServerException

from rewardgate.errors import (
    BackendError,
    BackendUnavailable,
    ComponentError,
    DeadlineExceeded,
    InvalidComponentInput,
    RewardgateError,
    ServiceNotReady,
)
from rewardgate.items import ScoringItem
from rewardgate.sources.model.backends.base import ModelBackend
from rewardgate.sources.model.backends.coalescing import CoalescingEncoder
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.packing import flatten
from rewardgate.sources.model.runners.reward_model import RewardModelEncoder
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.spec import ModelSpec
from rewardgate.sources.model.triton import (
    INPUT_IDS,
    LENGTHS,
    PACKED_IDS,
    PACKED_LENGTHS,
    PACKED_REWARDS,
    REWARDS,
)

log = logging.getLogger(__name__)

_MESSAGE_BYTES = 256 * 1024 * 1024
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", _MESSAGE_BYTES),
    ("grpc.max_receive_message_length", _MESSAGE_BYTES),
    # gRPC's default reconnect backoff grows to 120 s; a restarted Triton
    # should be found again within about a second.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]


def translate_error(exc: InferenceServerException) -> RewardgateError:
    """Map a Triton client error to the rewardgate error it means."""
    status = str(exc.status() or "")
    message = f"triton: {exc.message()}"
    if (
        status.endswith("UNAVAILABLE")
        or status.endswith("CANCELLED")
        or status.endswith("RESOURCE_EXHAUSTED")
    ):
        return BackendUnavailable(message)
    if status.endswith("DEADLINE_EXCEEDED"):
        return DeadlineExceeded(message)
    if status.endswith("INVALID_ARGUMENT"):
        return InvalidComponentInput(message)
    return BackendError(f"{message} ({status or 'no status'})")


class TritonBackend(ModelBackend):
    def __init__(self, name: str, spec: ModelSpec, health_interval_s: float = 1.0) -> None:
        self.name = name
        self.spec = spec
        self._model = spec.triton_model
        self._health_interval_s = health_interval_s
        self._encoder: RewardModelEncoder | None = None
        self._coalescer: CoalescingEncoder | None = None  # created once the encoder exists
        self._client: triton.InferenceServerClient | None = None
        self._ready = False
        self._version: str | None = None
        self._health_task: asyncio.Task | None = None
        self._last_problem: str | None = None
        self._packed_wire = False  # read from the model's config when it becomes ready

    async def load(self) -> None:
        self._encoder = await asyncio.to_thread(
            RewardModelEncoder,
            self.spec.path,
            max_length=self.spec.max_length,
            use_chat_template=self.spec.use_chat_template,
        )
        self._local_version = await asyncio.to_thread(directory_version, self.spec.path)
        self._client = triton.InferenceServerClient(self.spec.triton_url, channel_args=_CHANNEL_ARGS)
        await self.refresh()
        self._health_task = asyncio.create_task(self._watch(), name=f"triton-health:{self.name}")

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval_s)
            await self.refresh()

    async def refresh(self) -> None:
        """Poll Triton's model readiness (and the model version on becoming ready)."""
        try:
            ready = await self._client.is_model_ready(self._model, client_timeout=2.0)
            if ready and not self._ready:
                await self._read_model_config()
        except (InferenceServerException, OSError, TimeoutError) as exc:
            ready = False
            log.debug("triton model %s not ready: %s", self._model, exc)
        except (RewardgateError, ComponentError) as exc:
            ready = False
            if exc.message != self._last_problem:  # polled every second: say it once
                log.error("triton model %s is unusable: %s", self._model, exc.message)
            self._last_problem = exc.message
        if ready != self._ready:
            log.info("triton model %s is %s", self._model, "ready" if ready else "not ready")
        self._ready = ready

    async def _read_model_config(self) -> None:
        config = (await self._client.get_model_config(self._model, as_json=True, client_timeout=2.0))[
            "config"
        ]
        max_batch = int(config.get("max_batch_size", 0))
        if max_batch < self.spec.batching.max_batch_items:
            raise BackendError(
                f"Triton's max_batch_size {max_batch} is below batching.max_batch_items "
                f"{self.spec.batching.max_batch_items}"
            )
        served = {tensor.get("name") for tensor in config.get("input", [])}
        packed = {PACKED_IDS, PACKED_LENGTHS}  # optional: the padding-free request form
        if not set(self.inputs) <= served or served - set(self.inputs) - packed:
            # Another kind's model (a VLM's images, a likelihood's starts) would fail every batch
            # with INVALID_ARGUMENT, blamed on the caller's items: stay not ready instead.
            raise BackendError(
                f"Triton model {self._model!r} takes inputs {sorted(served - packed)}, not "
                f"{sorted(self.inputs)} (for kind {self.spec.kind}: "
                f"rewardgate triton-repo --kind {self.spec.kind})"
            )
        self._packed_wire = packed <= served
        parameters = config.get("parameters", {})
        self._version = parameters.get("rewardgate_version", {}).get("string_value") or self._local_version

    #: The tensors every request sends: the served model must take exactly these.
    inputs: tuple[str, ...] = (INPUT_IDS, LENGTHS)

    def is_ready(self) -> bool:
        return self._ready and self._encoder is not None

    @property
    def encoder(self) -> RewardModelEncoder:
        if self._encoder is None:
            raise ServiceNotReady(f"model {self.name!r} is still loading")
        return self._encoder

    @property
    def version(self) -> str:
        return self._version or self._local_version

    @property
    def head_names(self) -> list[str]:
        return self.encoder.head_names

    @property
    def reads(self) -> tuple[str, ...]:
        return RewardModelEncoder.reads

    async def encode(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        if self._coalescer is None:
            self._coalescer = CoalescingEncoder(self.encoder.encode_many, self.name)
        return await self._coalescer.encode(items)

    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed before the batch reached Triton")
        inputs, output = request_tensors(payloads, packed=self._packed_wire)
        result = await self._call_triton(inputs, [output], remaining)
        rewards = result.as_numpy(output)
        if rewards is not None and output == PACKED_REWARDS:
            heads = len(self.head_names)
            rewards = rewards.reshape(-1, heads) if rewards.size == len(payloads) * heads else None
        if rewards is None or rewards.ndim != 2 or rewards.shape[0] != len(payloads):
            shape = None if rewards is None else rewards.shape
            raise BackendError(f"triton returned rewards of shape {shape} for {len(payloads)} items")
        return rewards.astype(np.float64).tolist()

    async def _call_triton(self, inputs: list, outputs: list[str], remaining_s: float):
        """One inference of this backend's model asking for ``outputs``, bounded by ``remaining_s``
        on both sides (the client's wait and Triton's own timeout); Triton's errors raised as
        this service's (:func:`translate_error`). An unavailable model marks the backend not
        ready, so it fails fast until the health poll sees the model ready again."""
        try:
            return await self._client.infer(
                self._model,
                inputs,
                outputs=[triton.InferRequestedOutput(name) for name in outputs],
                client_timeout=remaining_s,
                timeout=int(remaining_s * 1_000_000),
            )
        except InferenceServerException as exc:
            error = translate_error(exc)
            if isinstance(error, BackendUnavailable):
                self._ready = False
            raise error from exc

    async def close(self) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._health_task
        if self._client is not None:
            await self._client.close()
        if self._coalescer is not None:
            self._coalescer.close()


def request_tensors(rows: list[list[int]], *, packed: bool) -> tuple[list, str]:
    """The inputs of one inference for ``rows`` and the output to ask for.

    ``packed``: ``token_ids [1, total]`` (every row end to end, not one pad
    token) and ``token_lengths [1, B]``; the model splits them with the same
    :func:`~rewardgate.sources.model.packing.unflatten`. Otherwise the padded
    form for repositories without those inputs.
    """
    if packed:
        ids, lengths = flatten(rows)
        names, arrays, output = (PACKED_IDS, PACKED_LENGTHS), (ids[None, :], lengths[None, :]), PACKED_REWARDS
    else:
        names, arrays, output = (INPUT_IDS, LENGTHS), pad_batch(rows), REWARDS
    inputs = []
    for name, array in zip(names, arrays, strict=True):
        tensor = triton.InferInput(name, list(array.shape), "INT64")
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    return inputs, output


def pad_batch(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """``(input_ids [B, T] zero-padded, lengths [B, 1])``; the model drops the padding."""
    lengths = np.array([[len(row)] for row in rows], dtype=np.int64)
    ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row)] = row
    return ids, lengths
