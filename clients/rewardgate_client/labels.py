"""How a trainer's label becomes an item's reference: one rule for every path that takes labels.

slime, OpenRLHF and verl datasets carry the answer as a label of any JSON
type, but a reference is text, and text can be read more than one way
(``[2, 3]`` is an interval to a math verifier; ``1e-07`` is ``1*e - 7``). So a
label is turned into text by one rule, used by the service's
``/get_reward`` and ``/slime/reward`` routes and by the client's OpenRLHF,
slime and verl adapters alike (docs/rules.md#labels):

* text is the reference as written; ``None`` is no reference;
* a number is written in plain decimal notation (``1e-07`` -> ``0.0000001``,
  ``1e+20`` -> ``100000000000000000000``), a boolean as ``true``/``false``;
* a dict holding an answer under one of :data:`ANSWER_KEYS` gives that
  answer, read by these same rules, and the whole dict joins the metadata;
  any other dict is structured data (code cases, ...): its JSON;
* a list of objects or lists, or the empty list, is structured data (tool
  calls, test cases, "no call expected"): its JSON;
* a list of plain values (text, numbers, booleans) with one distinct value is
  that value; with several it is ambiguous (a set of alternatives, or one
  answer in several parts, and the two score differently), so it is refused
  with :class:`AmbiguousLabel`, whose message says how to write each reading.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rewardgate_client.errors import InvalidInput

#: Keys under which datasets keep the answer inside a dict label.
ANSWER_KEYS = ("ground_truth", "answer", "reference", "label", "solution")


class AmbiguousLabel(InvalidInput):
    """A label that could mean more than one reference; the message says how to write each."""


def reference_from_label(label: Any, metadata: Any = None) -> tuple[str | None, dict[str, Any]]:
    """(reference, metadata) of a sample whose answer is ``label``; see the module docstring.

    Raises:
        AmbiguousLabel: ``label`` (or the answer inside a dict label) is a list of
            several distinct plain values.
    """
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if isinstance(label, dict):
        key = next((k for k in ANSWER_KEYS if _is_answer(label.get(k))), None)
        if key is not None:
            return label_text(label[key]), {**metadata, "label": label}
    return label_text(label), metadata


def label_text(label: Any) -> str | None:
    """The reference text of a label that is not a dict with an answer key."""
    if label is None or isinstance(label, str):
        return label
    if isinstance(label, bool):
        return "true" if label else "false"
    if isinstance(label, int | float):
        return plain_number(label)
    if isinstance(label, list | tuple) and label and all(_is_plain(value) for value in label):
        distinct = list(dict.fromkeys(label_text(value) for value in label))
        if len(distinct) > 1:
            first, second = distinct[:2]
            raise AmbiguousLabel(
                f"label {json.dumps(label)[:120]} lists several answers, which could mean any one of them or "
                f"all of them together (they score differently): send the reference as text instead, e.g. "
                f"'{first}, {second}' or '\\{{{first}, {second}\\}}' for a set, '[{first}, {second}]' for an "
                "interval, or one sample per accepted answer"
            )
        return distinct[0]
    return json.dumps(label)


def plain_number(value: int | float) -> str:
    """``value`` in plain decimal notation: shortest round-trip digits, never an exponent."""
    return str(value) if isinstance(value, int) else format(Decimal(repr(value)), "f")


def _is_answer(value: Any) -> bool:
    return value is not None and not isinstance(value, dict)


def _is_plain(value: Any) -> bool:
    return isinstance(value, str | int | float)
