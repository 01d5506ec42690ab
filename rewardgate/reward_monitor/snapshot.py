"""What the reward monitor reports at one moment (``GET /v1/stats``, ``/metrics``).

A statistic is ``None`` when it is undefined or rests on fewer than
``min_items`` values; consumers report it as absent, never as zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardgate.reward_monitor.statistics import Summary


@dataclass(frozen=True, slots=True)
class SeriesStats:
    """One reward series: a pipeline's reward or one of its components."""

    summary: Summary | None
    #: The drift reference window's summary.
    reference: Summary | None
    #: Spearman's rho between the value and the response length in characters.
    length_correlation: float | None
    drift_psi: float | None
    drift_ks: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            **_summary_json(self.summary),
            "length_correlation": self.length_correlation,
            "drift": {"psi": self.drift_psi, "ks": self.drift_ks},
            "reference": _summary_json(self.reference),
        }


@dataclass(frozen=True, slots=True)
class PipelineStats:
    items: int
    #: Share of the window's items per status (ok, partial, error).
    status_share: dict[str, float]
    response_chars: Summary | None
    reward: SeriesStats
    components: dict[str, SeriesStats]
    #: Groups of two or more rewards seen within the window.
    groups: int
    #: Share of those groups whose rewards are all equal (no GRPO learning signal).
    zero_advantage_share: float | None
    #: Ensemble component -> mean standard deviation across its members.
    ensemble_spread: dict[str, float]
    #: What drift is measured against: "previous_window" or "pinned".
    reference: str

    def as_json(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "status_share": self.status_share,
            "response_chars": _summary_json(self.response_chars),
            "reward": self.reward.as_json(),
            "components": {name: series.as_json() for name, series in self.components.items()},
            "groups": {"count": self.groups, "zero_advantage_share": self.zero_advantage_share},
            "ensemble_spread": self.ensemble_spread,
            "drift_reference": self.reference,
        }


@dataclass(frozen=True, slots=True)
class JudgeStats:
    #: Pairwise verdicts (asked in both orders) within the window.
    pairwise_verdicts: int
    #: Share of them where the two orders picked different winners (position bias).
    order_disagreement_share: float | None
    #: Mean |P(better as first) - P(better as second)|.
    mean_order_gap: float | None

    def as_json(self) -> dict[str, Any]:
        return {
            "pairwise_verdicts": self.pairwise_verdicts,
            "order_disagreement_share": self.order_disagreement_share,
            "mean_order_gap": self.mean_order_gap,
        }


@dataclass(frozen=True, slots=True)
class LikelihoodStats:
    """A likelihood model's raw values (head 0, before any transform), whatever pipelines read it."""

    #: Values the model computed within the current window (cache hits are not recomputed).
    items: int
    series: SeriesStats
    #: Current mean minus the previous window's mean, in the model's units (nats for log-probs).
    mean_shift: float | None

    def as_json(self) -> dict[str, Any]:
        return {"items": self.items, **self.series.as_json(), "mean_shift": self.mean_shift}


@dataclass(frozen=True, slots=True)
class MonitorSnapshot:
    window_items: int
    window_s: float
    min_items: int
    pipelines: dict[str, PipelineStats]
    judges: dict[str, JudgeStats]
    likelihood: dict[str, LikelihoodStats] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "window": {"items": self.window_items, "seconds": self.window_s, "min_items": self.min_items},
            "pipelines": {name: stats.as_json() for name, stats in self.pipelines.items()},
            "judges": {name: stats.as_json() for name, stats in self.judges.items()},
            "likelihood": {name: stats.as_json() for name, stats in self.likelihood.items()},
        }


def _summary_json(summary: Summary | None) -> dict[str, Any]:
    if summary is None:
        return {"count": None, "mean": None, "std": None, "quantiles": None}
    return {
        "count": summary.count,
        "mean": summary.mean,
        "std": summary.std,
        "quantiles": {f"{q:g}": value for q, value in summary.quantiles.items()},
    }
