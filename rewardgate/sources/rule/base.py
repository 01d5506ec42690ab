"""The rule contract.

A rule is a pure function of one item (:class:`~rewardgate.items.ScoringItem`) returning a float
score. Rules are built once from validated parameters at start-up and must be
picklable, because ``isolated`` rules run in the verifier process pool.

Contract for :meth:`Rule.evaluate`:

* returns a finite float (usually in [0, 1]);
* raises :class:`~rewardgate.errors.InvalidReference` when the reference the rule
  needs is missing or unusable: that is the caller's fault, not a wrong answer;
* any other exception is reported as ``verifier_error`` for that item.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem


class RuleParams(BaseModel):
    """Base for rule parameter models: unknown keys are configuration errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Rule(ABC):
    """Base class of every rule type."""

    type_name: ClassVar[str]
    Params: ClassVar[type[RuleParams]] = RuleParams
    #: True: run in the killable verifier pool (CPU-heavy or may hang).
    #: False: linear-time check cheap enough for the event loop.
    isolated: ClassVar[bool] = False
    #: Item fields the score depends on; they (and only they) enter cache keys.
    reads: ClassVar[tuple[str, ...]] = ("response", "reference")

    def __init__(self, params: RuleParams) -> None:
        self.params = params

    @property
    def timeout_s(self) -> float:
        """Per-item limit enforced from outside for isolated rules."""
        return float(getattr(self.params, "timeout_s", 5.0))

    @abstractmethod
    def evaluate(self, item: ScoringItem) -> float:
        """Score one item; see the module docstring for the contract."""

    @property
    def offloaded(self) -> bool:
        """True: another service does this rule's work; :meth:`evaluate_offloaded` awaits it on the
        event loop and no verifier process is held while it waits."""
        return False

    async def evaluate_offloaded(self, item: ScoringItem, deadline: float | None = None) -> float:
        """Score one item elsewhere before ``deadline`` (``time.monotonic()``); same contract as
        :meth:`evaluate`. Only called when :attr:`offloaded` is True."""
        raise NotImplementedError(f"{self.type_name} is not offloaded")

    def warm_up(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Load what the first :meth:`evaluate` needs (heavy imports, a sandbox fork
        server). Isolated rules run it in every verifier process as it starts, so
        the first items after start-up or a recycle do not pay for it."""

    @staticmethod
    def require_reference(item: ScoringItem) -> str:
        if item.reference is None or not item.reference.strip():
            raise InvalidReference("this rule needs a non-empty 'reference'")
        return item.reference


def warm_up_rules(rules: Iterable[Rule]) -> None:
    """Verifier-process initializer: warm each rule; a failure is logged, not fatal
    (the rule then reports its error per item)."""
    for rule in rules:
        try:
            rule.warm_up()
        except Exception:
            logging.getLogger(__name__).exception("warming up rule %s failed", rule.type_name)
