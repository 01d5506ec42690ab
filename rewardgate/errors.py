"""The service's errors, in two separate families.

* Request errors (:class:`RewardgateError` subclasses) are raised out of the
  scorer and become the whole reply: ``{"error": {"type", "message",
  "retryable"}}``. Which HTTP status and gRPC code each maps to is decided at
  the edge, in one table (rewardgate/api/status.py).
* Per-item failures (:class:`ComponentError` subclasses) are values: one
  component of one item has no score, recorded in ``results[i].errors`` and
  never turned into a numeric reward. They are not request errors and carry
  no status.

Both carry the wire ``error_type`` (also a metric label) and whether retrying
may help. A per-item failure also says who caused it (``cause``, the failure
policy of docs/reward-algebra.md#failures):

* ``"response"``: the response itself (a verifier timing out or crashing on
  it, a judge refusing it, answering off-scale about it or rejecting it as too
  long, a model's token limit). It scores as the component's failure value:
  a response must not be able to turn a low reward into no reward.
* ``"service"``: the service or a dependency (an unreachable judge or Triton,
  a restarting verifier pool, a failed sandbox). It stays an error the
  caller retries.
* ``"input"``: the caller's request (a missing or unusable reference, a
  metadata field a component needs): an error naming the field.
"""

from __future__ import annotations


class RewardgateError(Exception):
    """A request error. Subclasses set ``error_type`` and ``retryable``."""

    error_type: str = "internal"
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


class PayloadTooLarge(RewardgateError):
    """The request exceeds a size limit (body bytes, item count or text length)."""

    error_type = "payload_too_large"


class PipelineNotFound(RewardgateError):
    """The named pipeline is not declared in the loaded configuration."""

    error_type = "pipeline_not_found"


class Unauthenticated(RewardgateError):
    """Missing or wrong credentials."""

    error_type = "unauthenticated"


class Overloaded(RewardgateError):
    """The service is at capacity; retry after the advertised delay."""

    error_type = "overloaded"
    retryable = True


class ServiceNotReady(RewardgateError):
    """Models are still loading or a backend is not ready."""

    error_type = "not_ready"
    retryable = True


class BackendUnavailable(RewardgateError):
    """A model backend is down, restarting or refusing work (e.g. Triton's queue is full).

    Request-level on purpose: the backend is unavailable for every item, and
    callers should retry the request rather than train on partial rewards.
    """

    error_type = "backend_unavailable"
    retryable = True


class DeadlineExceeded(RewardgateError):
    """The request deadline passed before every item was answered."""

    error_type = "deadline_exceeded"
    retryable = True


class ConfigError(RewardgateError):
    """The pipeline configuration is invalid; raised at start-up only."""

    error_type = "config_error"


# --------------------------------------------------------------------------
# Component errors: recorded per item, never converted into a reward value.
# --------------------------------------------------------------------------


class ComponentError(Exception):
    """A single component failed for a single item (a value, not a request error)."""

    error_type: str = "component_error"
    retryable: bool = False
    #: Who caused the failure: "response", "service" or "input" (see the module docstring).
    cause: str = "service"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.error_type)
        self.message = message or (self.__class__.__doc__ or self.error_type).strip()

    def to_item_error(self) -> dict:
        """The per-item error entry (``results[i].errors[component]``)."""
        return {"type": self.error_type, "message": self.message, "retryable": self.retryable}


class BackendError(ComponentError):
    """The model backend failed while computing a batch."""

    error_type = "backend_error"
    cause = "service"
    retryable = True


class VerifierTimeout(ComponentError):
    """A rule verifier exceeded its per-item time limit and was killed."""

    error_type = "verifier_timeout"
    cause = "response"


class VerifierError(ComponentError):
    """A rule verifier crashed or raised while checking an item."""

    error_type = "verifier_error"
    cause = "response"


class VerifierUnavailable(ComponentError):
    """The verifier pool could not run the check now (it is being replaced); retry."""

    error_type = "verifier_unavailable"
    retryable = True


class InvalidReference(ComponentError):
    """The item's reference is missing or cannot be interpreted by the rule."""

    error_type = "invalid_reference"
    cause = "input"


class InvalidComponentInput(ComponentError):
    """The item cannot be scored by this component (e.g. too many tokens)."""

    error_type = "invalid_component_input"
    cause = "input"


class ItemFailed(RewardgateError):
    """An item of a request failed, in a protocol that can only fail whole requests.

    Carries the item's own error type; retryable failures map to 503 so the
    caller retries, the others to 422.
    """

    def __init__(self, message: str, *, error_type: str, retryable: bool) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.retryable = retryable


class JudgeParseError(ComponentError):
    """The judge's reply had no valid answer (unparseable, out of range or truncated)."""

    error_type = "judge_parse_error"
    cause = "response"


class JudgeRefusal(ComponentError):
    """The judge refused to answer."""

    error_type = "judge_refusal"
    cause = "response"


class JudgeInputRejected(ComponentError):
    """The judge rejected the request its prompt made of the response (HTTP 400/413/422: the
    response overflows its context window, or trips its input filter)."""

    error_type = "judge_input_rejected"
    cause = "response"


class InputTooLong(InvalidComponentInput):
    """The response makes the input longer than the component accepts (a model's max_length)."""

    cause = "response"


class NoSteps(InvalidComponentInput):
    """A per-step component found no steps in the response: the response's failure (a response
    must not escape a low process reward by leaving its steps out)."""

    cause = "response"


class JudgeUnavailable(ComponentError):
    """The judge endpoint failed, is rate limiting, or its breaker is open (retryable)."""

    error_type = "judge_unavailable"
    retryable = True


class JudgeTimeout(ComponentError):
    """The judge did not answer within the request deadline (retryable)."""

    error_type = "judge_timeout"
    retryable = True
