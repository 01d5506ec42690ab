"""Where a code run happens: in this process's own cell, or in the sandbox service.

With ``REWARDGATE_SANDBOX_URL`` unset (the embedded default, ``make serve``)
the verifier process runs the session in its own bubblewrap cell. Set, the
run is sent to the sandbox pool (service.py, its own deployment) over HTTP
and the same :class:`SessionOutcome` comes back, so verdicts are reached the
same way in both places.
"""

from __future__ import annotations

import dataclasses
import os

import httpx

from rewardgate.errors import ComponentError
from rewardgate.sources.rule.sandbox.runner import SandboxLimits, SessionOutcome, run_session

_QUEUE_MARGIN_S = 30.0
_client: httpx.Client | None = None


class SandboxUnavailable(ComponentError):
    """The sandbox service could not be reached or refused the run for now; retry."""

    error_type = "sandbox_unavailable"
    retryable = True


def run_sandboxed(mode: str, source: str, payload: dict, limits: SandboxLimits) -> SessionOutcome:
    """One run, locally or in the sandbox service (``REWARDGATE_SANDBOX_URL``).

    Raises:
        SandboxError: the sandbox failed before the code ran.
        SandboxUnavailable: the sandbox service did not answer (retryable).
    """
    url = os.environ.get("REWARDGATE_SANDBOX_URL")
    if not url:
        return run_session(mode, source, payload, limits)
    return _remote(url.rstrip("/"), mode, source, payload, limits)


def _remote(url: str, mode: str, source: str, payload: dict, limits: SandboxLimits) -> SessionOutcome:
    global _client
    if _client is None:
        _client = httpx.Client(timeout=httpx.Timeout(limits.timeout_s + _QUEUE_MARGIN_S, connect=5.0))
    body = {"mode": mode, "source": source, "payload": payload, "limits": dataclasses.asdict(limits)}
    try:
        reply = _client.post(f"{url}/v1/run", json=body, timeout=limits.timeout_s + _QUEUE_MARGIN_S)
    except httpx.HTTPError as exc:
        raise SandboxUnavailable(f"the sandbox service did not answer: {type(exc).__name__}") from None
    return outcome_from_reply(reply.status_code, _json(reply))


def _json(reply: httpx.Response) -> dict:
    try:
        data = reply.json()
    except ValueError:
        data = None
    return data if isinstance(data, dict) else {}


def outcome_from_reply(status: int, data: dict) -> SessionOutcome:
    """The outcome in a sandbox service reply, or the typed error it carries."""
    from rewardgate.sources.rule.sandbox.runner import SandboxError

    if status == 200 and isinstance(data.get("outcome"), dict):
        fields = {f.name for f in dataclasses.fields(SessionOutcome)}
        return SessionOutcome(**{k: v for k, v in data["outcome"].items() if k in fields})
    error = data.get("error") if isinstance(data.get("error"), dict) else {}
    message = str(error.get("message", f"HTTP {status}"))
    if status == 422 or error.get("type") == "sandbox_error":
        raise SandboxError(f"the sandbox service: {message}")
    raise SandboxUnavailable(f"the sandbox service: {message}")
