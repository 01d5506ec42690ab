"""How a trainer's label becomes an item's reference (one rule for every path that takes labels).

slime and OpenRLHF datasets carry the answer as a ``label`` of any JSON type.
A dict label holding an answer under one of :data:`ANSWER_KEYS` gives that
answer, and the whole dict joins the metadata for rules that read it; any
other non-text label is JSON-encoded, as rules with structured references
(code cases, tool calls) expect. A JSON object a rule cannot use is then the
rule's ``invalid_reference``, never a silent 0. Used by the service's
``/slime/reward`` route and by the slime adapter, so both score alike.
"""

from __future__ import annotations

import json
from typing import Any

#: Keys under which datasets keep the answer inside a dict label.
ANSWER_KEYS = ("ground_truth", "answer", "reference", "label", "solution")


def reference_from_label(label: Any, metadata: Any = None) -> tuple[str | None, dict[str, Any]]:
    """(reference, metadata) of a sample whose answer is ``label``."""
    metadata = dict(metadata) if isinstance(metadata, dict) else {}
    if isinstance(label, dict):
        key = next((k for k in ANSWER_KEYS if _is_answer(label.get(k))), None)
        if key is not None:
            return str(label[key]), {**metadata, "label": label}
    if label is None or isinstance(label, str):
        return label, metadata
    return json.dumps(label), metadata


def _is_answer(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)
