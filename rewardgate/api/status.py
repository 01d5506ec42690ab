"""Request error -> HTTP status and gRPC status code: the one table of the edge.

The scorer raises request errors by meaning (rewardgate/errors.py); each
transport answers them with the status below. An error type missing here is
a 500 / INTERNAL (and a bug to fix here).
"""

from __future__ import annotations

from rewardgate.errors import (
    BackendUnavailable,
    DeadlineExceeded,
    InvalidInput,
    ItemFailed,
    Overloaded,
    PayloadTooLarge,
    PipelineNotFound,
    RewardgateError,
    ServiceNotReady,
    Unauthenticated,
)

#: error class -> (HTTP status, gRPC status code name)
STATUS: dict[type[RewardgateError], tuple[int, str]] = {
    InvalidInput: (422, "INVALID_ARGUMENT"),
    PayloadTooLarge: (413, "RESOURCE_EXHAUSTED"),
    PipelineNotFound: (404, "NOT_FOUND"),
    Unauthenticated: (401, "UNAUTHENTICATED"),
    Overloaded: (429, "RESOURCE_EXHAUSTED"),
    ServiceNotReady: (503, "UNAVAILABLE"),
    BackendUnavailable: (503, "UNAVAILABLE"),
    DeadlineExceeded: (504, "DEADLINE_EXCEEDED"),
}
_INTERNAL = (500, "INTERNAL")


def status_of(error: RewardgateError) -> tuple[int, str]:
    """(HTTP status, gRPC code name) of ``error``.

    :class:`ItemFailed` (an item failed in a protocol that can only fail whole
    requests) takes its status from the item's failure: retryable -> 503 /
    UNAVAILABLE, so the trainer retries; otherwise 422 / FAILED_PRECONDITION.
    """
    if isinstance(error, ItemFailed):
        return (503, "UNAVAILABLE") if error.retryable else (422, "FAILED_PRECONDITION")
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return _INTERNAL


def http_status(error: RewardgateError) -> int:
    return status_of(error)[0]


def grpc_code(error: RewardgateError) -> str:
    return status_of(error)[1]
