"""Result files written line by line, and what a resumed run can trust in them."""

from __future__ import annotations

import json
from pathlib import Path


def drop_torn_tail(path: Path) -> None:
    """Cut a last line left half-written by an interrupted run."""
    if path.exists():
        text = path.read_text()
        if text and not text.endswith("\n"):
            path.write_text(text[: text.rfind("\n") + 1])


def finished_ids(path: Path) -> set[str]:
    """Ids of complete result lines already in ``path`` (a torn last line is ignored)."""
    if not path.exists():
        return set()
    finished = set()
    for line in path.read_text().splitlines():
        try:
            finished.add(json.loads(line)["id"])
        except (ValueError, KeyError, TypeError):
            continue
    return finished
