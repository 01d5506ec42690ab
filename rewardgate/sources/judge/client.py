"""Client for OpenAI-compatible chat completions (vLLM, SGLang, hosted APIs).

One :class:`JudgeClient` per declared judge. Every call:

1. fails fast with ``judge_unavailable`` while the circuit breaker is open;
2. waits for a slot of the bulkhead (``max_concurrency`` calls open at once)
   and for the requests- and tokens-per-minute budgets (leaky buckets);
3. runs with a timeout derived from the request deadline (a little before
   it, so the item can still be answered with a typed ``judge_timeout``);
4. retries only retryable failures (429, 5xx, connection errors, timeouts of
   one attempt) with capped, jittered exponential backoff, honouring
   ``Retry-After`` (capped at ``retry.wait_max_s``), and never past the deadline.

Non-retryable 4xx answers (bad model name, bad request, authentication) are
``judge_unavailable`` with ``retryable: false``: retrying cannot fix them.
The API key is read once from the environment or a file and never logged.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import openai
import stamina
from aiolimiter import AsyncLimiter

from rewardgate.breaker import STATE_VALUES, CircuitBreaker
from rewardgate.errors import JudgeInputRejected, JudgeTimeout, JudgeUnavailable
from rewardgate.observability.metrics import Metrics
from rewardgate.sources.judge.parsing import Reply
from rewardgate.sources.judge.spec import JudgeSpec

log = logging.getLogger(__name__)

#: Time kept back from the request deadline to report a judge timeout as an item error.
DEADLINE_MARGIN_S = 0.05


@dataclass(frozen=True)
class Completion:
    reply: Reply
    prompt_tokens: int
    completion_tokens: int


class _Retry(Exception):
    """A retryable attempt failure; ``wait_s`` is the server's Retry-After, if any."""

    def __init__(self, error: JudgeUnavailable, wait_s: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait_s = wait_s


def read_api_key(spec: JudgeSpec) -> str:
    """The key from ``api_key_env`` or ``api_key_file``; vLLM accepts any, so 'EMPTY' otherwise."""
    if spec.api_key_env:
        value = os.environ.get(spec.api_key_env)
        if not value:
            raise ValueError(f"environment variable {spec.api_key_env} (api_key_env) is not set")
        return value
    if spec.api_key_file:
        lines = Path(spec.api_key_file).read_text().splitlines()
        if not lines or not lines[0].strip():
            raise ValueError(f"{spec.api_key_file} (api_key_file) is empty")
        return lines[0].strip()
    return "EMPTY"


class JudgeClient:
    def __init__(self, name: str, spec: JudgeSpec, metrics: Metrics | None = None) -> None:
        self.name = name
        self.spec = spec
        self._metrics = metrics or Metrics()
        self._client = openai.AsyncOpenAI(
            base_url=spec.base_url, api_key=read_api_key(spec), max_retries=0, timeout=spec.timeout_s
        )
        self._bulkhead = asyncio.Semaphore(spec.max_concurrency)
        self._requests = AsyncLimiter(spec.requests_per_minute, 60) if spec.requests_per_minute else None
        self._tokens = AsyncLimiter(spec.tokens_per_minute, 60) if spec.tokens_per_minute else None
        self.breaker = CircuitBreaker(
            spec.breaker.failures,
            spec.breaker.reset_s,
            on_change=lambda state: self._metrics.judge_breaker.labels(name).set(STATE_VALUES[state]),
        )

    async def complete(
        self, messages: list[dict[str, str]], deadline: float, *, json_mode: bool
    ) -> Completion:
        """One chat completion within ``deadline`` (monotonic seconds); ``json_mode`` asks for a
        JSON object (``response_format``).

        Raises:
            JudgeUnavailable: breaker open, retries exhausted, or a non-retryable rejection.
            JudgeTimeout: the deadline passed first.
        """
        budget = deadline - time.monotonic() - DEADLINE_MARGIN_S
        if budget <= 0:
            raise JudgeTimeout(f"judge {self.name!r}: no time left before the request deadline")
        try:
            async with asyncio.timeout(budget):
                return await self._with_retries(messages, budget, json_mode)
        except TimeoutError:
            raise JudgeTimeout(
                f"judge {self.name!r} did not answer within the request deadline ({budget:.2f} s left)"
            ) from None

    async def _with_retries(
        self, messages: list[dict[str, str]], budget: float, json_mode: bool
    ) -> Completion:
        retry = self.spec.retry
        attempts = stamina.retry_context(
            on=_backoff_hook(retry.wait_max_s),
            attempts=retry.attempts,
            timeout=budget,
            wait_initial=retry.wait_initial_s,
            wait_max=retry.wait_max_s,
            wait_jitter=retry.wait_initial_s,
        )
        try:
            async for attempt in attempts:
                with attempt:
                    return await self._attempt(messages, json_mode)
        except _Retry as exc:
            raise exc.error from None
        raise AssertionError("unreachable: stamina re-raises the last failure")

    async def _attempt(self, messages: list[dict[str, str]], json_mode: bool) -> Completion:
        if not self.breaker.allow():
            self._metrics.judge_calls.labels(self.name, "breaker_open").inc()
            raise JudgeUnavailable(f"judge {self.name!r} is failing; its breaker is open")
        await self._spend_budgets()
        async with self._bulkhead:
            inflight = self._metrics.judge_inflight.labels(self.name)
            inflight.inc()
            started = time.perf_counter()
            try:
                completion = await self._call(messages, json_mode)
            except BaseException as exc:
                self._record_failure(exc)
                raise self._translate(exc) from exc
            finally:
                inflight.dec()
                self._metrics.judge_seconds.labels(self.name).observe(time.perf_counter() - started)
        self.breaker.record_success()
        self._metrics.judge_calls.labels(self.name, "ok").inc()
        return completion

    async def _spend_budgets(self) -> None:
        if self._requests is not None:
            await self._requests.acquire()
        if self._tokens is not None:
            # Estimate: the reply may use max_tokens; the prompt is not counted in advance.
            await self._tokens.acquire(min(self.spec.max_tokens, self._tokens.max_rate))

    async def _call(self, messages: list[dict[str, str]], json_mode: bool) -> Completion:
        spec = self.spec
        extra = {}
        if json_mode:
            extra["response_format"] = {"type": "json_object"}
        if spec.logprobs:
            extra.update(logprobs=True, top_logprobs=spec.top_logprobs)
        if spec.seed is not None:
            extra["seed"] = spec.seed
        response = await self._client.chat.completions.create(
            model=spec.model,
            messages=messages,
            temperature=spec.temperature,
            top_p=spec.top_p,
            max_tokens=spec.max_tokens,
            **extra,
        )
        if not response.choices:
            raise JudgeUnavailable(f"judge {self.name!r} answered without choices")
        choice = response.choices[0]
        logprobs = choice.logprobs.content if choice.logprobs and choice.logprobs.content else None
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        self._metrics.judge_tokens.labels(self.name, "prompt").inc(prompt_tokens)
        self._metrics.judge_tokens.labels(self.name, "completion").inc(completion_tokens)
        reply = Reply(
            choice.message.content, choice.finish_reason, getattr(choice.message, "refusal", None), logprobs
        )
        return Completion(reply, prompt_tokens, completion_tokens)

    def _record_failure(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError):
            self.breaker.abandon_call()
            return
        outcome = _outcome(exc)
        self._metrics.judge_calls.labels(self.name, outcome).inc()
        if outcome in ("server_error", "connection_error", "timeout"):
            self.breaker.record_failure()
        else:
            # Rate limited or rejected: the upstream is alive and answering.
            self.breaker.record_success()

    def _translate(self, exc: BaseException) -> BaseException:
        if isinstance(exc, asyncio.CancelledError):
            return exc
        if isinstance(exc, JudgeUnavailable):
            return _Retry(exc)
        outcome = _outcome(exc)
        if outcome == "rate_limited":
            error = JudgeUnavailable(f"judge {self.name!r} is rate limiting (429)")
            return _Retry(error, _retry_after(exc))
        if outcome in ("server_error", "connection_error", "timeout"):
            return _Retry(JudgeUnavailable(f"judge {self.name!r}: {outcome}: {_describe(exc)}"))
        # A server without JSON mode (e.g. an older vLLM or a hosted API) refuses response_format.
        format_rejected = "response_format" in str(exc)
        if getattr(exc, "status_code", None) in _INPUT_REJECTED and not format_rejected:
            # The prompt is the response's: one that overflows the judge's context window or
            # trips its input filter is the response's failure, scored as such (docs/rules.md).
            return JudgeInputRejected(f"judge {self.name!r} rejected the response: {_describe(exc)}")
        error = JudgeUnavailable(f"judge {self.name!r} rejected the request: {_describe(exc)}")
        error.retryable = False
        error.response_format_rejected = format_rejected
        return error

    async def close(self) -> None:
        await self._client.close()


#: Upstream statuses that refuse the request's content (the response in the prompt), not the service.
_INPUT_REJECTED = frozenset({400, 413, 422})


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection_error"
    if isinstance(exc, openai.APIStatusError) and exc.status_code >= 500:
        return "server_error"
    if isinstance(exc, JudgeUnavailable):
        return "server_error"
    return "rejected"


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    header = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(header)) if header is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _describe(exc: BaseException) -> str:
    """What callers see of an upstream failure: its status or kind, never the upstream's text
    (it can carry account details or echo secrets); the text goes to the service log."""
    status = getattr(exc, "status_code", None)
    log.warning("judge upstream failure: %s", str(exc)[:500])
    return f"HTTP {status}" if status else type(exc).__name__


def _backoff_hook(wait_max_s: float):
    def hook(exc: Exception) -> bool | float:
        if not isinstance(exc, _Retry):
            return False
        if exc.wait_s is not None:
            return min(exc.wait_s, wait_max_s)
        return True

    return hook
