"""Our histograms and counters record exactly what prometheus_client's record (``observe_many``
as one ``observe`` per value), and lose no update under threads."""

from __future__ import annotations

import sys
import threading

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from rewardgate.observability.collectors import Counter, Histogram

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


def test_a_labelled_parent_still_refuses_to_observe_or_count():
    registry = CollectorRegistry()
    histogram = Histogram("h", "test", ["pipeline"], buckets=BUCKETS, registry=registry)
    counter = Counter("c", "test", ["pipeline"], registry=registry)
    with pytest.raises(ValueError, match="missing label values"):
        histogram.observe(1.0)
    with pytest.raises(ValueError, match="missing label values"):
        counter.inc()
    with pytest.raises(ValueError, match="non-negative"):
        counter.labels("p").inc(-1)


def counter_exposition(fill) -> str:
    registry = CollectorRegistry()
    counter = Counter("c", "test", ["pipeline"], registry=registry)
    fill(counter)
    lines = generate_latest(registry).decode().splitlines()
    return "\n".join(line for line in lines if "_created" not in line)


def test_counting_records_what_prometheus_client_records():
    amounts = [1, 2.5, 0, 1e9]

    def library(counter):
        for amount in amounts:
            prometheus_client.Counter.inc(counter.labels("p"), amount)
        prometheus_client.Counter.inc(counter.labels("q"))

    def ours(counter):
        for amount in amounts:
            counter.labels("p").inc(amount)
        counter.labels("q").inc()

    assert counter_exposition(ours) == counter_exposition(library)


def test_no_update_is_lost_when_threads_observe_and_count_at_once():
    registry = CollectorRegistry()
    histogram = Histogram("h", "test", ["pipeline"], buckets=(0.5, 1, 10), registry=registry)
    counter = Counter("c", "test", ["pipeline"], registry=registry)
    child, count = histogram.labels("p"), counter.labels("p")
    rounds, threads = 20_000, 4

    def work() -> None:
        for step in range(rounds):
            if step % 100 == 0:  # the library's path (an exemplar), under the same lock
                child.observe(0.25, {"trace_id": "t"})
            else:
                child.observe(0.25)
            count.inc()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        sys.setswitchinterval(previous)
    observed = rounds * threads
    assert registry.get_sample_value("h_count", {"pipeline": "p"}) == observed
    assert registry.get_sample_value("h_bucket", {"pipeline": "p", "le": "0.5"}) == observed
    assert registry.get_sample_value("h_sum", {"pipeline": "p"}) == 0.25 * observed  # exact in binary
    assert registry.get_sample_value("c_total", {"pipeline": "p"}) == observed
