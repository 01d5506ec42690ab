"""The killable verifier pool, with real worker processes."""

import asyncio
import contextlib
import os
import signal
import time

import pytest

from rewardgate.errors import InvalidReference, VerifierError, VerifierTimeout
from rewardgate.sources.rule.pool import VerifierPool

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


def worker_pid():
    time.sleep(0.2)  # long enough that concurrent calls land on different workers
    return os.getpid()


def sleep_then_pid(seconds):
    time.sleep(seconds)
    return os.getpid()


async def worker_pids(pool) -> set[int]:
    return set(await asyncio.gather(*(pool.run(worker_pid, timeout_s=30) for _ in range(pool.workers))))


async def test_cancelling_a_running_call_spares_the_worker(pool):
    before = await worker_pids(pool)
    tasks = [asyncio.create_task(pool.run(sleep_then_pid, 1.0, timeout_s=30)) for _ in range(2)]
    await asyncio.sleep(0.3)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    # The abandoned calls finish on their own; no worker was killed to stop them.
    assert await worker_pids(pool) == before
    assert pool.restarts == 0


async def test_a_cancelled_call_that_had_not_started_never_runs(pool, tmp_path):
    marker = tmp_path / "ran"
    blockers = [asyncio.create_task(pool.run(time.sleep, 1.0, timeout_s=30)) for _ in range(2)]
    await asyncio.sleep(0.3)
    queued = asyncio.create_task(pool.run(marker.touch, timeout_s=30))
    await asyncio.sleep(0.1)
    queued.cancel()
    await asyncio.gather(*blockers)
    await pool.run(square, 2, timeout_s=30)
    assert not marker.exists()


async def test_a_hung_call_still_hits_its_own_limit_after_being_abandoned(pool):
    task = asyncio.create_task(pool.run(spin_forever, timeout_s=1.0))
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await asyncio.wait_for(pool.run(square, 5, timeout_s=30), 30) == 25
    # Past its own limit the abandoned call's worker was killed and replaced.
    await asyncio.sleep(1.5)
    assert await asyncio.wait_for(worker_pids(pool), 30)


async def test_a_worker_killed_from_outside_heals_the_pool_and_readiness_follows(pool):
    pool.warmed = True
    supervisor = asyncio.create_task(pool.supervise(interval_s=0.1))
    try:
        victim = next(iter(await worker_pids(pool)))
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        saw_not_ready = False
        while not (pool.restarts and pool.ready):
            saw_not_ready |= not pool.ready
            assert time.monotonic() < deadline, "the pool did not heal"
            await asyncio.sleep(0.05)
        assert saw_not_ready and pool.restarts == 1
        assert [await pool.run(square, n, timeout_s=30) for n in range(3)] == [0, 1, 4]
    finally:
        supervisor.cancel()


def sandbox_processes() -> list[int]:
    """Processes of sandbox runs in progress (the cells and their prepared slots stay)."""
    from rewardgate.sources.rule.sandbox.runner import live_processes

    return live_processes(range(61_000, 65_000), runs_only=True)


async def test_cancelling_a_code_check_kills_its_sandbox_at_once_and_spares_the_worker(pool):
    from rewardgate.items import ScoringItem
    from rewardgate.sources.rule.base import grade_in_worker
    from rewardgate.sources.rule.registry import build_rule

    rule = build_rule("code_tests", {"timeout_s": 30})
    sleeper = ScoringItem("", "import time\ndef add(a, b):\n    time.sleep(60)\n", "assert add(1, 2) == 3\n")
    before = await worker_pids(pool)
    task = asyncio.create_task(pool.run(grade_in_worker, rule, sleeper, timeout_s=60))
    deadline = time.monotonic() + 20
    while not sandbox_processes():
        assert time.monotonic() < deadline, "the sandbox never started"
        await asyncio.sleep(0.05)
    task.cancel()
    cancelled_at = time.monotonic()
    while sandbox_processes():
        assert time.monotonic() - cancelled_at < 1.0, "the sandbox outlived its request"
        await asyncio.sleep(0.02)
    assert await worker_pids(pool) == before


def loaded_modules(names):
    import sys

    return {name: name in sys.modules for name in names}


async def test_workers_are_warmed_for_every_isolated_rule_before_ready():
    import functools

    from rewardgate.sources.rule.base import warm_up_rules
    from rewardgate.sources.rule.registry import build_rule

    rules = tuple(build_rule(kind, {}) for kind in ("rouge", "bleu", "math_verify", "code_tests"))
    pool = VerifierPool(workers=2, initializer=functools.partial(warm_up_rules, rules))
    try:
        assert not pool.ready
        await pool.warm()
        assert pool.ready
        # No rule has checked an item yet, but each worker already holds what the first check needs.
        modules = ["rouge_score", "sacrebleu", "math_verify"]
        checks = [pool.run(loaded_modules, modules, timeout_s=30) for _ in range(2)]
        for loaded in await asyncio.gather(*checks):
            assert loaded == dict.fromkeys(modules, True)
    finally:
        pool.close()


async def test_a_pool_that_cannot_be_replaced_is_reported_unrecoverable():
    """What turns /healthz 503 (a liveness restart): replacements that keep failing."""
    import functools

    pool = VerifierPool(workers=1, initializer=functools.partial(os._exit, 3))  # workers die at start
    supervisor = asyncio.create_task(pool.supervise(interval_s=0.1))
    try:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pool.warm(), 10)
        deadline = time.monotonic() + 60
        while pool.recoverable:
            assert time.monotonic() < deadline, "the pool never gave up"
            await asyncio.sleep(0.1)
        assert pool.failed_restarts >= 3 and not pool.ready
    finally:
        supervisor.cancel()
        pool.close()
