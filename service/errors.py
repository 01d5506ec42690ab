"""One error hierarchy for the whole service.

Every failure that can reach a caller is a :class:`RewardgateError` subclass.
Each carries the wire ``error_type`` (also used as a metric label), the HTTP
status and gRPC status-code name it maps to, and whether retrying may help.

Two scopes exist:

* request errors (raised out of the scorer) become the whole response:
  ``{"error": {"type", "message", "retryable"}}`` with ``http_status``;
* component errors (:class:`ComponentError` subclasses) are recorded per item
  in ``results[i].errors`` and never turn into a numeric reward.
"""

from __future__ import annotations


class RewardgateError(Exception):
    """Base class. Subclasses override the class attributes below."""

    error_type: str = "internal"
    http_status: int = 500
    grpc_code: str = "INTERNAL"
    retryable: bool = False

    def __init__(self, message: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.error_type)
        self.message = message or (self.__class__.__doc__ or self.error_type).strip()
        self.retry_after_s = retry_after_s

    def to_envelope(self) -> dict:
        """The wire envelope shared by every transport."""
        return {
            "error": {
                "type": self.error_type,
                "message": self.message,
                "retryable": self.retryable,
            }
        }


class InvalidInput(RewardgateError):
    """The request is malformed or violates a documented constraint."""

    error_type = "invalid_input"
    http_status = 422
    grpc_code = "INVALID_ARGUMENT"


class PayloadTooLarge(RewardgateError):
    """The request exceeds a size limit (body bytes, item count or text length)."""

    error_type = "payload_too_large"
    http_status = 413
    grpc_code = "RESOURCE_EXHAUSTED"


class PipelineNotFound(RewardgateError):
    """The named pipeline is not declared in the loaded configuration."""

    error_type = "pipeline_not_found"
    http_status = 404
    grpc_code = "NOT_FOUND"


class Unauthenticated(RewardgateError):
    """Missing or wrong credentials."""

    error_type = "unauthenticated"
    http_status = 401
    grpc_code = "UNAUTHENTICATED"


class Overloaded(RewardgateError):
    """The service is at capacity; retry after the advertised delay."""

    error_type = "overloaded"
    http_status = 429
    grpc_code = "RESOURCE_EXHAUSTED"
    retryable = True


class ServiceNotReady(RewardgateError):
    """Models are still loading or a backend is not ready."""

    error_type = "not_ready"
    http_status = 503
    grpc_code = "UNAVAILABLE"
    retryable = True


class BackendUnavailable(RewardgateError):
    """A model backend is down, restarting or refusing work (e.g. Triton's queue is full).

    Request-level on purpose: the backend is unavailable for every item, and
    callers should retry the request rather than train on partial rewards.
    """

    error_type = "backend_unavailable"
    http_status = 503
    grpc_code = "UNAVAILABLE"
    retryable = True


class DeadlineExceeded(RewardgateError):
    """The request deadline passed before every item was answered."""

    error_type = "deadline_exceeded"
    http_status = 504
    grpc_code = "DEADLINE_EXCEEDED"
    retryable = True


class ConfigError(RewardgateError):
    """The pipeline configuration is invalid; raised at start-up only."""

    error_type = "config_error"


# --------------------------------------------------------------------------
# Component errors: recorded per item, never converted into a reward value.
# --------------------------------------------------------------------------


class ComponentError(RewardgateError):
    """A single component failed for a single item."""

    error_type = "component_error"
    http_status = 500
    grpc_code = "INTERNAL"

    def to_item_error(self) -> dict:
        """The per-item error entry (``results[i].errors[component]``)."""
        return {"type": self.error_type, "message": self.message, "retryable": self.retryable}


class BackendError(ComponentError):
    """The model backend failed while computing a batch."""

    error_type = "backend_error"


class VerifierTimeout(ComponentError):
    """A rule verifier exceeded its per-item time limit and was killed."""

    error_type = "verifier_timeout"
    http_status = 504
    grpc_code = "DEADLINE_EXCEEDED"


class VerifierError(ComponentError):
    """A rule verifier crashed or raised while checking an item."""

    error_type = "verifier_error"


class VerifierUnavailable(ComponentError):
    """The verifier pool could not run the check now (it is being replaced); retry."""

    error_type = "verifier_unavailable"
    http_status = 503
    grpc_code = "UNAVAILABLE"
    retryable = True


class InvalidReference(ComponentError):
    """The item's reference is missing or cannot be interpreted by the rule."""

    error_type = "invalid_reference"
    http_status = 422
    grpc_code = "INVALID_ARGUMENT"


class InvalidComponentInput(ComponentError):
    """The item cannot be scored by this component (e.g. too many tokens)."""

    error_type = "invalid_component_input"
    http_status = 422
    grpc_code = "INVALID_ARGUMENT"


class ItemFailed(RewardgateError):
    """An item of a request failed, in a protocol that can only fail whole requests.

    Carries the item's own error type; retryable failures map to 503 so the
    caller retries, the others to 422.
    """

    def __init__(self, message: str, *, error_type: str, retryable: bool) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.retryable = retryable
        self.http_status = 503 if retryable else 422
        self.grpc_code = "UNAVAILABLE" if retryable else "FAILED_PRECONDITION"


class JudgeParseError(ComponentError):
    """The judge's reply had no valid answer (unparseable, out of range or truncated)."""

    error_type = "judge_parse_error"


class JudgeRefusal(ComponentError):
    """The judge refused to answer."""

    error_type = "judge_refusal"


class JudgeUnavailable(ComponentError):
    """The judge endpoint failed, is rate limiting, or its breaker is open (retryable)."""

    error_type = "judge_unavailable"
    retryable = True


class JudgeTimeout(ComponentError):
    """The judge did not answer within the request deadline (retryable)."""

    error_type = "judge_timeout"
    retryable = True
