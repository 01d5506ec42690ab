"""The killable verifier pool, with real worker processes."""

import os
import time

import pytest

from service.errors import InvalidReference, VerifierError, VerifierTimeout
from service.rules.pool import VerifierPool

pytestmark = pytest.mark.slow


def spin_forever():
    while True:
        pass


def die_hard():
    os._exit(3)


def raise_invalid():
    raise InvalidReference("bad gold")


def raise_bug():
    raise ZeroDivisionError("oops")


def square(x):
    return x * x


@pytest.fixture
async def pool():
    pool = VerifierPool(workers=2, max_tasks_per_worker=100)
    yield pool
    pool.close()


async def test_hung_verifier_is_killed_and_pool_keeps_full_strength(pool):
    with pytest.raises(VerifierTimeout):
        await pool.run(spin_forever, timeout_s=0.5)
    with pytest.raises(VerifierTimeout):
        await pool.run(spin_forever, timeout_s=0.5)
    # Both workers were replaced: two calls still run side by side.
    results = [await pool.run(square, n, timeout_s=30) for n in range(4)]
    assert results == [0, 1, 4, 9]


async def test_two_hangs_do_not_block_a_third_caller_for_long(pool):
    import asyncio

    hangs = [asyncio.create_task(pool.run(spin_forever, timeout_s=1.0)) for _ in range(2)]
    started = time.monotonic()
    assert await pool.run(square, 7, timeout_s=30) == 49
    for hang in hangs:
        with pytest.raises(VerifierTimeout):
            await hang
    assert time.monotonic() - started < 30  # it ran once a worker was replaced


async def test_crashed_worker_is_a_verifier_error_and_replaced(pool):
    with pytest.raises(VerifierError, match="died"):
        await pool.run(die_hard, timeout_s=30)
    assert await pool.run(square, 3, timeout_s=30) == 9


async def test_component_errors_pass_through_and_bugs_are_wrapped(pool):
    with pytest.raises(InvalidReference, match="bad gold"):
        await pool.run(raise_invalid, timeout_s=30)
    with pytest.raises(VerifierError, match="ZeroDivisionError"):
        await pool.run(raise_bug, timeout_s=30)


async def test_cancelling_the_caller_kills_the_running_verifier(pool):
    import asyncio

    task = asyncio.create_task(pool.run(spin_forever, timeout_s=60))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(pool.run(square, 5, timeout_s=30), 30) == 25
