"""Every Prometheus metric the service exports, in one place.

Metrics live in a per-app :class:`CollectorRegistry` so several apps (tests)
can coexist in one process. Label values are bounded: pipeline labels are
declared pipeline names (or ``unknown``), models and rules are config names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from rewardgate.observability.collectors import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    120,
)
_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
_TOKEN_BUCKETS = (64, 256, 1024, 4096, 16384, 65536, 262144)
_REWARD_BUCKETS = (-10, -5, -2, -1, -0.5, -0.1, 0, 0.1, 0.25, 0.5, 0.75, 0.9, 1, 2, 5, 10)


class Metrics:
    """Holds the collectors; components get narrow views (e.g. :meth:`batch_observer`)."""

    def __init__(self) -> None:
        self._request_observers: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "rewardgate_request_duration_seconds",
            "End-to-end request latency.",
            ["route", "pipeline"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "rewardgate_requests_total",
            "Requests by route, pipeline and HTTP status.",
            ["route", "pipeline", "status"],
            registry=r,
        )
        self.items = Counter(
            "rewardgate_items_scored_total",
            "Items answered, by pipeline and item status.",
            ["pipeline", "status"],
            registry=r,
        )
        self.errors = Counter(
            "rewardgate_errors_total",
            "Errors by type and scope (request or component).",
            ["error_type", "scope"],
            registry=r,
        )
        self.rewards = Histogram(
            "rewardgate_reward",
            "Final reward values per pipeline.",
            ["pipeline"],
            buckets=_REWARD_BUCKETS,
            registry=r,
        )
        self.constraint_violations = Counter(
            "rewardgate_constraint_violations_total",
            "Items whose reward a violated constraint replaced, by pipeline and constraint.",
            ["pipeline", "constraint"],
            registry=r,
        )
        self.gates_closed = Counter(
            "rewardgate_gates_closed_total",
            "Gated component values replaced because their gate was closed.",
            ["pipeline", "component"],
            registry=r,
        )
        self.response_failures = Counter(
            "rewardgate_response_failures_total",
            "Component failures the response caused, scored as the component's failure value.",
            ["pipeline", "component", "error_type"],
            registry=r,
        )
        self.response_chars = Histogram(
            "rewardgate_response_chars",
            "Length of scored responses in characters (watch for length blow-ups).",
            ["pipeline"],
            buckets=(64, 256, 1024, 4096, 16384, 65536, 262144),
            registry=r,
        )
        self.batch_size = Histogram(
            "rewardgate_batch_size",
            "Items per model batch.",
            ["model"],
            buckets=_SIZE_BUCKETS,
            registry=r,
        )
        self.batch_tokens = Histogram(
            "rewardgate_batch_tokens",
            "Tokens computed per model batch: rows x longest row when padded, real tokens when packed.",
            ["model"],
            buckets=_TOKEN_BUCKETS,
            registry=r,
        )
        self.queue_wait = Histogram(
            "rewardgate_queue_wait_seconds",
            "Time an item waited in the batcher queue.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.backend_seconds = Histogram(
            "rewardgate_backend_latency_seconds",
            "Backend time per batch.",
            ["model", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.dropped = Counter(
            "rewardgate_batcher_dropped_items_total",
            "Queued items dropped before running (request cancelled, deadline passed, or too late "
            "to finish by it: late).",
            ["model", "reason"],
            registry=r,
        )
        self.cache = Counter(
            "rewardgate_cache_lookups_total",
            "Score cache lookups by source and result.",
            ["source", "result"],
            registry=r,
        )
        self.cache_ops = Counter(
            "rewardgate_cache_operations_total",
            "Shared-cache round trips by operation and outcome (ok, error, skipped by the "
            "open breaker, dropped when too many writes are pending).",
            ["op", "outcome"],
            registry=r,
        )
        self.cache_seconds = Histogram(
            "rewardgate_cache_latency_seconds",
            "Shared-cache round-trip latency.",
            ["op"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.cache_breaker = Gauge(
            "rewardgate_cache_breaker_state",
            "Shared-cache breaker: 0 closed, 1 open, 2 half-open.",
            registry=r,
        )
        self.judge_calls = Counter(
            "rewardgate_judge_calls_total",
            "Judge HTTP attempts by judge and outcome (ok, rate_limited, server_error, "
            "connection_error, timeout, rejected, breaker_open).",
            ["judge", "outcome"],
            registry=r,
        )
        self.judge_seconds = Histogram(
            "rewardgate_judge_latency_seconds",
            "Latency of one judge HTTP attempt.",
            ["judge"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.judge_tokens = Counter(
            "rewardgate_judge_tokens_total",
            "Tokens reported by judge endpoints (usage), by kind (prompt, completion).",
            ["judge", "kind"],
            registry=r,
        )
        self.judge_inflight = Gauge(
            "rewardgate_judge_inflight_calls",
            "Judge calls open now (bounded by max_concurrency).",
            ["judge"],
            registry=r,
        )
        self.judge_breaker = Gauge(
            "rewardgate_judge_breaker_state",
            "Judge breaker: 0 closed, 1 open, 2 half-open.",
            ["judge"],
            registry=r,
        )
        self.rule_seconds = Histogram(
            "rewardgate_rule_duration_seconds",
            "Time to check one item with a rule.",
            ["rule"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.auth_failures = Counter(
            "rewardgate_auth_failures_total",
            "Requests refused for a missing or invalid API key.",
            ["transport", "reason"],
            registry=r,
        )
        self.pipeline_throughput = Gauge(
            "rewardgate_pipeline_throughput_items_per_second",
            "Measured items completed per busy second, per pipeline (what admission plans with).",
            ["pipeline"],
            registry=r,
        )
        self.verifier_busy = Gauge(
            "rewardgate_verifier_busy_workers",
            "Verifier processes running a check now.",
            registry=r,
        )
        self.verifier_queued = Gauge(
            "rewardgate_verifier_queued_checks",
            "Checks waiting for a free verifier process.",
            registry=r,
        )
        self.verifier_workers = Gauge(
            "rewardgate_verifier_workers",
            "Verifier processes in the pool.",
            registry=r,
        )
        self.inflight_limit = Gauge(
            "rewardgate_inflight_items_limit",
            "REWARDGATE_MAX_INFLIGHT_ITEMS: the most items admitted at once.",
            registry=r,
        )
        self.verifier_pool_restarts = Counter(
            "rewardgate_verifier_pool_restarts_total",
            "Times the verifier pool was replaced after a worker died unexpectedly.",
            registry=r,
        )
        self.inflight_items = Gauge(
            "rewardgate_inflight_items",
            "Items admitted and not yet answered.",
            registry=r,
        )
        self.groups_assembled = Counter(
            "rewardgate_groups_assembled_total",
            "Groups sent over several requests, by outcome: complete or incomplete at their deadline.",
            ["pipeline", "outcome"],
            registry=r,
        )
        self.groups_open = Gauge(
            "rewardgate_groups_open",
            "Groups being assembled now (bounded by REWARDGATE_GROUP_MAX_OPEN).",
            registry=r,
        )
        self.model_ready = Gauge(
            "rewardgate_model_ready",
            "1 when the model is loaded and ready.",
            ["model"],
            registry=r,
        )

    def batch_observer(self, model: str) -> ModelBatchObserver:
        return ModelBatchObserver(self, model)

    def request_observers(self, route: str, pipeline: str, status: int) -> tuple[Counter, Histogram]:
        """The ``requests`` and ``request_seconds`` children of one (route, pipeline, status),
        found with one dict read (every scored request updates both; the labels are bounded)."""
        key = (route, pipeline, status)
        try:
            return self._request_observers[key]
        except KeyError:
            found = self._request_observers[key] = (
                self.requests.labels(route, pipeline, str(status)),
                self.request_seconds.labels(route, pipeline),
            )
            return found

    def render(self) -> bytes:
        return generate_latest(self.registry)


class ModelBatchObserver:
    """The batcher's view of the metrics (see ``BatchObserver``)."""

    def __init__(self, metrics: Metrics, model: str) -> None:
        self._size = metrics.batch_size.labels(model)
        self._tokens = metrics.batch_tokens.labels(model)
        self._wait = metrics.queue_wait.labels(model)
        self._ok = metrics.backend_seconds.labels(model, "ok")
        self._failed = metrics.backend_seconds.labels(model, "error")
        self._dropped = {
            reason: metrics.dropped.labels(model, reason) for reason in ("cancelled", "deadline", "late")
        }

    def batch_started(self, size: int, padded_tokens: int, queue_waits_s: list[float]) -> None:
        self._size.observe(size)
        self._tokens.observe(padded_tokens)
        for wait in queue_waits_s:
            self._wait.observe(wait)

    def batch_finished(self, seconds: float, ok: bool) -> None:
        (self._ok if ok else self._failed).observe(seconds)

    def item_dropped(self, reason: str) -> None:
        self._dropped[reason].inc()
