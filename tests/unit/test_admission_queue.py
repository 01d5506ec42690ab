"""QueueShedder on a scripted clock: what is refused, and when (the pool tests run it for real)."""

import pytest

from rewardgate.errors import Overloaded
from rewardgate.sources.admission_queue import QueueShedder


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def run_task(shedder: QueueShedder, clock: Clock, kind: str, seconds: float, token: str = "t") -> None:
    added = shedder.enter(kind)
    shedder.started(token, kind)
    clock.now += seconds
    shedder.finished(token, kind, added, ended_at=clock.now)


async def test_requests_that_entered_unmeasured_are_rechecked_once_measured():
    clock = Clock()
    shedder = QueueShedder(1, "pool", clock)
    first = shedder.check_entry("k", 10, clock.now + 5)
    second = shedder.check_entry("k", 10, clock.now + 5)  # nothing known yet: both wait
    run_task(shedder, clock, "k", 0.3, "a")
    run_task(shedder, clock, "k", 0.3, "b")
    assert not second.refused.done()  # two tasks are too few to judge on
    run_task(shedder, clock, "k", 0.3, "c")  # 0.3 s a task: ten fit in the 4.1 s left, twenty do not
    assert not first.refused.done()
    assert isinstance(second.refused.exception(), Overloaded)
    shedder.enter("k")
    shedder.started("busy", "k")
    with pytest.raises(Overloaded):
        shedder.check_entry("k", 20, clock.now + 5)  # measured now: checked at once


async def test_a_slowdown_counts_within_a_task_and_an_idle_queue_admits():
    clock = Clock()
    shedder = QueueShedder(2, "pool", clock)
    run_task(shedder, clock, "k", 0.01)
    run_task(shedder, clock, "k", 1.01)  # tasks got 100x slower
    assert shedder.expected_s("k") == pytest.approx(0.31)  # 0.01 + 0.3 x 1.0
    added = shedder.enter("k")
    shedder.started("queued", "k")
    with pytest.raises(Overloaded):
        shedder.check_entry("k", 16, clock.now + 3)  # 16 x 0.31 s over two workers: no
    with pytest.raises(Overloaded):
        shedder.check_start("k", clock.now + 0.6)  # two task times and a margin do not fit
    shedder.finished("queued", "k", added, ended_at=clock.now, seconds=0.01)
    assert not shedder.check_entry("k", 16, clock.now + 3).refused.done()  # idle: admitted
    assert shedder.typical_s("k") is None  # and measured afresh
    assert shedder.expected_s("other") is None  # kinds are measured apart


async def test_the_time_a_task_ran_in_its_worker_is_its_cost_not_the_wait_for_a_worker():
    clock = Clock()
    shedder = QueueShedder(1, "pool", clock)
    added = shedder.enter("k")
    shedder.started("t", "k")
    clock.now += 3.0  # a replacement worker started first
    shedder.finished("t", "k", added, ended_at=clock.now, seconds=0.02)
    assert shedder.expected_s("k") == pytest.approx(0.02)


async def test_the_loops_lag_in_hearing_of_an_ended_task_widens_the_margin():
    clock = Clock()
    shedder = QueueShedder(1, "pool", clock)
    run_task(shedder, clock, "k", 0.1)
    roomy = shedder.give_up_in("k", clock.now + 1)
    added = shedder.enter("k")
    shedder.started("late", "k")
    clock.now += 0.1
    ended = clock.now
    clock.now += 0.4  # the loop heard of the end 0.4 s late
    shedder.finished("late", "k", added, ended_at=ended)
    assert shedder.lag_s == pytest.approx(0.4)
    assert shedder.give_up_in("k", clock.now + 1) < roomy - 0.4


def measured_shedder() -> tuple[QueueShedder, Clock]:
    """A one-worker queue whose kind ``k`` has three 0.1 s tasks behind it (a typical time)."""
    clock = Clock()
    shedder = QueueShedder(1, "pool", clock)
    for _ in range(3):
        run_task(shedder, clock, "k", 0.1)
    return shedder, clock


def waiting_entry(shedder: QueueShedder, clock: Clock, tasks: int, deadline_s: float):
    """A request entered behind one running task (so not admitted on an idle queue)."""
    added = shedder.enter("k")
    shedder.started("ahead", "k")
    return shedder.check_entry("k", tasks, clock.now + deadline_s), added


