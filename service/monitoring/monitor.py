"""RewardMonitor: what the rewards a pipeline hands out look like, over sliding windows.

The scorer calls :meth:`RewardMonitor.observe` once per request with the
items and their outcomes; that only appends one tuple per item (and touches
its group), so the hot path pays microseconds. Everything else is computed
when someone asks (:meth:`snapshot`, for ``/metrics`` and ``GET /v1/stats``).

Windows, per pipeline:

* **current**: the pipeline's last ``window_items`` items not older than ``window_s``;
* **reference** for drift: the ``window_items`` items before those (not older
  than ``2 * window_s``), or a window pinned with :meth:`pin_reference`.

Groups are the items' ``group`` (GRPO siblings); an item without one is
grouped with the other items of the same prompt. Memory is bounded: at most
``2 * window_items`` items and ``window_items`` groups per pipeline, and
pipelines, components and judges are names from the configuration, so
label cardinality is bounded too.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from service.items import ScoringItem
from service.monitoring import statistics as st
from service.monitoring.snapshot import JudgeStats, MonitorSnapshot, PipelineStats, SeriesStats
from service.scoring.columns import ItemOutcome
from service.scoring.plan import Pipeline

STATUSES = ("ok", "partial", "error")
_STATUS_CODE = {status: float(code) for code, status in enumerate(STATUSES)}
#: Columns of a pipeline's record array before its components.
_T, _REWARD, _STATUS, _LENGTH, _FIRST_COMPONENT = range(5)
#: Rewards kept per group (GRPO groups are far smaller).
_MAX_GROUP_REWARDS = 256


@dataclass(slots=True)
class _Group:
    last_seen: float
    rewards: list[float] = field(default_factory=list)


@dataclass(slots=True)
class _PipelineWindow:
    components: tuple[str, ...]
    #: Ensemble component -> the column indexes of its members.
    ensembles: dict[str, tuple[int, ...]]
    records: deque
    groups: OrderedDict = field(default_factory=OrderedDict)
    pinned: np.ndarray | None = None


class RewardMonitor:
    def __init__(
        self,
        window_items: int = 2048,
        window_s: float = 900.0,
        min_items: int = 50,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_items = window_items
        self.window_s = window_s
        self.min_items = min_items
        self._clock = clock
        self._pipelines: dict[str, _PipelineWindow] = {}
        self._judges: dict[str, deque] = {}

    # -- recording (hot path) -------------------------------------------------------

    def observe(
        self,
        pipeline: Pipeline,
        items: Sequence[ScoringItem],
        outcomes: Sequence[ItemOutcome],
        groups: Sequence[str | None],
    ) -> None:
        """Record one request's items; ``groups`` holds each item's group or None."""
        window = self._pipelines.get(pipeline.name)
        if window is None:
            window = self._pipelines[pipeline.name] = self._new_window(pipeline)
        now = self._clock()
        names = window.components
        append = window.records.append
        for item, outcome, group in zip(items, outcomes, groups, strict=True):
            reward = outcome.reward
            values = outcome.components
            append(
                (
                    now,
                    math.nan if reward is None else reward,
                    _STATUS_CODE[outcome.status],
                    len(item.response),
                    *[values.get(name, math.nan) for name in names],
                )
            )
            if reward is not None:
                key = group if group is not None else hash(item.prompt_text())
                self._join_group(window, key, reward, now)

    def judge_orders(self, judge: str, first: float, second: float) -> None:
        """Record a pairwise verdict asked in both orders: P(response better) as first and as second."""
        verdicts = self._judges.get(judge)
        if verdicts is None:
            verdicts = self._judges[judge] = deque(maxlen=self.window_items)
        disagreed = (first > 0.5) != (second > 0.5) or (first == 0.5) != (second == 0.5)
        verdicts.append((self._clock(), float(disagreed), abs(first - second)))

    def pin_reference(self, pipelines: Sequence[str] | None = None) -> list[str]:
        """Make each pipeline's current window its drift reference until :meth:`unpin_reference`.

        Returns the pipelines pinned (those named, or all, that have items).
        """
        pinned = []
        for name, window in self._pipelines.items():
            if pipelines is None or name in pipelines:
                current, _ = self._split(window)
                if len(current):
                    window.pinned = current.copy()
                    pinned.append(name)
        return pinned

    def unpin_reference(self, pipelines: Sequence[str] | None = None) -> None:
        """Drift is measured against the previous window again."""
        for name, window in self._pipelines.items():
            if pipelines is None or name in pipelines:
                window.pinned = None

    def _new_window(self, pipeline: Pipeline) -> _PipelineWindow:
        names = tuple(c.name for c in pipeline.components)
        column = {name: _FIRST_COMPONENT + index for index, name in enumerate(names)}
        ensembles = {
            c.name: tuple(column[m] for m in c.spec.inputs())
            for c in pipeline.components
            if c.kind == "ensemble"
        }
        return _PipelineWindow(names, ensembles, deque(maxlen=2 * self.window_items))

    def _join_group(self, window: _PipelineWindow, key, reward: float, now: float) -> None:
        groups = window.groups
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(now)
            if len(groups) > self.window_items:
                groups.popitem(last=False)  # the least recently joined
        else:
            group.last_seen = now
            groups.move_to_end(key)
        if len(group.rewards) < _MAX_GROUP_REWARDS:
            group.rewards.append(reward)

    # -- reading ----------------------------------------------------------------------

    def snapshot(self) -> MonitorSnapshot:
        """Every statistic, computed now from the windows."""
        return MonitorSnapshot(
            window_items=self.window_items,
            window_s=self.window_s,
            min_items=self.min_items,
            pipelines={name: self._pipeline_stats(window) for name, window in self._pipelines.items()},
            judges={name: self._judge_stats(verdicts) for name, verdicts in self._judges.items()},
        )

    def _split(self, window: _PipelineWindow) -> tuple[np.ndarray, np.ndarray]:
        """(current, previous) record arrays, one row per item."""
        width = _FIRST_COMPONENT + len(window.components)
        records = np.array(window.records, dtype=float).reshape(-1, width)
        now = self._clock()
        times = records[:, _T]
        end = len(records)
        start = max(end - self.window_items, int(np.searchsorted(times, now - self.window_s)))
        previous_start = max(start - self.window_items, int(np.searchsorted(times, now - 2 * self.window_s)))
        return records[start:end], records[previous_start:start]

    def _pipeline_stats(self, window: _PipelineWindow) -> PipelineStats:
        current, previous = self._split(window)
        reference = window.pinned if window.pinned is not None else previous
        lengths = current[:, _LENGTH]
        statuses = current[:, _STATUS]
        shares = {
            status: float((statuses == code).mean()) if len(current) else 0.0
            for status, code in _STATUS_CODE.items()
        }
        spreads = {}
        for name, members in window.ensembles.items():
            spread = st.mean_member_spread(current[:, members]) if len(current) >= self.min_items else None
            if spread is not None:
                spreads[name] = spread
        zero_share, sized_groups = self._groups(window, since=current[0, _T] if len(current) else math.inf)
        return PipelineStats(
            items=len(current),
            status_share=shares,
            response_chars=st.summarize(lengths) if len(current) >= self.min_items else None,
            reward=self._series(current[:, _REWARD], lengths, reference[:, _REWARD]),
            components={
                name: self._series(
                    current[:, _FIRST_COMPONENT + index], lengths, reference[:, _FIRST_COMPONENT + index]
                )
                for index, name in enumerate(window.components)
            },
            groups=sized_groups,
            zero_advantage_share=zero_share,
            ensemble_spread=spreads,
            reference="pinned" if window.pinned is not None else "previous_window",
        )

    def _series(self, values: np.ndarray, lengths: np.ndarray, reference: np.ndarray) -> SeriesStats:
        present = ~np.isnan(values)
        values, lengths = values[present], lengths[present]
        reference = reference[~np.isnan(reference)]
        enough = values.size >= self.min_items
        comparable = enough and reference.size >= self.min_items
        return SeriesStats(
            summary=st.summarize(values) if enough else None,
            reference=st.summarize(reference) if reference.size >= self.min_items else None,
            length_correlation=st.spearman(lengths, values) if enough else None,
            drift_psi=st.population_stability_index(reference, values) if comparable else None,
            drift_ks=st.ks_statistic(reference, values) if comparable else None,
        )

    def _groups(self, window: _PipelineWindow, since: float) -> tuple[float | None, int]:
        """(zero-advantage share, groups of two or more) over groups that got an item at or after
        ``since``, the arrival of the current window's oldest item."""
        sized = [
            np.array(group.rewards)
            for group in window.groups.values()
            if group.last_seen >= since and len(group.rewards) >= 2
        ]
        if sum(g.size for g in sized) < self.min_items:
            return None, len(sized)
        return st.zero_advantage_share(sized), len(sized)

    def _judge_stats(self, verdicts: deque) -> JudgeStats:
        since = self._clock() - self.window_s
        recent = np.array([v for v in verdicts if v[0] >= since], dtype=float).reshape(-1, 3)
        enough = len(recent) >= self.min_items
        return JudgeStats(
            pairwise_verdicts=len(recent),
            order_disagreement_share=float(recent[:, 1].mean()) if enough else None,
            mean_order_gap=float(recent[:, 2].mean()) if enough else None,
        )
