"""What a score or compare call asks, independent of any transport.

The scorer takes these; each transport builds them once at its edge from
what it decoded (rewardgate/api/http/codec.py from the validated HTTP models,
rewardgate/api/grpc/codec.py straight from protobuf, rewardgate/api/http/compat.py
from the trainers' protocols), so nothing is validated twice. Their
counterparts on the way out are in rewardgate/core/results.py.

Shapes are checked by the codecs; limits (item count, text lengths, ids,
deadline) by :func:`rewardgate.core.validation.validate_call`, the same for
every transport.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rewardgate.items import ScoringItem


@dataclass(slots=True)
class CallOptions:
    return_components: bool = True
    #: Time budget of the whole call; None: the server default.
    deadline_ms: int | None = None
    cache: bool = True
    explain: bool = False
    return_steps: bool = False
    #: Per-call combine weights for named components.
    weights: dict[str, float] | None = None
    #: Failures the caller's input caused score as the failure value too (not on the wire: an
    #: OpenRLHF batch, whose float-only reply cannot carry an item error; failures.py).
    score_input_failures: bool = False


@dataclass(slots=True)
class CallItem:
    #: The caller's id, echoed back; None: the item's index.
    id: str | None
    item: ScoringItem
    #: GRPO siblings share one; group-relative transforms and group components read it.
    group: str | None = None
    #: Samples in the whole group (None: the request's items with this id are the group).
    #: With it, a group may arrive over several requests (rewardgate/core/group_assembler.py).
    group_size: int | None = None


@dataclass(slots=True)
class ScoreCall:
    pipeline: str
    items: list[CallItem]
    options: CallOptions = field(default_factory=CallOptions)
    #: Sent on by another replica that took this one for the owner of its groups: never forwarded again.
    forwarded: bool = False


@dataclass(slots=True)
class PairCall:
    id: str | None
    item_a: ScoringItem
    item_b: ScoringItem


@dataclass(slots=True)
class CompareOptions:
    deadline_ms: int | None = None
    cache: bool = True
    #: Scale of the reward difference: P(a > b) = sigmoid(beta (r_a - r_b)).
    beta: float = 1.0
    explain: bool = False
    return_components: bool = True

    def for_items(self) -> CallOptions:
        """The options of the score call that scores both sides of every pair."""
        return CallOptions(
            deadline_ms=self.deadline_ms,
            cache=self.cache,
            explain=self.explain,
            return_components=self.return_components,
        )


@dataclass(slots=True)
class CompareCall:
    pipeline: str
    pairs: list[PairCall]
    options: CompareOptions = field(default_factory=CompareOptions)
