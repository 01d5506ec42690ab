"""Permanent errors on the trainer compat routes, written where an operator sees them.

OpenRLHF (``/get_reward``) and slime (``/slime/reward``) retry every non-2xx
reply and drop its body, so a permanent error (422, 404, 401) would be
retried 5 or 10 times and its message never shown to anyone. The service
therefore logs each such error at WARNING the first time it is seen (the same
message again within :data:`REPEAT_WINDOW_S` is not repeated: those are the
trainer's retries). For an error that reaches the trainer's own log on the
first attempt, use the adapters (docs/client.md).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

log = logging.getLogger("rewardgate.compat")

#: Routes whose callers cannot read an error body.
COMPAT_PATHS = frozenset({"/get_reward", "/slime/reward"})
#: A repeat of the same error within this window is a retry of the same call.
REPEAT_WINDOW_S = 60.0
_MAX_REMEMBERED = 256


class PermanentErrorLog:
    """Logs a compat route's permanent error once per message and window."""

    def __init__(self, clock=time.monotonic) -> None:
        self._clock = clock
        self._last_logged: OrderedDict[tuple[str, str], float] = OrderedDict()

    def report(self, path: str, error_type: str, message: str, retryable: bool) -> bool:
        """Log the error if it is permanent, on a compat route, and not a recent repeat; True if logged."""
        if retryable or path not in COMPAT_PATHS:
            return False
        key, now = (path, message), self._clock()
        last = self._last_logged.get(key)
        if last is not None and now - last < REPEAT_WINDOW_S:
            return False
        self._last_logged[key] = now
        self._last_logged.move_to_end(key)
        while len(self._last_logged) > _MAX_REMEMBERED:
            self._last_logged.popitem(last=False)
        log.warning(
            "permanent %s error on %s (the trainer retries it and drops this message): %s",
            error_type,
            path,
            message,
        )
        return True


#: The process's log (one per process: the HTTP error handlers and the auth middleware share it).
PERMANENT_ERRORS = PermanentErrorLog()
