"""Circuit breaker state machine, on a controlled clock."""

from rewardgate.breaker import CLOSED, HALF_OPEN, OPEN, CircuitBreaker


def make(threshold=3, reset=10.0):
    now = [0.0]
    changes = []
    breaker = CircuitBreaker(threshold, reset, clock=lambda: now[0], on_change=changes.append)
    return breaker, now, changes


def test_opens_after_consecutive_failures_only():
    breaker, _, _ = make()
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()  # resets the count
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == CLOSED
    breaker.record_failure()
    assert breaker.state == OPEN and not breaker.allow()


def test_half_open_lets_exactly_one_probe_through():
    breaker, now, _ = make(threshold=1)
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
    assert not breaker.allow()  # a second caller waits for the probe's verdict


def test_probe_success_closes_and_probe_failure_reopens():
    breaker, now, changes = make(threshold=1)
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == OPEN
    now[0] = 15.0
    assert breaker.state == OPEN  # a new full cool-down from the failed probe
    now[0] = 20.0
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == CLOSED and breaker.allow()
    assert changes == [OPEN, HALF_OPEN, OPEN, HALF_OPEN, CLOSED]


def test_a_cancelled_probe_frees_the_slot_for_the_next_probe():
    breaker, now, _ = make(threshold=1)
    breaker.record_failure()
    now[0] = 10.0
    assert breaker.allow()
    breaker.abandon_call()
    assert breaker.state == HALF_OPEN
    assert breaker.allow()
