"""The score table of one audit: ``OUT/scores.jsonl``, appended as requests finish.

One line per scored response: ``{"key", "reward", "error"}`` where ``key`` is
:meth:`rewardgate.audit.plan.Slot.key` (pipeline and exact request item). A
run stopped half-way keeps every finished line; ``--resume`` scores only the
keys without a reward (failed ones are scored again; the last line of a key
wins). Without ``--resume`` the table starts empty.
"""

from __future__ import annotations

import json
from pathlib import Path

from rewardgate.audit.scoring import ItemScore
from rewardgate.result_files import drop_torn_tail

SCORES = "scores.jsonl"


class ScoreTable:
    def __init__(self, out_dir: Path, resume: bool) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.path = out_dir / SCORES
        self.scores: dict[str, ItemScore] = {}
        if resume and self.path.exists():
            drop_torn_tail(self.path)
            for line in self.path.read_text().splitlines():
                row = json.loads(line)
                self.scores[row["key"]] = ItemScore(row.get("reward"), row.get("error"))
        else:
            self.path.write_text("")
        self.resumed = sum(1 for s in self.scores.values() if s.reward is not None)

    def missing(self, keys) -> list[str]:
        """The keys of ``keys`` without a reward yet (each once, in order)."""
        return [k for k in dict.fromkeys(keys) if (s := self.scores.get(k)) is None or s.reward is None]

    def record(self, pairs: list[tuple[str, ItemScore]]) -> None:
        """Store and append ``(key, scored)`` pairs (flushed: a crash loses none of them)."""
        with self.path.open("a") as out:
            for key, scored in pairs:
                self.scores[key] = scored
                out.write(json.dumps({"key": key, "reward": scored.reward, "error": scored.error}) + "\n")

    def reward(self, key: str) -> float | None:
        scored = self.scores.get(key)
        return None if scored is None else scored.reward
