"""Queued verifier work that can no longer meet its deadline is refused (429) before it starts.

The backend is slowed mid-run by the test (a verifier whose duration is read from a
file), not by loading the machine: work admitted while tasks took 20 ms must not run
past its deadline once they take 400 ms.
"""

import asyncio
import time
from pathlib import Path

import pytest

from rewardgate.errors import Overloaded
from rewardgate.sources.rule.pool import VerifierPool

pytestmark = pytest.mark.slow


def slowable(path: str) -> float:
    """A verifier that takes as long as the file says."""
    seconds = float(Path(path).read_text())
    time.sleep(seconds)
    return seconds


@pytest.fixture
async def pool():
    pool = VerifierPool(workers=1)
    await pool.warm()
    yield pool
    pool.close()


async def test_a_backend_slowed_mid_run_sheds_queued_calls_instead_of_running_past_the_deadline(
    pool, tmp_path
):
    speed = tmp_path / "seconds"
    speed.write_text("0.02")
    for _ in range(5):
        await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=time.monotonic() + 30)
    pool.check_entry("k", 8, time.monotonic() + 1.5)  # at 20 ms a task, eight fit easily

    speed.write_text("0.4")
    deadline = time.monotonic() + 1.5
    ended: list[float] = []

    async def call():
        result = await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=deadline)
        ended.append(time.monotonic())
        return result

    outcomes = await asyncio.gather(*(call() for _ in range(8)), return_exceptions=True)
    done = [o for o in outcomes if o == 0.4]
    refused = [o for o in outcomes if isinstance(o, Overloaded)]
    assert len(done) + len(refused) == 8, outcomes  # nothing else: no deadline error, no timeout
    assert done and refused
    assert all(at <= deadline for at in ended)  # no admitted call ran past its deadline
    assert all(o.retry_after_s is not None and o.retryable for o in refused)
    assert pool.shedder.backlog_s == pytest.approx(0, abs=1e-9)  # refused calls left the queue's account


def slowable_counted(path: str, starts: str) -> float:
    """:func:`slowable`, each start recorded as a line in ``starts``."""
    with open(starts, "a") as handle:
        handle.write("start\n")
    return slowable(path)


async def test_a_queued_request_is_refused_as_soon_as_a_slowed_task_shows_it_cannot_finish(pool, tmp_path):
    """The refusal comes from the first evidence (three slowed tasks ending), not when a queued task
    of the request finally reaches a worker or runs out of waiting time: counted in tasks run,
    so the test holds however fast the machine is."""
    speed, starts = tmp_path / "seconds", tmp_path / "starts"
    speed.write_text("0.02")
    for _ in range(5):
        await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=time.monotonic() + 30)
    deadline = time.monotonic() + 12.0
    entry = pool.check_entry("k", 40, deadline)  # at 20 ms a task, forty fit easily
    speed.write_text("0.5")  # now they take 20 s in all: the request cannot finish
    starts.write_text("")
    calls = [
        asyncio.ensure_future(
            pool.run(
                slowable_counted,
                str(speed),
                str(starts),
                timeout_s=30,
                kind="k",
                deadline=deadline,
                entry=entry,
            )
        )
        for _ in range(40)
    ]
    work = asyncio.gather(*calls, return_exceptions=True)
    await asyncio.wait({work, entry.refused}, return_when=asyncio.FIRST_COMPLETED)
    assert entry.refused.done() and isinstance(entry.refused.exception(), Overloaded)
    started = starts.read_text().count("start")
    # The third slowed task's end showed it (three make a typical time; a fourth may have begun).
    assert started <= 4, started
    assert "cannot finish" in str(entry.refused.exception())
    for call in calls:  # what the rule source does on a refusal
        call.cancel()
    await work
    entry.close()


async def test_a_slowdown_does_not_refuse_a_request_that_can_still_finish(pool, tmp_path):
    speed = tmp_path / "seconds"
    speed.write_text("0.02")
    for _ in range(5):
        await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=time.monotonic() + 30)
    deadline = time.monotonic() + 30
    entry = pool.check_entry("k", 4, deadline)
    speed.write_text("0.2")  # ten times slower, and still well within the deadline
    work = asyncio.gather(
        *(
            pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=deadline, entry=entry)
            for _ in range(4)
        )
    )
    await asyncio.wait({work, entry.refused}, return_when=asyncio.FIRST_COMPLETED)
    assert await work == [0.2] * 4
    assert not entry.refused.done()
    entry.close()


async def test_once_measured_slow_more_work_than_fits_is_refused_before_any_of_it_starts(pool, tmp_path):
    speed = tmp_path / "seconds"
    speed.write_text("0.3")
    await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=time.monotonic() + 30)
    busy = asyncio.create_task(pool.run(slowable, str(speed), timeout_s=30, kind="k"))
    await asyncio.sleep(0)  # the call is queued
    with pytest.raises(Overloaded) as refused:
        pool.check_entry("k", 8, time.monotonic() + 1.0)
    assert "would take" in str(refused.value)
    pool.check_entry("k", 1, time.monotonic() + 5.0)  # what fits is admitted
    pool.check_entry("other", 100, time.monotonic() + 1.0)  # another kind is measured on its own
    await busy
    # An idle pool admits: only running work can correct an estimate, so refusing would stick.
    pool.check_entry("k", 8, time.monotonic() + 1.0)


async def test_calls_without_a_deadline_are_never_shed(pool, tmp_path):
    speed = tmp_path / "seconds"
    speed.write_text("0.2")
    results = await asyncio.gather(
        *(pool.run(slowable, str(speed), timeout_s=30, kind="k") for _ in range(3))
    )
    assert results == [0.2] * 3


def test_a_verifier_task_imports_nothing_a_warmed_worker_lacks():
    """A new or recycled worker's first task once imported the rule source module (seconds on
    a loaded machine), pushing admitted requests past their deadline."""
    import pickle
    import subprocess
    import sys

    from rewardgate.items import ScoringItem
    from rewardgate.sources.rule.base import grade_in_worker, warm_up_rules
    from rewardgate.sources.rule.registry import build_rule

    rule = build_rule("math_verify", {})
    task = pickle.dumps((grade_in_worker, rule, ScoringItem("", "\\boxed{1}", "1")))
    initializer = pickle.dumps((warm_up_rules, [rule]))
    child = (
        "import pickle, sys\n"
        f"warm, rules = pickle.loads({initializer!r}); warm(rules)\n"
        "before = set(sys.modules)\n"
        f"fn, rule, item = pickle.loads({task!r})\n"
        "assert fn(rule, item) == 1.0\n"
        "print(sorted(m for m in set(sys.modules) - before if m.startswith('rewardgate')))\n"
    )
    run = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[]"
