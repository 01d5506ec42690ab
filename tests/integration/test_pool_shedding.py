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
    assert pool.shedder.backlog_s == 0  # refused calls left the queue's account


async def test_once_measured_slow_more_work_than_fits_is_refused_before_any_of_it_starts(pool, tmp_path):
    speed = tmp_path / "seconds"
    speed.write_text("0.3")
    await pool.run(slowable, str(speed), timeout_s=30, kind="k", deadline=time.monotonic() + 30)
    with pytest.raises(Overloaded) as refused:
        pool.check_entry("k", 8, time.monotonic() + 1.0)
    assert "would take" in str(refused.value)
    pool.check_entry("k", 2, time.monotonic() + 1.0)  # what fits is admitted
    pool.check_entry("other", 100, time.monotonic() + 1.0)  # another kind is measured on its own


async def test_calls_without_a_deadline_are_never_shed(pool, tmp_path):
    speed = tmp_path / "seconds"
    speed.write_text("0.2")
    results = await asyncio.gather(
        *(pool.run(slowable, str(speed), timeout_s=30, kind="k") for _ in range(3))
    )
    assert results == [0.2] * 3
