"""RewardMonitor: what the rewards a pipeline hands out look like, over sliding windows.

The scorer calls :meth:`RewardMonitor.observe` once per request with the
items and what they scored; that only appends one tuple per item (and touches
its group), so the hot path pays microseconds. Everything else is computed
when someone asks (:meth:`snapshot`, for ``/metrics`` and ``GET /v1/stats``).

Windows, per pipeline:

* **current**: the pipeline's last ``window_items`` items not older than ``window_s``;
* **reference** for drift: the ``window_items`` items before those (not older
  than ``2 * window_s``), or a window pinned with :meth:`pin_reference`.

Groups are the items' ``group`` (GRPO siblings, often sent one sample per
request); an item without one is grouped with the other items of the same
prompt. A group's rewards are those of its items in the current window.
Memory is bounded: at most ``2 * window_items`` items per pipeline (a group
key and a tuple of numbers each), and pipelines, components and judges are
names from the configuration, so label cardinality is bounded too.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import ScoredItem
from rewardgate.pipeline.plan import Pipeline
from rewardgate.reward_monitor import statistics as st
from rewardgate.reward_monitor.snapshot import (
    JudgeStats,
    LikelihoodStats,
    MonitorSnapshot,
    PipelineStats,
    SeriesStats,
)

STATUSES = ("ok", "partial", "error")
_STATUS_CODE = {status: float(code) for code, status in enumerate(STATUSES)}
#: Columns of a pipeline's record array before its components.
_T, _REWARD, _STATUS, _LENGTH, _FIRST_COMPONENT = range(5)


@dataclass(slots=True)
class _PipelineWindow:
    components: tuple[str, ...]
    #: Ensemble component -> the column indexes of its members.
    ensembles: dict[str, tuple[int, ...]]
    #: Per item: (time, reward, status code, response chars, *component values); None for missing.
    records: deque
    #: Per item, aligned with ``records``: its group, or a hash of its prompt.
    group_keys: deque
    pinned: np.ndarray | None = None


def _winner(p_response_better: float) -> int:
    """1: the response won, -1: it lost, 0: a tie."""
    return (p_response_better > 0.5) - (p_response_better < 0.5)


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
        #: Likelihood model -> (time, raw value, response chars) of what it computed.
        self._likelihood: dict[str, deque] = {}

    # -- recording (hot path) -------------------------------------------------------

    def observe(
        self,
        pipeline: Pipeline,
        items: Sequence[ScoringItem],
        scored_items: Sequence[ScoredItem],
        groups: Sequence[str | None],
    ) -> None:
        """Record one request's items; ``groups`` holds each item's group or None."""
        window = self._pipelines.get(pipeline.name)
        if window is None:
            window = self._pipelines[pipeline.name] = self._new_window(pipeline)
        now = self._clock()
        names = window.components
        record = window.records.append
        group_key = window.group_keys.append
        # One component (most pipelines): its value without unpacking a map into the tuple, which
        # halves the loop's cost; the same tuple.
        only = names[0] if len(names) == 1 else None
        for item, scored_item, group in zip(items, scored_items, groups, strict=True):
            # Numbers only, None where missing (numpy reads it as NaN): all the work waits for a snapshot.
            values = scored_item.components
            head = (now, scored_item.reward, _STATUS_CODE[scored_item.status], len(item.response))
            if only is not None:
                record((*head, values.get(only)))
            else:
                record((*head, *map(values.get, names)))
            # An item without a group is grouped by its prompt: its text and its images (a text
            # prompt has none: the same key as prompt_text() and image_urls() give, without the calls).
            if group is None:
                prompt = item.prompt
                if isinstance(prompt, str):
                    group = hash((prompt, ()))
                else:
                    group = hash((item.prompt_text(), item.image_urls()))
            group_key(group)

    def judge_orders(self, judge: str, first: float, second: float) -> None:
        """Record a pairwise verdict asked in both orders: P(response better) as first and as second."""
        verdicts = self._judges.get(judge)
        if verdicts is None:
            verdicts = self._judges[judge] = deque(maxlen=self.window_items)
        disagreed = _winner(first) != _winner(second)
        verdicts.append((self._clock(), float(disagreed), abs(first - second)))

    def likelihood_recorder(self, source: str) -> Callable[[list[float], list[int]], None]:
        """Where a likelihood model reports each value it computes, before any transform (the
        model's own drift, whatever pipelines read it): ``record(values, response_chars)``."""
        records = self._likelihood.setdefault(source, deque(maxlen=2 * self.window_items))

        def record(values: list[float], lengths: list[int]) -> None:
            now = self._clock()
            records.extend((now, value, length) for value, length in zip(values, lengths, strict=True))

        return record

    def pin_reference(self, pipelines: Sequence[str] | None = None) -> list[str]:
        """Make each pipeline's current window its drift reference until :meth:`unpin_reference`.

        Returns the pipelines pinned (those named, or all, that have items).
        """
        pinned = []
        for name, window in self._pipelines.items():
            if pipelines is None or name in pipelines:
                records = self._records(window)
                current = records[self._bounds(records)[1] :]
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
        size = 2 * self.window_items
        return _PipelineWindow(names, ensembles, deque(maxlen=size), deque(maxlen=size))

    # -- reading ----------------------------------------------------------------------

    def snapshot(self) -> MonitorSnapshot:
        """Every statistic, computed now from the windows."""
        return MonitorSnapshot(
            window_items=self.window_items,
            window_s=self.window_s,
            min_items=self.min_items,
            pipelines={name: self._pipeline_stats(window) for name, window in self._pipelines.items()},
            judges={name: self._judge_stats(verdicts) for name, verdicts in self._judges.items()},
            likelihood={name: self._likelihood_stats(records) for name, records in self._likelihood.items()},
        )

    def _likelihood_stats(self, records: deque) -> LikelihoodStats:
        """A likelihood model's raw values: the current window against the previous one."""
        rows = np.array(records, dtype=float).reshape(-1, 3)
        previous_start, start = self._bounds(rows)
        current, previous = rows[start:], rows[previous_start:start]
        series = self._series(current[:, 1], current[:, 2], previous[:, 1])
        shift = (
            series.summary.mean - series.reference.mean
            if series.summary is not None and series.reference is not None
            else None
        )
        return LikelihoodStats(items=len(current), series=series, mean_shift=shift)

    def _records(self, window: _PipelineWindow) -> np.ndarray:
        width = _FIRST_COMPONENT + len(window.components)
        return np.array(window.records, dtype=float).reshape(-1, width)

    def _bounds(self, records: np.ndarray) -> tuple[int, int]:
        """Row indexes where the reference window and the current window start."""
        now = self._clock()
        times = records[:, _T]
        start = max(len(records) - self.window_items, int(np.searchsorted(times, now - self.window_s)))
        previous_start = max(start - self.window_items, int(np.searchsorted(times, now - 2 * self.window_s)))
        return previous_start, start

    def _pipeline_stats(self, window: _PipelineWindow) -> PipelineStats:
        records = self._records(window)
        previous_start, start = self._bounds(records)
        current, previous = records[start:], records[previous_start:start]
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
        keys = list(itertools.islice(window.group_keys, start, None))
        zero_share, sized_groups = self._groups(keys, current[:, _REWARD])
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

    def _groups(self, keys: list, rewards: np.ndarray) -> tuple[float | None, int]:
        """(zero-advantage share, groups with two or more rewards) among the window's items."""
        by_group: dict = {}
        for key, reward in zip(keys, rewards.tolist(), strict=True):
            if not math.isnan(reward):
                by_group.setdefault(key, []).append(reward)
        sized = [np.array(values) for values in by_group.values() if len(values) >= 2]
        if sum(group.size for group in sized) < self.min_items:
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
