"""A ``kind: likelihood`` model on Triton: tokenise and reduce in the gateway, the forward on Triton.

Everything Triton-facing (client, readiness polling, deadlines, typed errors,
version from the served model's ``rewardgate_version``) is the reward-model
:class:`TritonBackend`'s; this backend encodes items with the same
:class:`SpanEncoder` as the in-process one, sends ``input_ids``, ``lengths``
and ``starts`` (one batch shape for a pair), and reduces the returned token
log-probabilities exactly as the in-process runner does, so both backends give
the same numbers (tests/integration/test_likelihood_triton.py).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import torch
import tritonclient.grpc.aio as triton

from rewardgate.errors import BackendError, DeadlineExceeded
from rewardgate.hashing import canonical_sha256
from rewardgate.sources.likelihood.logprobs import reduce
from rewardgate.sources.likelihood.spans import SpanEncoder, SpanRow
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.sources.likelihood.triton_repository import REF_TOKEN_LOGPROBS, STARTS, TOKEN_LOGPROBS
from rewardgate.sources.model.backends.triton import _CHANNEL_ARGS, TritonBackend
from rewardgate.sources.model.runners.versioning import directory_version
from rewardgate.sources.model.spec import ModelSpec
from rewardgate.sources.model.triton import INPUT_IDS, LENGTHS


def _encoder(spec: ModelSpec) -> SpanEncoder:
    from transformers import AutoTokenizer

    return SpanEncoder(
        AutoTokenizer.from_pretrained(spec.path),
        spec.likelihood or LikelihoodSpec(),
        max_length=spec.max_length,
        use_chat_template=spec.use_chat_template,
    )


class LikelihoodTritonBackend(TritonBackend):
    inputs = (INPUT_IDS, LENGTHS, STARTS)

    def __init__(self, name: str, spec: ModelSpec, health_interval_s: float = 1.0) -> None:
        super().__init__(name, spec, health_interval_s)
        self.likelihood = spec.likelihood or LikelihoodSpec()

    async def load(self) -> None:
        self._encoder = await asyncio.to_thread(_encoder, self.spec)
        self._local_version = await asyncio.to_thread(directory_version, self.spec.path)
        self._client = triton.InferenceServerClient(self.spec.triton_url, channel_args=_CHANNEL_ARGS)
        await self.refresh()
        self._health_task = asyncio.create_task(self._watch(), name=f"triton-health:{self.name}")

    async def _read_model_config(self) -> None:
        """Also: the served model has the outputs this spec reads (a pair's reference included)."""
        await super()._read_model_config()
        config = (await self._client.get_model_config(self._model, as_json=True, client_timeout=2.0))[
            "config"
        ]
        served = {output.get("name") for output in config.get("output", [])}
        missing = [name for name in self._outputs() if name not in served]
        if missing:
            raise BackendError(
                f"Triton model {self._model!r} has no {', '.join(missing)} output "
                "(a likelihood.reference_model needs a repository written with --reference-model)"
            )

    def _outputs(self) -> list[str]:
        paired = self.likelihood.reference_model is not None
        return [TOKEN_LOGPROBS, *([REF_TOKEN_LOGPROBS] if paired else [])]

    @property
    def version(self) -> str:
        # The span, reduction and pair change every number: they are part of the identity.
        settings = canonical_sha256(
            [self.likelihood.model_dump(mode="json"), self.spec.max_length, self.encoder.use_chat_template]
        )
        return f"{super().version}+{settings[:16]}"

    @property
    def head_names(self) -> list[str]:
        return self.likelihood.heads

    @property
    def reads(self) -> tuple[str, ...]:
        return self.encoder.reads

    async def infer(self, payloads: list[Any], deadline: float) -> list[list[float]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise DeadlineExceeded("deadline passed before the batch reached Triton")
        rows: list[SpanRow] = payloads
        arrays = pad_rows(rows)
        inputs = []
        for tensor, array in zip((INPUT_IDS, LENGTHS, STARTS), arrays, strict=True):
            inputs.append(triton.InferInput(tensor, list(array.shape), "INT64"))
            inputs[-1].set_data_from_numpy(array)
        wanted = self._outputs()
        result = await self._call_triton(inputs, wanted, remaining)
        tables = [result.as_numpy(name) for name in wanted]
        for name, table in zip(wanted, tables, strict=True):
            if table is None or table.shape != arrays[0].shape:
                shape = None if table is None else table.shape
                raise BackendError(
                    f"triton returned {name} of shape {shape} for a batch of {arrays[0].shape}"
                )
        return [self._reduce(index, row, tables) for index, row in enumerate(rows)]

    def _reduce(self, index: int, row: SpanRow, tables: list[np.ndarray]) -> list[float]:
        how, beta = self.likelihood.reduce, self.likelihood.beta
        spans = [torch.from_numpy(table[index, row.start : len(row.ids)].copy()) for table in tables]
        mine = reduce(spans[0], how, row.steps)
        if len(spans) == 1:
            return mine
        theirs = reduce(spans[1], how, row.steps)
        ratio = [beta * (a - b) for a, b in zip(mine, theirs, strict=True)]
        return ratio if how == "per_step" else [ratio[0], mine[0], theirs[0]]


def pad_rows(rows: list[SpanRow]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(input_ids [B, T] zero-padded, lengths [B, 1], starts [B, 1])``; the model masks the padding."""
    lengths = np.array([[len(row.ids)] for row in rows], dtype=np.int64)
    starts = np.array([[row.start] for row in rows], dtype=np.int64)
    ids = np.zeros((len(rows), int(lengths.max())), dtype=np.int64)
    for index, row in enumerate(rows):
        ids[index, : len(row.ids)] = row.ids
    return ids, lengths, starts
