"""Audited items, read from JSONL and checked line by line.

Each line is one prompt with an honest right and an honest wrong response:
``prompt`` (text or chat messages), ``right`` and ``wrong`` (or ``chosen`` and
``rejected``, so a preference-pair file of ``rewardgate eval`` works as is),
optional ``reference``, ``metadata`` and ``id`` (default: the line number).
Without ``--data`` the shipped samples are used (:func:`samples_for`: ``samples/items.jsonl``,
math and short facts, and for tool-call, JSON and code rules their own files).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples" / "items.jsonl"
#: Shipped samples for the component kinds the general ones (math, short facts) do not fit.
KIND_SAMPLES = {
    "rule:tool_call": SAMPLES.with_name("tools.jsonl"),
    "rule:json_valid": SAMPLES.with_name("json.jsonl"),
    "rule:json_schema": SAMPLES.with_name("json.jsonl"),
    "rule:code_tests": SAMPLES.with_name("code.jsonl"),
    "rule:box_iou": SAMPLES.with_name("grounding.jsonl"),
    "rule:count": SAMPLES.with_name("counting.jsonl"),
    "rule:anls": SAMPLES.with_name("doc_qa.jsonl"),
    "rule:point_in_box": SAMPLES.with_name("pointing.jsonl"),
    "rule:gui_action": SAMPLES.with_name("gui.jsonl"),
}
#: Kinds that grade any text (a pattern, a substring, a format): they audit on the samples of the
#: pipeline's other kinds and pull in the general samples only when nothing else brings any.
ANY_TEXT = {"rule:regex", "rule:contains", "rule:think_answer"}


class AuditDataError(ValueError):
    """The items file is malformed; the message names the line."""


@dataclass(frozen=True, slots=True)
class AuditItem:
    id: str
    prompt: Any
    right: str
    wrong: str
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The right final answer as text: the reference, else the right response's final answer."""
        return self.reference if self.reference is not None else final_answer(self.right)

    @property
    def prompt_text(self) -> str:
        """The prompt as plain text (chat messages joined), for echo probes."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(str(m.get("content", "")) for m in self.prompt if isinstance(m, dict))


_BOXED = re.compile(r"\\boxed\{((?:[^{}]|\{[^{}]*\})*)\}")
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def final_answer(text: str) -> str:
    """The final answer of a response: its last ``\\boxed{}``, else its ``<answer>`` block, else
    the whole text stripped."""
    boxed = _BOXED.findall(text)
    if boxed:
        return boxed[-1].strip()
    answer = _ANSWER.findall(text)
    return answer[-1].strip() if answer else text.strip()


ZERO_WIDTH = "\u200b"


def boxed_like(template: str, answer: str) -> str:
    """``answer`` written as ``template`` writes its final answer (boxed or plain)."""
    return f"\\boxed{{{answer}}}" if "\\boxed{" in template else answer


def samples_for(kinds: set[str]) -> list[Path]:
    """The shipped sample files for a pipeline's component kinds: one per kind that has its own,
    and the general samples when some kind has none (an any-text kind counts only when no other
    kind brings samples: a grounding pipeline's box regex does not pull in math items)."""
    own = {KIND_SAMPLES[kind] for kind in kinds if kind in KIND_SAMPLES}
    lacking = {kind for kind in kinds if kind not in KIND_SAMPLES}
    if own:
        lacking -= ANY_TEXT
    general = not kinds or bool(lacking)
    return ([SAMPLES] if general else []) + sorted(own)


def read_samples(kinds: set[str]) -> list[AuditItem]:
    """The shipped samples for ``kinds`` (:func:`samples_for`), in one list."""
    return [item for path in samples_for(kinds) for item in read_items(path)]


def read_items(path: Path | None) -> list[AuditItem]:
    """Every item of ``path`` (the shipped samples when None).

    Raises:
        AuditDataError: a line is not a JSON object with a prompt and both responses,
            or an id repeats; the message names the line.
        OSError: the file cannot be read.
    """
    path = path or SAMPLES
    items: list[AuditItem] = []
    seen: set[str] = set()
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        item = _item(number, line)
        if item.id in seen:
            raise AuditDataError(f"line {number}: id {item.id!r} repeats an earlier line")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise AuditDataError("no items")
    return items


def _item(number: int, line: str) -> AuditItem:
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise AuditDataError(f"line {number}: not JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise AuditDataError(f"line {number}: expected a JSON object")
    right = raw.get("right", raw.get("chosen"))
    wrong = raw.get("wrong", raw.get("rejected"))
    for name, value in (("right (or chosen)", right), ("wrong (or rejected)", wrong)):
        if not isinstance(value, str):
            raise AuditDataError(f"line {number}: '{name}' must be a string")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str | list):
        raise AuditDataError(f"line {number}: 'prompt' must be text or a list of chat messages")
    reference = raw.get("reference")
    if reference is not None and not isinstance(reference, str):
        raise AuditDataError(f"line {number}: 'reference' must be a string")
    metadata = raw.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise AuditDataError(f"line {number}: 'metadata' must be an object")
    return AuditItem(str(raw.get("id", number)), prompt, right, wrong, reference, metadata)
