"""``Histogram.observe_many`` records exactly what one ``observe`` per value records."""

from __future__ import annotations

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from rewardgate.observability.metrics import Histogram

BUCKETS = (-1, 0, 0.5, 1, 10)


def exposition(fill) -> str:
    registry = CollectorRegistry()
    histogram = Histogram("h", "test", ["pipeline"], buckets=BUCKETS, registry=registry)
    fill(histogram.labels("p"))
    lines = generate_latest(registry).decode().splitlines()
    return "\n".join(line for line in lines if "_created" not in line)  # a timestamp


@pytest.mark.parametrize(
    "values",
    [[], [0.5], [-3.0, -1.0, 0.0, 0.25, 0.5, 0.5, 1.0, 7.0, 10.0, 11.0, 1e9], [0.1] * 100],
    ids=["none", "one", "every-bucket-and-bounds", "repeated"],
)
def test_observe_many_matches_observing_one_by_one(values):
    def one_by_one(child):
        for value in values:
            child.observe(value)

    assert exposition(lambda child: child.observe_many(values)) == exposition(one_by_one)


@pytest.mark.parametrize(
    "values",
    [
        [0.5],
        [-3.0, -1.0, 0.0, 0.25, 0.5, 1.0, 7.0, 10.0, 11.0, 1e9, float("inf"), float("-inf"), float("nan")],
    ],
    ids=["one", "every-bucket-bounds-infinities-nan"],
)
def test_observe_records_what_prometheus_client_records(values):
    def library(child):
        for value in values:
            prometheus_client.Histogram.observe(child, value)

    def ours(child):
        for value in values:
            child.observe(value)

    assert exposition(ours) == exposition(library)
