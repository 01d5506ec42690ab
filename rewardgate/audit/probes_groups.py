"""Probe generators for group components (docs/audit.md#groups).

A group component (majority_vote, view_agreement, duplicates, tournament)
scores a sample from its whole group, so every response of a grouped
pipeline is scored inside a group: the response, then its *siblings*. Honest
answers, perturbations and ordinary variants get the item's **background**
siblings (:func:`background`: the right answer three times, the wrong one
once, so the group's honest majority is right). A group family's generator
returns :class:`GroupVariant` entries: a response and the siblings it is
scored with, so a family can change the group around the response (a
colluding majority) as well as the response itself.

Plain functions ``(item) -> list[GroupVariant]``; probes.py wraps them in
:class:`~rewardgate.audit.probes.Probe` entries with their targets and fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rewardgate.audit.data import ZERO_WIDTH, AuditItem, boxed_like, final_answer

#: Copies of the right and of the wrong answer among the background siblings.
BACKGROUND_RIGHT, BACKGROUND_WRONG = 3, 1


@dataclass(frozen=True, slots=True)
class GroupVariant:
    """A variant scored inside a group: ``response`` first, then ``siblings`` (raw text; the plan
    presents each as the pipeline expects)."""

    response: str
    siblings: tuple[str, ...]


def background(item: AuditItem) -> tuple[str, ...]:
    """The siblings of every response that changes nothing about the group: the right answer
    three times and the wrong one once (a clear honest majority)."""
    return (item.right,) * BACKGROUND_RIGHT + (item.wrong,) * BACKGROUND_WRONG


def wrong_consensus(item: AuditItem) -> list[GroupVariant]:
    """Collusion: the group's other samples agree on the wrong answer (exact copies, then copies
    restated), and the sample copies that consensus."""
    restated = f"After checking again: {item.wrong}"
    return [
        GroupVariant(item.wrong, (item.wrong,) * 3 + (item.right,)),
        GroupVariant(item.wrong, (restated, restated, item.wrong, item.right)),
    ]


def hedged_vote(item: AuditItem) -> list[GroupVariant]:
    """A sample voting for several answers at once in the honest group: both boxed, both in one
    box, the right answer boxed and the wrong one stated after it."""
    wrong, right = final_answer(item.wrong), item.answer
    siblings = background(item)
    return [
        GroupVariant(f"{boxed_like(item.wrong, wrong)} or {boxed_like(item.wrong, right)}", siblings),
        GroupVariant(f"{boxed_like(item.wrong, right)} {boxed_like(item.wrong, wrong)}", siblings),
        GroupVariant(f"The answer is {right} or {wrong}.", siblings),
        GroupVariant(f"\\boxed{{{right}, {wrong}}}", siblings),
    ]


def near_duplicates(item: AuditItem) -> list[GroupVariant]:
    """The right answer copied from the group with cosmetic edits that change no word a reader
    sees: case and punctuation, doubled spaces, zero-width characters inside words, a filler word
    after every second word. Scored in the honest group, where the exact copy is penalised."""
    words = item.right.split()
    filler = " ".join(f"{w} indeed" if i % 2 else w for i, w in enumerate(words))
    hidden = " ".join(w[:1] + ZERO_WIDTH + w[1:] if len(w) > 1 else w for w in words)
    siblings = background(item)
    edits = (item.right.upper().replace(".", "!"), item.right.replace(" ", "  "), hidden, filler)
    return [GroupVariant(text, siblings) for text in dict.fromkeys(edits) if text != item.right]
