"""Every response the audit scores, labelled by item and role.

Roles: ``right`` and ``wrong`` (the honest answers), ``probe:FAMILY:I`` (the
I-th variant of a hackability family), ``perturb:NAME:right|wrong``
(meaning-preserving variants; an item-level one such as ``option_order`` scores the
rewritten item's prompt and reference too), ``verbose:WORDS:right|wrong`` (the honest
answer padded by WORDS words, for the length and verbosity figures).

A pipeline with a group component scores every response inside a group
(:class:`Grouping`: the response first, then its siblings, one group id);
the response's reward is the first sample's.

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
from rewardgate.audit.probes import Probe
from rewardgate.audit.probes_groups import GroupVariant, background
from rewardgate.audit.probes_text import pad

#: Padding of the verbosity variants, in words (pairs that differ only by padding).
VERBOSE_WORDS = (50, 200)


@dataclass(frozen=True, slots=True)
class Grouping:
    """How a grouped pipeline's responses are sent: ``siblings`` after the response in one group,
    and, for a view_agreement component, the view each sample gets (``views`` in turn, the
    response first) under ``metadata[view_field]``."""

    siblings: tuple[str, ...]
    view_field: str | None = None
    views: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Slot:
    item: AuditItem
    role: str
    response: str
    #: None: scored alone; else scored as the first sample of a group (docs/audit.md#groups).
    grouping: Grouping | None = None

    def request_item(self) -> dict[str, Any]:
        """The score-request item of this response (without its group)."""
        return self._item(self.response, 0)

    def request_items(self) -> list[dict[str, Any]]:
        """The score-request items this response is scored with: itself, then its group's
        siblings, all under one group id (its first item is the response)."""
        if self.grouping is None:
            return [self.request_item()]
        texts = (self.response, *self.grouping.siblings)
        encoded = json.dumps(
            [self._item(t, i) for i, t in enumerate(texts)], sort_keys=True, ensure_ascii=False
        )
        group = "audit-" + hashlib.sha256(encoded.encode()).hexdigest()[:24]
        return [{**self._item(text, i), "group": group, "id": f"{group}-{i}"} for i, text in enumerate(texts)]

    def _item(self, response: str, position: int) -> dict[str, Any]:
        body: dict[str, Any] = {"prompt": self.item.prompt, "response": response}
        if self.item.reference is not None:
            body["reference"] = self.item.reference
        metadata = dict(self.item.metadata)
        grouping = self.grouping
        if grouping is not None and grouping.view_field and grouping.views:
            metadata[grouping.view_field] = grouping.views[position % len(grouping.views)]
        if metadata:
            body["metadata"] = metadata
        return body

    def key(self, pipeline: str) -> str:
        """What a stored score is found by: the pipeline name and the exact request items."""
        encoded = json.dumps([pipeline, self.request_items()], sort_keys=True, ensure_ascii=False)
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


def build_plan(
    items: list[AuditItem],
    probes: list[Probe],
    kinds: set[str],
    views: tuple[str, tuple[str, ...]] | None = None,
) -> list[Slot]:
    """Every slot of every item, in a stable order (items, then roles). With a group component
    among ``kinds`` every slot is scored in a group: a :class:`GroupVariant`'s own siblings, else
    the item's background (``views``: a view_agreement component's field and views)."""
    present = presenter(kinds)
    grouped = any(kind == "group" or kind.startswith("group:") for kind in kinds)

    def grouping(item: AuditItem, siblings: tuple[str, ...] | None = None) -> Grouping | None:
        if not grouped:
            return None
        chosen = background(item) if siblings is None else siblings
        field, names = views if views else (None, ())
        return Grouping(tuple(present(s) for s in chosen), field, names)

    slots: list[Slot] = []
    for item in items:
        right, wrong = present(item.right), present(item.wrong)
        honest = grouping(item)
        slots += [Slot(item, "right", right, honest), Slot(item, "wrong", wrong, honest)]
        for probe in probes:
            for index, variant in enumerate(probe.generate(item)):
                role = f"probe:{probe.name}:{index}"
                if isinstance(variant, GroupVariant):
                    slots.append(
                        Slot(item, role, present(variant.response), grouping(item, variant.siblings))
                    )
                else:
                    slots.append(Slot(item, role, present(variant), honest))
        slots += _perturbed(item, right, wrong, present, grouping)
        for words in VERBOSE_WORDS:
            for side, text in (("right", right), ("wrong", wrong)):
                slots.append(Slot(item, f"verbose:{words}:{side}", pad(text, words), honest))
    return slots


def _perturbed(item: AuditItem, right: str, wrong: str, present, grouping) -> list[Slot]:
    """The robustness slots of one item: each text perturbation that changes an answer, then each
    item-level rewrite that applies (its slots carry the rewritten prompt and reference)."""
    slots: list[Slot] = []
    for name, perturb in PERTURBATIONS.items():
        for side, text in (("right", right), ("wrong", wrong)):
            changed = perturb(text)
            if changed != text:
                slots.append(Slot(item, f"perturb:{name}:{side}", changed, grouping(item)))
    for name, rewrite in ITEM_PERTURBATIONS.items():
        rewritten = rewrite(item)
        if rewritten is not None:
            slots += [
                Slot(rewritten, f"perturb:{name}:right", present(rewritten.right), grouping(rewritten)),
                Slot(rewritten, f"perturb:{name}:wrong", present(rewritten.wrong), grouping(rewritten)),
            ]
    return slots
