"""Typed exceptions mirroring the server's error types (docs/api.md).

Every failure of a call raises a :class:`RewardgateError` subclass chosen by
the server's ``error.type`` (HTTP envelope or gRPC status details), so code
can catch ``Overloaded`` or ``InvalidInput`` regardless of the transport.
"""

from __future__ import annotations


class RewardgateError(Exception):
    """Base class: ``error_type``, ``retryable``, ``retry_after_s`` (server hint)."""

    error_type = "internal"
    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None, retry_after_s: float | None = None):
        super().__init__(message)
        self.message = message
        if retryable is not None:
            self.retryable = retryable
        self.retry_after_s = retry_after_s


class InvalidInput(RewardgateError):
    error_type = "invalid_input"


class PayloadTooLarge(RewardgateError):
    error_type = "payload_too_large"


class PipelineNotFound(RewardgateError):
    error_type = "pipeline_not_found"


class Unauthenticated(RewardgateError):
    error_type = "unauthenticated"


class Overloaded(RewardgateError):
    error_type = "overloaded"
    retryable = True


class ServiceNotReady(RewardgateError):
    error_type = "not_ready"
    retryable = True


class BackendUnavailable(RewardgateError):
    error_type = "backend_unavailable"
    retryable = True


class DeadlineExceeded(RewardgateError):
    """The server's deadline passed, or the client's per-call deadline did."""

    error_type = "deadline_exceeded"
    retryable = True


class ConnectionFailed(RewardgateError):
    """The service could not be reached or the connection broke (retryable)."""

    error_type = "connection_failed"
    retryable = True


class ItemFailed(RewardgateError):
    """A single-sample route (OpenRLHF, slime) failed for its item."""

    error_type = "item_failed"


_BY_TYPE = {
    cls.error_type: cls
    for cls in (
        InvalidInput,
        PayloadTooLarge,
        PipelineNotFound,
        Unauthenticated,
        Overloaded,
        ServiceNotReady,
        BackendUnavailable,
        DeadlineExceeded,
        ConnectionFailed,
    )
}


def error_from(
    error_type: str, message: str, retryable: bool | None = None, retry_after_s: float | None = None
) -> RewardgateError:
    """The exception for a server error type (unknown types keep their name)."""
    cls = _BY_TYPE.get(error_type)
    if cls is None:
        error = ItemFailed(message, retryable=bool(retryable), retry_after_s=retry_after_s)
        error.error_type = error_type
        return error
    return cls(message, retryable=retryable, retry_after_s=retry_after_s)
