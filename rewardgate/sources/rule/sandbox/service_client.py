"""Where a code run happens: in this process's own cell, or in the sandbox service.

With ``REWARDGATE_SANDBOX_URL`` unset (the embedded default, ``make serve``)
a verifier process runs the session in its own bubblewrap cell
(runner.run_session). Set, the gateway sends each run to the sandbox service
(rewardgate/sandbox_service/, its own deployment) straight from its event
loop, :func:`run_remote`: waiting on the network holds no verifier process,
the caller's deadline travels with the run (``deadline_ms``), and a
cancelled request closes its connection, on which the service kills the run.
The same :class:`SessionReport` comes back, so verdicts are reached the
same way in both places.

Errors: what the service reports for a run (a sandbox failure, a killed run)
is the same typed error as locally; a service that cannot be reached,
refuses the run for now (full queue, not ready) or cannot start it before the
deadline is ``sandbox_unavailable``, retryable.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time

import httpx

from rewardgate.errors import ComponentError, VerifierError, VerifierTimeout, VerifierUnavailable
from rewardgate.sources.rule.sandbox.runner import (
    SandboxError,
    SandboxKilled,
    SandboxLimits,
    SessionReport,
)

#: Waiting in the service's queue on top of the run's own budget, when the caller set no deadline.
QUEUE_MARGIN_S = 30.0
_CONNECT_TIMEOUT_S = 5.0
#: Per-run failures the service reports, as the errors a local run raises.
_REPORTED = (SandboxError, SandboxKilled, VerifierTimeout, VerifierError, VerifierUnavailable)
_FAILURES: dict[str, type[ComponentError]] = {cls.error_type: cls for cls in _REPORTED}
_clients: dict[asyncio.AbstractEventLoop, httpx.AsyncClient] = {}


class SandboxUnavailable(ComponentError):
    """The sandbox service was unreachable, refused the run for now or could not run it in time; retry."""

    error_type = "sandbox_unavailable"
    retryable = True


def sandbox_url() -> str | None:
    """The sandbox service's base URL (``REWARDGATE_SANDBOX_URL``), None for the embedded cells."""
    url = os.environ.get("REWARDGATE_SANDBOX_URL", "").strip()
    return url.rstrip("/") or None


async def run_remote(
    mode: str, source: str, payload: dict, limits: SandboxLimits, deadline: float | None = None
) -> SessionReport:
    """One run in the sandbox service; ``deadline`` (``time.monotonic()``) bounds waiting and running.

    Raises:
        SandboxUnavailable: the service was unreachable, full, not ready, or the deadline passed (retry).
        SandboxError, SandboxKilled, VerifierTimeout, VerifierError, VerifierUnavailable: as reported
            by the service for this run.
    """
    url = sandbox_url()
    if url is None:
        raise SandboxError("no sandbox service is configured (REWARDGATE_SANDBOX_URL)")
    remaining = limits.timeout_s + QUEUE_MARGIN_S if deadline is None else deadline - time.monotonic()
    if remaining <= 0:
        raise SandboxUnavailable("the deadline passed before the run was sent")
    body = {
        "mode": mode,
        "source": source,
        "payload": payload,
        "limits": dataclasses.asdict(limits),
        "deadline_ms": int(remaining * 1000),
    }
    reply = await _post(f"{url}/v1/run", body, remaining)
    return report_from_reply(reply.status_code, _json(reply))


async def _post(url: str, body: dict, remaining: float) -> httpx.Response:
    client = _client()
    timeout = httpx.Timeout(remaining + 1.0, connect=min(_CONNECT_TIMEOUT_S, remaining))
    for attempt in range(2):
        try:
            return await client.post(url, json=body, timeout=timeout)
        except httpx.ConnectError as exc:  # nothing was sent: one more try on a fresh connection
            if attempt:
                raise SandboxUnavailable(f"the sandbox service is unreachable: {exc}") from None
        except httpx.HTTPError as exc:
            raise SandboxUnavailable(f"the sandbox service did not answer: {type(exc).__name__}") from None
    raise AssertionError("unreachable")  # pragma: no cover


def _client() -> httpx.AsyncClient:
    """One connection pool per event loop (a client cannot move between loops)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None:
        for stale in [other for other in _clients if other.is_closed()]:
            del _clients[stale]
        limits = httpx.Limits(max_connections=1024, max_keepalive_connections=256)
        client = _clients[loop] = httpx.AsyncClient(limits=limits)
    return client


def _json(reply: httpx.Response) -> dict:
    try:
        data = reply.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def report_from_reply(status: int, data: dict) -> SessionReport:
    """The session report in a sandbox service reply, or the typed error it carries."""
    if status == 200 and isinstance(data.get("outcome"), dict):
        fields = {f.name for f in dataclasses.fields(SessionReport)}
        return SessionReport(**{k: v for k, v in data["outcome"].items() if k in fields})
    if status == 200 and isinstance(data.get("failure"), dict):
        failure = data["failure"]
        error = _FAILURES.get(str(failure.get("type")), SandboxError)
        raise error(f"the sandbox service: {failure.get('message', '')}")
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    message = f"the sandbox service: {error.get('message', f'HTTP {status}')}"
    if status == 422:  # this service sent a run the sandbox service cannot read: not the response's fault
        raise SandboxError(message)
    raise SandboxUnavailable(message)