async def test_a_waiting_request_is_refused_when_slower_tasks_show_it_cannot_finish():
    shedder, clock = measured_shedder()
    early, added = waiting_entry(shedder, clock, 1, 14.0)
    late = shedder.check_entry("k", 15, clock.now + 14.0)  # 1.7 s of work ahead and its own: admitted
    clock.now += 0.9
    shedder.finished("ahead", "k", added, ended_at=clock.now, seconds=0.9)
    assert not late.refused.done()  # one slow task (a heavy tail) is not evidence
    run_task(shedder, clock, "k", 0.9, "a")
    assert not late.refused.done()
    run_task(shedder, clock, "k", 0.9, "b")  # three of five: every task is slower now
    assert shedder.typical_s("k") == pytest.approx(0.9)
    # 11.3 s left: the early request's one task fits, the late one's 0.9 + 15 x 0.9 s do not.
    assert not early.refused.done()
    refusal = late.refused.exception()
    assert isinstance(refusal, Overloaded) and refusal.retry_after_s == pytest.approx(14.4)
    assert "15 queued tasks cannot finish by their deadline" in str(refusal)


async def test_a_waiting_request_past_the_early_share_of_its_time_is_left_to_the_start_check():
    shedder, clock = measured_shedder()
    entry, added = waiting_entry(shedder, clock, 15, 14.0)
    clock.now += 3.0  # past 20% of its 14 s
    shedder.finished("ahead", "k", added, ended_at=clock.now, seconds=3.0)
    for token in "ab":
        run_task(shedder, clock, "k", 0.9, token)  # slower now: 15 x 0.9 s would not fit
    assert not entry.refused.done()


async def test_requests_whose_tasks_all_started_or_that_ended_are_not_refused():
    shedder, clock = measured_shedder()
    running, _ = waiting_entry(shedder, clock, 2, 4.0)
    ended = shedder.check_entry("k", 2, clock.now + 4.0)
    running.task_started()
    running.task_started()  # both its tasks are with workers: nothing of it waits
    ended.close()
    for token in "abc":
        run_task(shedder, clock, "k", 5.0, token)  # far too slow for either
    assert not running.refused.done() and not ended.refused.done()


async def test_workers_held_by_long_tasks_count_as_lost_when_the_others_end_theirs():
    clock = Clock()
    shedder = QueueShedder(4, "pool", clock)
    for _ in range(3):
        run_task(shedder, clock, "k", 0.1)
    long_added = [shedder.enter("k") for _ in range(3)]
    for index in range(3):
        shedder.started(f"long{index}", "k")  # heavy-tailed tasks: they will hold three workers
    entry = shedder.check_entry("k", 40, clock.now + 3.0)  # 4.3 s of work / 4 workers: admitted
    clock.now += 0.1
    run_task(shedder, clock, "k", 0.1, "quick")  # the fourth worker, at the usual pace
    assert not entry.refused.done()  # the long tasks are not past twice the typical time yet
    clock.now += 0.2
    run_task(shedder, clock, "k", 0.1, "quick")  # typical unchanged, but three workers are held
    # One worker left: 40 x 0.1 s do not fit in the 2.5 s left (on four they would).
    assert isinstance(entry.refused.exception(), Overloaded)
    for index in range(3):
        shedder.finished(f"long{index}", "k", long_added[index], ended_at=clock.now)


async def test_the_pace_at_which_waiting_tasks_get_workers_counts_when_it_is_slower_than_the_tasks():
    """Handing tasks over and hearing them end cost time too: on a loaded machine the queue
    drains slower than the tasks' own times say, and waiting work is projected at that pace."""
    clock = Clock()
    shedder = QueueShedder(2, "pool", clock)
    added = [shedder.enter("k") for _ in range(10)]  # ten tasks queued at once
    for index in range(6):  # each holds its worker 0.01 s, but one ends only every 0.1 s
        clock.now += 0.09  # the loop hands the next task over late
        shedder.started(index, "k")
        clock.now += 0.01
        shedder.finished(index, "k", added[index], ended_at=clock.now, seconds=0.01)
    assert shedder.expected_s("k") == pytest.approx(0.01)
    assert shedder.typical_s("k") == pytest.approx(2 * 0.1)  # two workers' worth of the pace
    shedder.started("busy", "k")
    # At the tasks' own 0.01 s, 30 fit easily in 0.8 x 2 s; at the queue's pace they take 3.1 s.
    with pytest.raises(Overloaded, match=r"holds a worker 0\.200s"):
        shedder.check_entry("k", 30, clock.now + 2.0)
    assert not shedder.check_entry("k", 5, clock.now + 2.0).refused.done()  # 0.6 s: fits
