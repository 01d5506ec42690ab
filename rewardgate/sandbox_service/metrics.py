"""The sandbox service's Prometheus metrics (a registry per app, as the gateway's).

``rewardgate_sandbox_inflight_runs`` (runs admitted and not answered: running
or waiting for a worker) is what the chart's HorizontalPodAutoscaler scales
the sandbox pool on; ``rewardgate_sandbox_queued_runs`` is the part of it
that waits.
"""

from __future__ import annotations

from collections.abc import Callable

import prometheus_client
from prometheus_client import CollectorRegistry, generate_latest

_RUN_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


class SandboxMetrics:
    def __init__(self, queued: Callable[[], int], workers: int) -> None:
        self.registry = CollectorRegistry()
        self.runs = prometheus_client.Counter(
            "rewardgate_sandbox_runs",
            "Run requests by result: ok, a failure type (sandbox_error, sandbox_killed, verifier_*), "
            "or a refusal (overloaded, not_ready, invalid_input, payload_too_large, deadline_exceeded, "
            "cancelled: the caller went away and the run was killed).",
            ["result"],
            registry=self.registry,
        )
        self.inflight = prometheus_client.Gauge(
            "rewardgate_sandbox_inflight_runs",
            "Runs admitted and not answered (running or waiting for a worker): the autoscaling signal.",
            registry=self.registry,
        )
        self.queued = prometheus_client.Gauge(
            "rewardgate_sandbox_queued_runs",
            "Admitted runs waiting for a free worker.",
            registry=self.registry,
        )
        self.queued.set_function(queued)
        self.workers = prometheus_client.Gauge(
            "rewardgate_sandbox_workers", "Runs this process executes at a time.", registry=self.registry
        )
        self.workers.set(workers)
        self.run_seconds = prometheus_client.Histogram(
            "rewardgate_sandbox_run_seconds",
            "Wall time of admitted runs, queue wait included.",
            buckets=_RUN_BUCKETS,
            registry=self.registry,
        )
        self.pool_restarts = prometheus_client.Counter(
            "rewardgate_sandbox_pool_restarts",
            "Times the pool of sandbox workers was replaced after a worker died.",
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
