"""Eager first steps (rewardgate/eager.py) and the guards that use them: same results as a plain
await, whether the work finishes at once, waits, fails, is cut off or is cancelled."""

import asyncio

import pytest

from rewardgate.api.http.context import ClientDisconnected, cancel_on_disconnect
from rewardgate.eager import Eager


async def immediate(value):
    return value


async def failing_at_once():
    raise ValueError("bad item")


async def waits_then(future: asyncio.Future, log: list[str]):
    log.append("started")
    try:
        got = await future
        log.append("resumed")
        await asyncio.sleep(0)  # a second suspension
        return got * 2
    finally:
        log.append("finally")


def test_work_that_never_waits_is_done_on_creation():
    async def main():
        step = Eager(immediate(7))
        assert step.done
        assert step.result() == 7
        assert await Eager(immediate(8)) == 8  # awaiting a finished one gives its value too

    asyncio.run(main())


def test_a_failure_before_any_wait_is_raised_by_result_and_by_await():
    async def main():
        step = Eager(failing_at_once())
        assert step.done
        with pytest.raises(ValueError, match="bad item"):
            step.result()
        assert step.done  # still finished: a second look raises the same failure
        with pytest.raises(ValueError, match="bad item"):
            step.result()
        with pytest.raises(ValueError, match="bad item"):
            await Eager(failing_at_once())

    asyncio.run(main())


def test_work_that_waits_is_continued_by_await_like_a_plain_await():
    async def main():
        future = asyncio.get_running_loop().create_future()
        log: list[str] = []
        step = Eager(waits_then(future, log))
        assert not step.done and log == ["started"]
        with pytest.raises(RuntimeError):
            step.result()
        asyncio.get_running_loop().call_soon(future.set_result, 21)
        assert await step == 42
        assert log == ["started", "resumed", "finally"]

    asyncio.run(main())


def test_cancelling_the_awaiting_task_cancels_the_work_inside_it():
    async def main():
        future = asyncio.get_running_loop().create_future()
        log: list[str] = []

        async def awaiter():
            return await Eager(waits_then(future, log))

        task = asyncio.create_task(awaiter())
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert log == ["started", "finally"]
        assert future.cancelled()  # the work's own wait was cancelled, as with a plain await

    asyncio.run(main())


def test_work_that_handles_its_cancellation_returns_its_value():
    async def tolerant(future):
        try:
            await future
        except asyncio.CancelledError:
            asyncio.current_task().uncancel()
            return "cleaned up"

    async def main():
        future = asyncio.get_running_loop().create_future()

        async def awaiter():
            return await Eager(tolerant(future))

        task = asyncio.create_task(awaiter())
        await asyncio.sleep(0)
        task.cancel()
        assert await task == "cleaned up"

    asyncio.run(main())


def test_a_timeout_armed_after_the_first_step_cuts_the_waiting_work_off():
    async def main():
        log: list[str] = []
        never = asyncio.get_running_loop().create_future()
        step = Eager(waits_then(never, log))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.01):
                await step
        assert log == ["started", "finally"]

    asyncio.run(main())


def _receive_disconnect_after(delay_s: float, calls: list[int]):
    async def receive():
        calls.append(1)
        await asyncio.sleep(delay_s)
        return {"type": "http.disconnect"}

    return receive


def test_cancel_on_disconnect_starts_no_watcher_for_work_that_never_waits():
    async def main():
        calls: list[int] = []
        tasks_before = len(asyncio.all_tasks())
        result = await cancel_on_disconnect(_receive_disconnect_after(0, calls), immediate("reply"))
        assert result == "reply"
        assert calls == []  # nobody listened for a disconnect: nothing could have been cancelled
        assert len(asyncio.all_tasks()) == tasks_before

    asyncio.run(main())


def test_cancel_on_disconnect_cancels_waiting_work_when_the_client_goes_away():
    async def main():
        calls: list[int] = []
        log: list[str] = []
        never = asyncio.get_running_loop().create_future()
        with pytest.raises(ClientDisconnected):
            await cancel_on_disconnect(_receive_disconnect_after(0.01, calls), waits_then(never, log))
        assert calls == [1]
        assert log == ["started", "finally"]
        assert asyncio.current_task().cancelling() == 0  # the disconnect's cancel was taken back

    asyncio.run(main())


def test_cancel_on_disconnect_returns_waiting_work_that_finishes_first():
    async def main():
        future = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().call_later(0.01, future.set_result, 5)
        result = await cancel_on_disconnect(_receive_disconnect_after(10, []), waits_then(future, []))
        assert result == 10

    asyncio.run(main())
