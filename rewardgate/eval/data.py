"""Eval records, read from JSONL and checked line by line.

Two kinds, told apart by their fields (or forced with ``--mode``):

* a preference pair: ``prompt``, ``chosen``, ``rejected``; optional ``reference``,
  ``subset``, ``section``, ``metadata``, ``id``;
* a best-of-N set: ``prompt``, ``responses`` (N >= 2), ``correct`` (N booleans: the
  gold label of each response); the same optional fields.

``prompt`` is text or a list of chat messages, as in a score request. A
missing ``id`` is the line number; ``subset`` defaults to ``"all"`` and
``section`` to the subset (RewardBench groups its subsets into sections).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardgate_client.labels import AmbiguousLabel, reference_from_label

PAIRS, BEST_OF_N = "pairs", "best-of-n"


class DataError(ValueError):
    """The eval's input file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class Record:
    id: str
    prompt: Any
    responses: tuple[str, ...]  # pairs: (chosen, rejected)
    subset: str
    section: str
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: Best-of-N: the gold label of each response (empty for pairs).
    correct: tuple[bool, ...] = ()

    def items(self) -> list[dict[str, Any]]:
        """Score-request items, one per response, sharing one group (as ``/v1/compare`` does)."""
        base: dict[str, Any] = {"prompt": self.prompt, "group": f"eval:{self.id}"}
        if self.reference is not None:
            base["reference"] = self.reference
        if self.metadata:
            base["metadata"] = self.metadata
        return [
            dict(base, id=f"{self.id}/{index}", response=text) for index, text in enumerate(self.responses)
        ]


def detect_mode(path: Path) -> str:
    """``pairs`` or ``best-of-n``, from the fields of the first record."""
    for number, raw in _lines(path):
        return BEST_OF_N if "responses" in raw else PAIRS if "chosen" in raw else _fail(number, raw)
    raise DataError(f"{path}: no records")


def read_records(path: Path, mode: str) -> list[Record]:
    """Every record of ``path``; raises DataError naming the first bad line."""
    records: list[Record] = []
    seen: set[str] = set()
    for number, raw in _lines(path):
        record = _pair(number, raw) if mode == PAIRS else _best_of_n(number, raw)
        if record.id in seen:
            raise DataError(f"line {number}: id {record.id!r} appears twice")
        seen.add(record.id)
        records.append(record)
    if not records:
        raise DataError(f"{path}: no records")
    return records


def _lines(path: Path):
    with path.open() as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise DataError(f"line {number}: not JSON ({exc})") from None
            if not isinstance(raw, dict):
                raise DataError(f"line {number}: a record must be a JSON object")
            yield number, raw


def _fail(number: int, raw: dict) -> str:
    raise DataError(
        f"line {number}: neither a pair (prompt, chosen, rejected) nor a best-of-N set "
        f"(prompt, responses, correct); its fields: {sorted(raw)}"
    )


def _common(number: int, raw: dict) -> dict[str, Any]:
    if "prompt" not in raw:
        raise DataError(f"line {number}: 'prompt' is missing")
    subset = _text(number, raw, "subset", default="all")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise DataError(f"line {number}: 'metadata' must be an object")
    try:  # a reference of any JSON type is a label, read as the adapters read it
        reference, metadata = reference_from_label(raw.get("reference"), metadata)
    except AmbiguousLabel as exc:
        raise DataError(f"line {number}: reference: {exc.message}") from exc
    return {
        "id": str(raw.get("id", number)),
        "prompt": raw["prompt"],
        "subset": subset,
        "section": _text(number, raw, "section", default=subset),
        "reference": reference,
        "metadata": metadata,
    }


def _pair(number: int, raw: dict) -> Record:
    responses = (_text(number, raw, "chosen"), _text(number, raw, "rejected"))
    return Record(responses=responses, **_common(number, raw))


def _best_of_n(number: int, raw: dict) -> Record:
    responses, correct = raw.get("responses"), raw.get("correct")
    if (
        not isinstance(responses, list)
        or len(responses) < 2
        or not all(isinstance(r, str) for r in responses)
    ):
        raise DataError(f"line {number}: 'responses' must be a list of two or more strings")
    if (
        not isinstance(correct, list)
        or len(correct) != len(responses)
        or not all(isinstance(c, bool) for c in correct)
    ):
        raise DataError(f"line {number}: 'correct' must be a list of booleans, one per response")
    return Record(responses=tuple(responses), correct=tuple(correct), **_common(number, raw))


def _text(number: int, raw: dict, key: str, default: str | None = None) -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        missing = key not in raw
        raise DataError(f"line {number}: {key!r} {'is missing' if missing else 'must be a string'}")
    return value
