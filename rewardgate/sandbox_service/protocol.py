"""What the sandbox service reads and writes (``POST /v1/run``).

Request (``RunRequest``): ``mode`` (``tests``, ``calls`` or ``stdio``),
``source`` (the response's code), ``payload`` (what the session gets after
the code: the tests, the calls or the stdio inputs, never expected outputs),
``limits`` (the code rule's limits, bounded as the rule's parameters are) and
``deadline_ms`` (time the caller still waits, optional).

Replies, one JSON object each:

* 200 ``{"outcome": {...}}``: the run's :class:`SessionReport`, from which the
  gateway reaches the verdict as it would for a local run;
* 200 ``{"failure": {"type", "message", "retryable"}}``: the run failed as the
  sandbox (``sandbox_error``, ``sandbox_killed``, ``verifier_*``), as locally;
* otherwise the error envelope ``{"error": {"type", "message", "retryable"}}``:
  413 ``payload_too_large``, 422 ``invalid_input``, 429 ``overloaded`` (a full
  queue; ``Retry-After``), 503 ``not_ready`` or ``draining``, 504
  ``deadline_exceeded`` (the run could not finish before ``deadline_ms``),
  404/405.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field


class RunLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout_s: float = Field(gt=0, le=300)
    memory_mb: int = Field(ge=64, le=65536)
    output_kb: int = Field(ge=1, le=1 << 20)
    processes: int = Field(ge=1, le=4096)
    tmpfs_mb: int = Field(ge=1, le=4096)


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    mode: Literal["tests", "calls", "stdio"]
    source: str
    payload: dict[str, Any]
    limits: RunLimits
    deadline_ms: int | None = Field(None, gt=0)


def error_body(error_type: str, message: str, retryable: bool) -> bytes:
    return orjson.dumps({"error": {"type": error_type, "message": message, "retryable": retryable}})
