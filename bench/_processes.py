"""Starting a server process for a benchmark and waiting until it answers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx


def start_answering(
    command: list[str], probe: Callable[[], bool], timeout_s: float = 180, **popen
) -> subprocess.Popen:
    """Start ``command`` (output discarded) and return it once ``probe()`` is true.

    ``probe`` may raise httpx errors while the server starts. Raises RuntimeError
    (after killing the process) if it never answers within ``timeout_s``.
    """
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if probe():
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not answer within {timeout_s} s")
