"""Admission from measured throughput, on a fake clock."""

import random

import pytest

from rewardgate.core.admission import AdmissionControl, PipelineMeter, ThroughputMeter
from rewardgate.errors import Overloaded


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_meter_measures_items_per_busy_second_and_ignores_idle_time():
    clock = Clock()
    meter = ThroughputMeter(tau_s=10, min_items=10, clock=clock)
    for _ in range(20):  # 100 items per second while busy
        meter.start(10)
        clock.now += 0.1
        meter.finish(10, completed=True)
        clock.now += 5.0  # idle: must not dilute the rate... but it decays the weights alike
    assert meter.rate() == pytest.approx(100, rel=0.01)


def test_meter_counts_only_completed_work():
    clock = Clock()
    meter = ThroughputMeter(tau_s=10, min_items=10, clock=clock)
    meter.start(100)
    clock.now += 1.0
    meter.finish(100, completed=False)  # failed or timed out: no evidence of throughput
    assert meter.rate() is None


def test_pipeline_meter_is_the_lower_of_two_throughput_meters():
    """PipelineMeter computes both time constants in one pass: the same rates as two meters."""
    clock, rng = Clock(), random.Random(7)
    combined = PipelineMeter(clock=clock)
    fast, slow = ThroughputMeter(tau_s=1.0, clock=clock), ThroughputMeter(tau_s=5.0, clock=clock)
    seen = 0
    for _ in range(400):
        items = rng.randint(1, 40)
        for meter in (combined, fast, slow):
            meter.start(items)
        clock.now += rng.uniform(0, 0.3)
        completed, computed = rng.random() > 0.1, rng.randint(0, items)
        for meter in (combined, fast, slow):
            meter.finish(items, completed, computed)
        clock.now += rng.choice([0.0, 0.01, 0.5, 3.0])
        rates = [r for r in (fast.rate(), slow.rate()) if r is not None]
        expected = min(rates) if rates else None
        got = combined.rate()
        if expected is None:
            assert got is None
        else:
            seen += 1
            assert got == pytest.approx(expected, rel=1e-9)
        assert combined.inflight == slow.inflight == 0
    assert seen > 300


def make(clock, **kwargs):
    return AdmissionControl(
        1_000_000, 1.0, meter_factory=lambda: ThroughputMeter(tau_s=10, min_items=10, clock=clock), **kwargs
    )


def warm(admission, clock, pipeline="p", rate=100.0):
    """Teach ``admission`` that ``pipeline`` completes ``rate`` items per busy second."""
    with admission.admit(100, pipeline, deadline_s=60):
        clock.now += 100 / rate


def test_refuses_what_cannot_finish_within_the_deadline_with_a_truthful_retry_after():
    clock = Clock()
    admission = make(clock, deadline_fraction=0.5)
    warm(admission, clock)
    with admission.admit(300, "p", deadline_s=60):  # 3 s of work in flight
        with admission.admit(50, "p", deadline_s=10):  # 3.5 s <= 5 s: admitted
            clock.now += 0.5
        with pytest.raises(Overloaded) as refused:
            admission.admit(300, "p", deadline_s=10).__enter__()  # ~6 s > 5 s
        rate = admission.meters["p"].rate()
    assert rate == pytest.approx(100, rel=0.1)
    # Retry-After: the time until the backlog leaves room within the budget.
    assert refused.value.retry_after_s == pytest.approx(600 / rate - 5)


def test_pipelines_are_measured_apart():
    clock = Clock()
    admission = make(clock)
    warm(admission, clock, "slow", rate=10)
    with admission.admit(100, "slow", deadline_s=60):  # 10 s of slow work in flight
        with pytest.raises(Overloaded):
            admission.admit(10, "slow", deadline_s=10).__enter__()
        with admission.admit(10, "fast", deadline_s=10):  # another pipeline is not held up
            pass


def test_an_idle_pipeline_admits_any_single_request_and_probes_before_measuring():
    clock = Clock()
    admission = make(clock, probe_items=100)
    # Idle: admitted whatever it costs; then probing until a rate is measured.
    with admission.admit(5_000, "p", deadline_s=0.001), pytest.raises(Overloaded, match="being measured"):
        admission.admit(1, "p", deadline_s=60).__enter__()


def test_cache_hits_do_not_count_as_throughput():
    clock = Clock()
    admission = make(clock)
    warm(admission, clock, rate=100)
    with admission.admit(1000, "p", deadline_s=60) as ticket:  # all served from the cache, at once
        ticket.free_items = 1000
    assert admission.meters["p"].rate() == pytest.approx(100, rel=0.1)
