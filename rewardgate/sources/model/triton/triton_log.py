"""What went wrong, read from Triton's log: the lines an operator needs when a start fails.

Triton logs in glog's format (``E1204 21:00:35.308547 2505 model_lifecycle.cc:642] "message"``)
and ends a failed start with ``error: creating server: Internal - failed to load all models``,
which alone says nothing about the cause. The cause is in its error lines, e.g.
``failed to load 'rm' version 1: Internal: ModuleNotFoundError: No module named 'torch'``,
followed by a Python stack (``At: ...``) that is left out here.
"""

from __future__ import annotations

import re

_ERROR_LINE = re.compile(r'^E\d{4} [\d:.]+ +\d+ [\w./-]+:\d+\] "?(?P<message>.*?)"?$')
_FATAL = re.compile(r"^error: .+")

#: Error lines Triton logs on every CPU-only machine: not a cause.
_NOISE = ("CudaDriverHelper has not been initialized",)


def failure_causes(log: str) -> list[str]:
    """The error messages of ``log``, first paragraph each, in order, noise and repeats left out."""
    causes: list[str] = []
    for line in log.splitlines():
        match = _ERROR_LINE.match(line)
        if match:
            message = match.group("message").replace("\\n", "\n").replace('\\"', '"')
            message = message.split("\n\nAt:")[0].strip()
        elif _FATAL.match(line):
            message = line.strip()
        else:
            continue
        if message and not message.startswith(_NOISE) and message not in causes:
            causes.append(message)
    return causes
