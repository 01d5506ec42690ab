"""Streaming mean/std per key (Welford), optionally persisted to a JSON file.

Keys name a statistic (``pipeline/component/standardize#0``) plus the hash of
what feeds it, so a changed pipeline starts fresh statistics instead of
inheriting ones measured on something else. The file is rewritten atomically
(temp file + rename) by :meth:`StatsStore.save`, which the runtime calls
periodically and at shutdown.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class RunningStats:
    """Welford's online mean and population variance."""

    count: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def update(self, value: float) -> None:
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    @property
    def std(self) -> float:
        return math.sqrt(self.m2 / self.count) if self.count > 1 else 0.0

    def standardize(self, value: float, min_std: float) -> float:
        return (value - self.mean) / max(self.std, min_std)


class StatsStore:
    """All running statistics of a process; thread-unsafe (event loop only)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._stats: dict[str, RunningStats] = {}
        self._dirty = False
        if path is not None and path.exists():
            self._load(path)

    def get(self, key: str) -> RunningStats:
        stats = self._stats.get(key)
        if stats is None:
            stats = self._stats[key] = RunningStats()
        self._dirty = True  # callers update what they get
        return stats

    def snapshot(self) -> dict[str, dict[str, float]]:
        return {key: {"count": s.count, "mean": s.mean, "m2": s.m2} for key, s in self._stats.items()}

    def save(self) -> None:
        """Write the statistics if anything changed since the last save."""
        if self.path is None or not self._dirty:
            return
        self._dirty = False
        payload = json.dumps({"version": 1, "stats": self.snapshot()}, sort_keys=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".stats-")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(payload)
            os.replace(tmp, self.path)
        except OSError:
            self._dirty = True
            Path(tmp).unlink(missing_ok=True)
            log.warning("could not save running statistics to %s", self.path, exc_info=True)

    def _load(self, path: Path) -> None:
        try:
            data = json.loads(path.read_text())
            self._stats = {
                key: RunningStats(int(entry["count"]), float(entry["mean"]), float(entry["m2"]))
                for key, entry in data["stats"].items()
            }
        except (OSError, ValueError, KeyError, TypeError):
            # Statistics are an accelerator of convergence, not data: start over.
            log.warning("ignoring unreadable running statistics in %s", path, exc_info=True)
            self._stats = {}
