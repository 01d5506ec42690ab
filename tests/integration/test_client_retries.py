"""The client's retry discipline against a scripted service on a real socket."""

import asyncio
import time

import pytest
from rewardgate_client import (
    AsyncRewardClient,
    ConnectionFailed,
    DeadlineExceeded,
    InvalidInput,
    Overloaded,
    RetryPolicy,
    RewardClient,
)

from tests.support.scripted_service import ScriptedScoreService
from tests.support.server import free_port

ITEM = [{"response": "x"}]


@pytest.fixture(scope="module")
def scripted():
    service = ScriptedScoreService().start()
    yield service
    service.stop()


async def score_async(url, policy=None, **kwargs):
    async with AsyncRewardClient(
        url, retry=policy or RetryPolicy(initial_backoff_s=0.01), **kwargs
    ) as client:
        return await client.score(ITEM, pipeline="p")


async def score_blocking(url, policy=None, **kwargs):
    """The sync client from a plain thread (no running loop): over HTTP, its blocking path."""

    def call():
        with RewardClient(url, retry=policy or RetryPolicy(initial_backoff_s=0.01), **kwargs) as client:
            try:
                return client.score(ITEM, pipeline="p")
            finally:
                assert bool(client._blocking) == url.startswith("http")  # the path under test was taken

    return await asyncio.to_thread(call)


@pytest.fixture(params=[score_async, score_blocking], ids=["async", "sync-blocking"])
def score(request):
    """One call through each client path; both follow one retry discipline."""
    return request.param


async def test_429_is_retried_no_sooner_than_retry_after(scripted, score):
    scripted.play(("status", 429, 0.4))
    (result,) = await score(scripted.url)
    assert result.reward == 1.0
    first, second = scripted.arrivals
    assert second - first >= 0.4


async def test_503_and_connection_resets_are_retried(scripted, score):
    scripted.play(("status", 503, None), ("reset",), ("status", 503, None))
    (result,) = await score(scripted.url)
    assert result.reward == 1.0 and len(scripted.arrivals) == 4


async def test_4xx_is_not_retried(scripted, score):
    scripted.play(("status", 422, None))
    with pytest.raises(InvalidInput):
        await score(scripted.url)
    assert len(scripted.arrivals) == 1


async def test_attempts_are_capped(scripted, score):
    scripted.play(*[("status", 429, None)] * 10)
    with pytest.raises(Overloaded):
        await score(scripted.url, RetryPolicy(attempts=3, initial_backoff_s=0.01))
    assert len(scripted.arrivals) == 3


async def test_a_retry_after_beyond_the_deadline_is_not_waited_for(scripted, score):
    scripted.play(("status", 429, 30))
    started = time.monotonic()
    with pytest.raises(Overloaded):
        await score(scripted.url, timeout_s=2)
    assert time.monotonic() - started < 2 and len(scripted.arrivals) == 1


async def test_the_call_deadline_is_respected_and_sent_to_the_server(scripted, score):
    scripted.play(("sleep", 5))
    started = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        await score(scripted.url, timeout_s=0.5)
    assert time.monotonic() - started < 5


async def test_retry_budget_stops_a_retry_storm(scripted):
    policy = RetryPolicy(initial_backoff_s=0.01, budget_max=2, budget_ratio=0.0)
    scripted.play(*[("status", 503, None)] * 20)
    async with AsyncRewardClient(scripted.url, retry=policy) as client:
        for _ in range(3):
            with pytest.raises(Exception, match="scripted"):
                await client.score(ITEM, pipeline="p")
    assert len(scripted.arrivals) == 3 + 2  # three calls, two retries in the budget


def test_a_blocking_call_counts_once_in_the_retry_budget(scripted):
    # The blocking path counts a call in the budget before its first attempt and builds its
    # retry loop only at a failure: a call refills the budget once, failing or not.
    policy = RetryPolicy(initial_backoff_s=0.01, budget_ratio=0.25)
    scripted.play(("status", 503, None))
    with RewardClient(scripted.url, retry=policy) as client:
        client._budget.tokens = 5.0
        client.score(ITEM, pipeline="p")  # a 503, one retry
        assert client._budget.tokens == 5.0 + 0.25 - 1
        client.score(ITEM, pipeline="p")
        assert client._budget.tokens == 4.25 + 0.25
        assert client._blocking  # the blocking path was taken


@pytest.mark.parametrize("scheme", ["http", "grpc"])
async def test_unreachable_service_is_connection_failed_after_retrying_within_the_deadline(scheme, score):
    url = f"{scheme}://127.0.0.1:{free_port()}"
    with pytest.raises((ConnectionFailed, DeadlineExceeded)):
        await score(url, timeout_s=1.0)


def test_the_default_retries_span_at_least_fourteen_seconds_of_refused_connections():
    """Equal jitter: every draw lies in [ceiling / 2, ceiling], so nine retries of the default
    policy wait at least half the ceilings' sum, however unlucky the draws."""
    policy = RetryPolicy()
    ceilings = [
        min(policy.max_backoff_s, policy.initial_backoff_s * 2**n) for n in range(policy.attempts - 1)
    ]
    for number, ceiling in enumerate(ceilings):
        draws = [policy.backoff_s(number, None) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in draws)
    assert sum(ceilings) / 2 >= 13.8
    assert policy.backoff_s(0, retry_after_s=3.0) == 3.0  # Retry-After stays a lower bound
