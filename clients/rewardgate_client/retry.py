"""Retry policy: which failures, how long to wait, and how many retries overall.

* only errors with ``retryable`` set are retried (429, 503, 504, resets);
* waits grow exponentially, capped at ``max_backoff_s``, each drawn between
  half its ceiling and the ceiling ("equal jitter": callers spread out, yet a
  run of retries always covers a known least time); a server
  ``Retry-After`` is a lower bound;
* a wait that would end past the call's deadline is not taken: the last
  error is raised instead;
* a retry budget (a token bucket filled by ``budget_ratio`` per call) keeps a
  struggling service from receiving a retry storm: when it is empty, the
  error is raised at once.

The defaults ride over a restart or a rolling update of the service: 10
attempts, waits growing from 0.25 s to 5 s, so the retries span at least
14 s of refused connections (about 21 s on average, 28 s at most), always
within the call's deadline. (With full jitter, as before, an unlucky draw
gave up after a few seconds.) ``RetryPolicy.from_env()`` (what the client and every trainer
adapter use by default) reads ``REWARDGATE_RETRY_ATTEMPTS`` and
``REWARDGATE_RETRY_MAX_BACKOFF_S``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

from rewardgate_client.errors import DeadlineExceeded, RewardgateError


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 10
    initial_backoff_s: float = 0.25
    max_backoff_s: float = 5.0
    #: Retry tokens earned per call; a retry spends one.
    budget_ratio: float = 0.2
    #: Tokens the budget starts with and never exceeds.
    budget_max: float = 20.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> RetryPolicy:
        """The defaults, overridden by ``REWARDGATE_RETRY_ATTEMPTS`` / ``REWARDGATE_RETRY_MAX_BACKOFF_S``.

        Raises ValueError naming the variable when a value does not parse or is negative."""
        policy = cls()
        return cls(
            attempts=int(_number(environ, "REWARDGATE_RETRY_ATTEMPTS", int, policy.attempts)),
            initial_backoff_s=policy.initial_backoff_s,
            max_backoff_s=_number(environ, "REWARDGATE_RETRY_MAX_BACKOFF_S", float, policy.max_backoff_s),
        )

    def backoff_s(self, retry_number: int, retry_after_s: float | None) -> float:
        ceiling = min(self.max_backoff_s, self.initial_backoff_s * 2**retry_number)
        wait = random.uniform(ceiling / 2, ceiling)
        return max(wait, retry_after_s) if retry_after_s is not None else wait


def _number(environ: Mapping[str, str], name: str, kind: type, default: float) -> float:
    text = environ.get(name)
    if not text:
        return default
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not {'an integer' if kind is int else 'a number'}") from None
    if value < 0:
        raise ValueError(f"{name}={text!r} must not be negative")
    return value


class RetryBudget:
    """Token bucket of retries shared by every call of one client."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.tokens = policy.budget_max

    def on_call(self) -> None:
        # a comparison, not min(): a one-sample call pays this once per call
        tokens = self.tokens + self.policy.budget_ratio
        self.tokens = tokens if tokens < self.policy.budget_max else self.policy.budget_max

    def try_spend(self) -> bool:
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class RetryLoop:
    """One call's attempts under a policy, a shared budget and a deadline.

    The async driver steps it so::

        retries = RetryLoop(policy, budget, deadline)
        while True:
            left = retries.time_left()          # raises DeadlineExceeded when none is left
            try:
                return call(left)
            except RewardgateError as exc:
                wait = retries.wait_before_retry(exc)
                if wait is None:
                    raise
            sleep(wait)

    The blocking driver steps it alike but builds it only at a call's first failure (most
    calls have none): it counts the call in the budget itself (``budget.on_call()``), asks
    :func:`time_left` until then, and passes ``counted=True``.
    """

    __slots__ = ("budget", "deadline", "policy", "retries")  # built once per call: kept small

    def __init__(
        self, policy: RetryPolicy, budget: RetryBudget, deadline: float, *, counted: bool = False
    ) -> None:
        self.policy = policy
        self.budget = budget
        self.deadline = deadline
        self.retries = 0
        if not counted:
            budget.on_call()

    def time_left(self) -> float:
        """Seconds to the deadline; raises :class:`DeadlineExceeded` when it has passed."""
        return time_left(self.deadline)

    def wait_before_retry(self, error: RewardgateError) -> float | None:
        """Seconds to wait before the next attempt after ``error``, or None when ``error``
        must be raised: not retryable, attempts used up, a wait past the deadline, or no
        retry budget left."""
        if not error.retryable or self.retries + 1 >= self.policy.attempts:
            return None
        wait = self.policy.backoff_s(self.retries, error.retry_after_s)
        if time.monotonic() + wait >= self.deadline or not self.budget.try_spend():
            return None
        self.retries += 1
        return wait


def time_left(deadline: float) -> float:
    """Seconds to ``deadline`` (``time.monotonic``); raises :class:`DeadlineExceeded` when it
    has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the call's deadline passed before an answer")
    return left
