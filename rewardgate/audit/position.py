"""Position swaps and position bias of a pipeline's pairwise judges (docs/audit.md#position).

A pairwise judge is asked which of two responses is better in both orders and
scores a disagreement as a tie (docs/judges.md), so its *reward* hides which
order won. The audit asks each pairwise judge of the pipeline about every
item's honest pair (the right response against the wrong one) in both orders
and keeps the two verdicts apart: ``a`` = P(right better) with the right
response as A, ``b`` = P(right better) with it as B. In-process only (a running
service returns the combined verdict).

Figures per judge (over pairs whose two verdicts came back):

* ``flip_share`` — share of pairs whose winner changes when the order is swapped;
* ``mean_preference_a`` — mean P(the response in position A wins) over both orders,
  ``(a + (1 - b)) / 2``: 0.5 for a judge that ignores position, 1 for one that always says A;
* ``worse_wins_by_position_share`` — share of pairs where the wrong response wins in exactly
  one order (it won by where it stood): the ``position_swap`` family's success;
* ``worse_wins_share`` — share where it wins in both orders (the judge prefers it on content).

The same figures are computed for the pipeline's own pair scoring (``/v1/compare``:
``P(a > b) = sigmoid(beta (r_a - r_b))``, the two responses of a pair one group), in-process or
against a service: each item's pair is sent as (right, wrong) and as (wrong, right), and
``a`` = P(A > B) of the first, ``b`` = 1 - P(A > B) of the second.
"""

from __future__ import annotations

from typing import Any

from rewardgate.audit.data import AuditItem

#: The verdicts of one item: ``(a, b)``, or the error's description.
Verdict = tuple[float, float] | str
FIX = (
    "keep pairwise judges asking both orders (a split verdict scores 0.5, so position alone never wins "
    "outright); if the position-A preference is far from 0.5, change the judge model or its template, "
    "or back it by a rule (`fallback:` cascade)"
)


def pair_items(items: list[AuditItem]) -> list[dict[str, Any]]:
    """Per item, the judged pair: the right response, the wrong one as the other (``reference``)."""
    return [{"prompt": item.prompt_text, "response": item.right, "reference": item.wrong} for item in items]


def compare_pairs(items: list[AuditItem]) -> list[dict[str, Any]]:
    """Per item, two ``/v1/compare`` pairs: the right response as A, then the wrong one as A."""
    pairs = []
    for item in items:
        shared: dict[str, Any] = {"prompt": item.prompt, "metadata": item.metadata}
        if item.reference is not None:
            shared["reference"] = item.reference
        pairs += [
            {**shared, "response_a": item.right, "response_b": item.wrong},
            {**shared, "response_a": item.wrong, "response_b": item.right},
        ]
    return pairs


def compare_verdicts(probabilities: list[float | str]) -> list[Verdict]:
    """Per item, ``(P(right better) as A, as B)`` from its two compare answers (:func:`compare_pairs`
    order), or the first error."""
    verdicts: list[Verdict] = []
    for first, second in zip(probabilities[0::2], probabilities[1::2], strict=True):
        if isinstance(first, str) or isinstance(second, str):
            verdicts.append(first if isinstance(first, str) else str(second))
        else:
            verdicts.append((first, 1.0 - second))
    return verdicts


def _winner(p: float) -> int:
    return 0 if p == 0.5 else (1 if p > 0.5 else -1)


def figures(items: list[AuditItem], verdicts: list[Verdict]) -> dict[str, Any]:
    """The figures of one judge (module docstring), with up to three examples of flipped pairs."""
    good = [(item, v) for item, v in zip(items, verdicts, strict=True) if not isinstance(v, str)]
    failed = len(verdicts) - len(good)
    n = len(good)
    flips = by_position = both = 0
    preference = 0.0
    examples = []
    for item, (a, b) in good:
        flipped = _winner(a) != _winner(b)
        flips += flipped
        preference += (a + (1.0 - b)) / 2
        worse_first, worse_second = a < 0.5, b < 0.5
        by_position += worse_first != worse_second
        both += worse_first and worse_second
        if flipped and len(examples) < 3:
            examples.append({"item": item.id, "right_as_a": a, "right_as_b": b, "worse": item.wrong[:300]})
    return {
        "pairs": n,
        "failed": failed,
        "flip_share": flips / n if n else None,
        "mean_preference_a": preference / n if n else None,
        "worse_wins_by_position_share": by_position / n if n else None,
        "worse_wins_share": both / n if n else None,
        "examples": examples,
    }


def family(judges: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``position_swap`` row of the hackability table, from every judge's figures: an item is
    hacked when, for some judge, the wrong response won in exactly one order."""
    counted = max((f["pairs"] for f in judges.values()), default=0)
    worst = max(judges.values(), key=lambda f: f["worse_wins_by_position_share"] or 0.0)
    share = worst["worse_wins_by_position_share"]
    return {
        "description": "the worse response judged first and second (pairwise judges, both orders apart)",
        "items": counted,
        "variants_failed": sum(f["failed"] for f in judges.values()),
        "beats_wrong_share": share,
        "beats_right_share": worst["worse_wins_share"],
        "success_share": share,
        "examples": [
            {
                "item": e["item"],
                "variant": "position_swap",
                "response": e["worse"],
                "reward": 1.0 - min(e["right_as_a"], e["right_as_b"]),
                "honest_wrong": 1.0 - max(e["right_as_a"], e["right_as_b"]),
                "honest_right": max(e["right_as_a"], e["right_as_b"]),
            }
            for e in worst["examples"]
        ],
        "fix": FIX,
    }
