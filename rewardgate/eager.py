"""Running a coroutine's first step at once, so work that never waits pays for no waiting machinery.

Much of the scoring hot path never suspends: an inline rule with the cache
off, or a request served from the in-memory cache, computes its reply
without once yielding to the event loop. Guarding such work with a
deadline timer (``asyncio.timeout``) or with a task that watches for the
client going away costs as much as the scoring itself, and neither can
fire before the work's first suspension anyway: a timer or a cancellation
only takes effect where a coroutine waits.

:class:`Eager` runs the coroutine up to its first suspension (or to its
end) on creation. If it finished, ``done`` is true and ``result()`` returns
its value or raises its exception. Otherwise awaiting the :class:`Eager`
continues the coroutine exactly as ``await coroutine`` would have from that
point (the same future handed to the task, cancellation thrown into the
coroutine), so a caller arms its timer or watcher only then.

Python 3.12's eager tasks do the same for tasks; this is the 3.11 form for
a plain await.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Eager(Generic[T]):
    """``coroutine`` run to its first suspension; await this to run the rest.

    Create it inside the task that would have awaited the coroutine (the
    first step runs in that task and its context).
    """

    __slots__ = ("_coroutine", "_exception", "_result", "_yielded", "done")

    def __init__(self, coroutine: Coroutine[Any, Any, T]) -> None:
        self._coroutine = coroutine
        self._result: Any = None
        self._exception: BaseException | None = None
        self._yielded: Any = None
        #: Whether the coroutine finished (returned or raised) without suspending. An attribute,
        #: not a property: it is read on every request's path (read it, do not set it).
        self.done = True
        try:
            self._yielded = coroutine.send(None)
            self.done = False
        except StopIteration as finished:
            self._result = finished.value
        except BaseException as exc:  # the coroutine's own failure, raised by result()
            self._exception = exc

    def result(self) -> T:
        """The finished coroutine's value, or its exception raised (only when ``done``)."""
        if not self.done:
            raise RuntimeError("the coroutine has not finished; await the Eager instead")
        if self._exception is not None:
            raise self._exception
        return self._result

    def __await__(self) -> Generator[Any, None, T]:
        if self.done:
            return self.result()
        coroutine, pending = self._coroutine, self._yielded
        self._yielded = None
        while True:
            try:
                yield pending  # the future the coroutine waits on, to the task that drives us
            except GeneratorExit:  # we are being closed: close the coroutine too, as ``yield from`` does
                coroutine.close()
                raise
            except BaseException as thrown:  # cancellation (or anything) thrown in by the task
                try:
                    pending = coroutine.throw(thrown)
                except StopIteration as finished:
                    return finished.value
                continue
            try:
                pending = coroutine.send(None)
            except StopIteration as finished:
                return finished.value
