"""Group monitoring: how often a vote finds no majority, and how much groups agree.

One :class:`GroupStats` per service, fed once per scored group by the group
columns (rewardgate/pipeline/group_column.py) and read by ``/v1/stats`` and the
Prometheus exporter. Counters are cumulative since start-up, per pipeline and
component; ``recent`` keeps the last groups' agreement for a windowed mean.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily


@dataclass
class GroupCounters:
    groups: int = 0
    no_majority: int = 0
    agreement_sum: float = 0.0
    recent: deque = field(default_factory=lambda: deque(maxlen=1024))

    def snapshot(self) -> dict:
        recent = list(self.recent)
        return {
            "groups": self.groups,
            "no_majority_share": self.no_majority / self.groups if self.groups else None,
            "mean_agreement": self.agreement_sum / self.groups if self.groups else None,
            "recent_mean_agreement": sum(recent) / len(recent) if recent else None,
        }


class GroupStats:
    """Per (pipeline, component): groups voted on, with no majority, and their agreement."""

    def __init__(self) -> None:
        self.counters: dict[tuple[str, str], GroupCounters] = {}

    def _of(self, pipeline: str, component: str) -> GroupCounters:
        key = (pipeline, component)
        if key not in self.counters:
            self.counters[key] = GroupCounters()
        return self.counters[key]

    def voted(self, pipeline: str, component: str, agreement: float, has_majority: bool) -> None:
        counters = self._of(pipeline, component)
        counters.groups += 1
        counters.no_majority += 0 if has_majority else 1
        counters.agreement_sum += agreement
        counters.recent.append(agreement)

    def snapshot(self, pipeline: str) -> dict[str, dict]:
        return {c: counters.snapshot() for (p, c), counters in self.counters.items() if p == pipeline}


#: A stats sink that records nothing (sub-evaluations that must not count twice).
class NoGroupStats(GroupStats):
    def voted(self, pipeline: str, component: str, agreement: float, has_majority: bool) -> None:
        return None


class GroupStatsCollector:
    """``rewardgate_group_votes_total``, ``rewardgate_group_no_majority_total`` and
    ``rewardgate_group_agreement_mean`` per pipeline and component, read at scrape time."""

    def __init__(self, stats: GroupStats) -> None:
        self.stats = stats

    def describe(self):
        return []

    def collect(self):
        labels = ["pipeline", "component"]
        votes = CounterMetricFamily(
            "rewardgate_group_votes", "Group votes taken by group components.", labels=labels
        )
        none = CounterMetricFamily(
            "rewardgate_group_no_majority", "Group votes that found no majority.", labels=labels
        )
        agreement = GaugeMetricFamily(
            "rewardgate_group_agreement_mean",
            "Mean share of a group voting for its top answer, over the last 1024 votes.",
            labels=labels,
        )
        for (pipeline, component), counters in list(self.stats.counters.items()):
            votes.add_metric([pipeline, component], counters.groups)
            none.add_metric([pipeline, component], counters.no_majority)
            recent = list(counters.recent)
            if recent:
                agreement.add_metric([pipeline, component], sum(recent) / len(recent))
        yield votes
        yield none
        yield agreement
