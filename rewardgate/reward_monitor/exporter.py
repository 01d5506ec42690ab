"""The reward monitor's statistics as Prometheus gauges, computed at scrape time.

Every family is yielded on every scrape (so its HELP/TYPE lines exist from
the start); a statistic that is undefined, or rests on fewer than
``min_items`` values, has no sample rather than a made-up one. The series of
a pipeline's final reward carries ``component=""`` (no component label, in
PromQL); a component's series carries its name.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from rewardgate.reward_monitor.monitor import RewardMonitor
from rewardgate.reward_monitor.snapshot import (
    JudgeStats,
    LikelihoodStats,
    MonitorSnapshot,
    PipelineStats,
    SeriesStats,
)
from rewardgate.reward_monitor.statistics import Summary

_SERIES = ["pipeline", "component"]


class MonitorCollector(Collector):
    def __init__(self, monitor: RewardMonitor) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        return iter(_families(self._monitor.snapshot()))


def _gauge(name: str, documentation: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"rewardgate_window_{name}", documentation, labels=labels)


class _Families:
    """One scrape's gauge families, filled from a snapshot."""

    def __init__(self) -> None:
        pipeline, series = ["pipeline"], _SERIES
        self.items = _gauge("items", "Items in the pipeline's current monitoring window.", pipeline)
        self.status = _gauge(
            "item_share", "Share of the window's items by status (ok, partial, error).", [*pipeline, "status"]
        )
        self.chars = _gauge(
            "response_chars_mean", "Mean response length in characters over the window.", pipeline
        )
        self.mean = _gauge(
            "reward_mean", "Mean reward over the current or the drift reference window.", [*series, "window"]
        )
        self.std = _gauge(
            "reward_std", "Standard deviation of the reward over a window.", [*series, "window"]
        )
        self.quantile = _gauge(
            "reward_quantile", "Reward quantiles over the current window.", [*series, "quantile"]
        )
        self.correlation = _gauge(
            "length_correlation",
            "Spearman correlation of reward and response length over the window (reward hacking by length).",
            series,
        )
        self.psi = _gauge(
            "reward_drift_psi", "Population stability index of the window vs its reference.", series
        )
        self.ks = _gauge(
            "reward_drift_ks", "Kolmogorov-Smirnov statistic of the window vs its reference.", series
        )
        self.groups = _gauge(
            "groups", "Groups (GRPO siblings) with two or more rewards in the window.", pipeline
        )
        self.zero = _gauge(
            "zero_advantage_group_share",
            "Share of the window's groups whose rewards are all equal (zero GRPO advantage).",
            pipeline,
        )
        self.spread = _gauge(
            "ensemble_spread",
            "Mean standard deviation across an ensemble's members.",
            [*pipeline, "component"],
        )
        self.likelihood_mean = _gauge(
            "likelihood_mean",
            "Mean raw value a likelihood model computed, over the current or the previous window.",
            ["model", "window"],
        )
        self.likelihood_shift = _gauge(
            "likelihood_mean_shift",
            "Current minus previous window's mean raw value of a likelihood model (likelihood drift).",
            ["model"],
        )
        self.likelihood_psi = _gauge(
            "likelihood_drift_psi",
            "Population stability index of a likelihood model's raw values.",
            ["model"],
        )
        self.likelihood_ks = _gauge(
            "likelihood_drift_ks",
            "Kolmogorov-Smirnov statistic of a likelihood model's raw values.",
            ["model"],
        )
        self.judge = _gauge(
            "judge_order_disagreement_share",
            "Share of pairwise verdicts whose two orders picked different winners (position bias).",
            ["judge"],
        )

    def all(self) -> list[GaugeMetricFamily]:
        return list(vars(self).values())

    def add_pipeline(self, name: str, stats: PipelineStats) -> None:
        self.items.add_metric([name], stats.items)
        for state, share in stats.status_share.items():
            self.status.add_metric([name, state], share)
        if stats.response_chars is not None:
            self.chars.add_metric([name], stats.response_chars.mean)
        for component, series in {"": stats.reward, **stats.components}.items():
            self.add_series([name, component], series)
        self.groups.add_metric([name], stats.groups)
        if stats.zero_advantage_share is not None:
            self.zero.add_metric([name], stats.zero_advantage_share)
        for component, value in stats.ensemble_spread.items():
            self.spread.add_metric([name, component], value)

    def add_series(self, labels: list[str], series: SeriesStats) -> None:
        windows: dict[str, Summary | None] = {"current": series.summary, "reference": series.reference}
        for window, summary in windows.items():
            if summary is not None:
                self.mean.add_metric([*labels, window], summary.mean)
                self.std.add_metric([*labels, window], summary.std)
        if series.summary is not None:
            for q, value in series.summary.quantiles.items():
                self.quantile.add_metric([*labels, f"{q:g}"], value)
        for family, value in (
            (self.correlation, series.length_correlation),
            (self.psi, series.drift_psi),
            (self.ks, series.drift_ks),
        ):
            if value is not None:
                family.add_metric(labels, value)

    def add_likelihood(self, name: str, stats: LikelihoodStats) -> None:
        series = stats.series
        for window, summary in (("current", series.summary), ("reference", series.reference)):
            if summary is not None:
                self.likelihood_mean.add_metric([name, window], summary.mean)
        for family, value in (
            (self.likelihood_shift, stats.mean_shift),
            (self.likelihood_psi, series.drift_psi),
            (self.likelihood_ks, series.drift_ks),
        ):
            if value is not None:
                family.add_metric([name], value)

    def add_judge(self, name: str, stats: JudgeStats) -> None:
        if stats.order_disagreement_share is not None:
            self.judge.add_metric([name], stats.order_disagreement_share)


def _families(snapshot: MonitorSnapshot) -> list[GaugeMetricFamily]:
    families = _Families()
    for name, stats in snapshot.pipelines.items():
        families.add_pipeline(name, stats)
    for name, stats in snapshot.judges.items():
        families.add_judge(name, stats)
    for name, stats in snapshot.likelihood.items():
        families.add_likelihood(name, stats)
    return families.all()
