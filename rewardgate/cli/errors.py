"""How a command fails: one line on stderr and an exit status, never a traceback."""

from __future__ import annotations


class CliError(Exception):
    """A failure the command reports as one line (``rewardgate: MESSAGE``) and ``exit_code``.

    Exit codes used across the commands: 1 the work ran but not all of it
    succeeded; 2 a usage, input or configuration error (nothing more will work
    without a change); 130 interrupted (Ctrl-C).
    """

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
