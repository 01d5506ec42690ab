"""Result files written line by line, and what a resumed run can trust in them.

A resumed run keeps only the lines that carry a result: a line written for a
failure (a service outage, a 429/503/504 after the retries ran out, a
permanent error, an item whose reward is null) is not done and is scored
again. Whether a line is finished is the caller's predicate, since
``rewardgate score`` and ``rewardgate eval`` write different lines.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Does this parsed result line hold a result (as opposed to a failure to get one)?
Finished = Callable[[dict], bool]


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by an interrupted run."""
    if path.exists():
        text = path.read_text()
        if text and not text.endswith("\n"):
            path.write_text(text[: text.rfind("\n") + 1])


@dataclass
class ResumeState:
    """What an earlier run left in a result file."""

    #: Ids whose line holds a result.
    finished: set[str] = field(default_factory=set)
    #: The lines of those results, as written.
    kept_lines: list[str] = field(default_factory=list)
    #: Why the other lines failed: error type -> count.
    failed: Counter[str] = field(default_factory=Counter)

    def describe(self, todo: int, noun: str = "rows") -> str:
        """One line for the operator: what is kept, what is scored again and why."""
        again = ""
        if self.failed:
            reasons = ", ".join(f"{count} {reason}" for reason, count in self.failed.most_common())
            again = f"; scoring again {sum(self.failed.values())} that failed ({reasons})"
        return f"resuming: {len(self.finished)} {noun} already have a result{again}; {todo} to score"


def read_resume_state(path: Path, is_finished: Finished, error_type: Callable[[dict], str]) -> ResumeState:
    """Sort the complete lines of ``path`` into finished results and failures.

    ``error_type(line)`` names why an unfinished line failed. A torn last line
    (an interrupted write) and lines that are not a JSON object with an ``id``
    are neither: they are dropped and their items scored again.
    """
    state = ResumeState()
    if not path.exists():
        return state
    for text in path.read_text().splitlines():
        try:
            line = json.loads(text)
            item_id = line["id"]
        except (ValueError, KeyError, TypeError):
            continue
        if is_finished(line):
            state.finished.add(item_id)
            state.kept_lines.append(text)
        else:
            state.failed[error_type(line)] += 1
    return state


def rewrite_keeping(path: Path, lines: list[str]) -> None:
    """Replace ``path`` with ``lines`` (atomically: a crash leaves the old file or the new one)."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(line + "\n" for line in lines))
    os.replace(partial, path)
