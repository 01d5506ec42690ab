"""What every transport's handlers hold: the settings, the metrics and the core's front door.

Shared by HTTP and gRPC; request metrics are recorded the same way for both
(route, pipeline, final status as the HTTP status of the error table).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from rewardgate.api.status import http_status
from rewardgate.config.settings import Settings
from rewardgate.core.facade import RewardCore
from rewardgate.errors import RewardgateError
from rewardgate.observability.metrics import Metrics


class ClientDisconnected(Exception):
    """The client went away; its work was cancelled (counted as status 499)."""


@dataclass
class AppContext:
    """What a transport handler holds: the settings, the metrics and the core's front door."""

    settings: Settings
    metrics: Metrics
    core: RewardCore
    #: Called when :meth:`observe` has counted a request (HTTP tells its counting guard).
    on_counted: Callable[[], None] = lambda: None

    @contextmanager
    def observe(self, route: str, pipeline: str) -> Iterator[None]:
        """Count and time one request, labelled by route, pipeline and final status."""
        label = pipeline if self.core.knows(pipeline) else "unknown"
        started = time.perf_counter()
        status = 200
        try:
            yield
        except RewardgateError as exc:
            status = http_status(exc)
            raise
        except ClientDisconnected:
            status = 499
            raise
        except Exception:
            status = 500
            raise
        finally:
            self.on_counted()
            self.metrics.requests.labels(route, label, str(status)).inc()
            self.metrics.request_seconds.labels(route, label).observe(time.perf_counter() - started)
