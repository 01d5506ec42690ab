"""Every response the audit scores, labelled by item and role.

Roles: ``right`` and ``wrong`` (the honest answers), ``probe:FAMILY:I`` (the
I-th variant of a hackability family), ``perturb:NAME:right|wrong``
(meaning-preserving variants; an item-level one such as ``option_order`` scores the
rewritten item's prompt and reference too), ``verbose:WORDS:right|wrong`` (the honest
answer padded by WORDS words, for the length and verbosity figures).

Responses are *presented* as the pipeline expects: with a ``think_answer``
rule, an honest answer (or variant) without think/answer tags is wrapped in
them, so the audit measures the hack and not the missing format.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from rewardgate.audit.data import AuditItem
from rewardgate.audit.perturb import ITEM_PERTURBATIONS, PERTURBATIONS
from rewardgate.audit.probes import Probe, pad

#: Padding of the verbosity variants, in words (pairs that differ only by padding).
VERBOSE_WORDS = (50, 200)


@dataclass(frozen=True, slots=True)
class Slot:
    item: AuditItem
    role: str
    response: str

    def request_item(self) -> dict[str, Any]:
        """The score-request item of this response."""
        body: dict[str, Any] = {"prompt": self.item.prompt, "response": self.response}
        if self.item.reference is not None:
            body["reference"] = self.item.reference
        if self.item.metadata:
            body["metadata"] = self.item.metadata
        return body

    def key(self, pipeline: str) -> str:
        """What a stored score is found by: the pipeline name and the exact request item."""
        encoded = json.dumps([pipeline, self.request_item()], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(encoded.encode()).hexdigest()


def presenter(kinds: set[str]):
    """The function presenting a response in the pipeline's format (identity without think_answer)."""
    if "rule:think_answer" not in kinds:
        return lambda text: text

    def present(text: str) -> str:
        if "<think>" in text or "<answer>" in text:
            return text
        return f"<think>Working through the problem step by step.</think><answer>{text}</answer>"

    return present


def build_plan(items: list[AuditItem], probes: list[Probe], kinds: set[str]) -> list[Slot]:
    """Every slot of every item, in a stable order (items, then roles)."""
    present = presenter(kinds)
    slots: list[Slot] = []
    for item in items:
        right, wrong = present(item.right), present(item.wrong)
        slots += [Slot(item, "right", right), Slot(item, "wrong", wrong)]
        for probe in probes:
            for index, variant in enumerate(probe.generate(item)):
                slots.append(Slot(item, f"probe:{probe.name}:{index}", present(variant)))
        slots += _perturbed(item, right, wrong, present)
        for words in VERBOSE_WORDS:
            for side, text in (("right", right), ("wrong", wrong)):
                slots.append(Slot(item, f"verbose:{words}:{side}", pad(text, words)))
    return slots


def _perturbed(item: AuditItem, right: str, wrong: str, present) -> list[Slot]:
    """The robustness slots of one item: each text perturbation that changes an answer, then each
    item-level rewrite that applies (its slots carry the rewritten prompt and reference)."""
    slots: list[Slot] = []
    for name, perturb in PERTURBATIONS.items():
        for side, text in (("right", right), ("wrong", wrong)):
            changed = perturb(text)
            if changed != text:
                slots.append(Slot(item, f"perturb:{name}:{side}", changed))
    for name, rewrite in ITEM_PERTURBATIONS.items():
        rewritten = rewrite(item)
        if rewritten is not None:
            slots += [
                Slot(rewritten, f"perturb:{name}:right", present(rewritten.right)),
                Slot(rewritten, f"perturb:{name}:wrong", present(rewritten.wrong)),
            ]
    return slots
