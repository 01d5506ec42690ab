"""The rule contract.

A rule is a pure function of one item (:class:`~rewardgate.items.ScoringItem`) returning a float
score. Rules are built once from validated parameters at start-up and must be
picklable, because ``isolated`` rules run in the verifier process pool.

Contract for :meth:`Rule.grade`:

* returns a Python ``float`` within the rule's documented :attr:`Rule.score_range`
  ([0, 1] unless the rule says otherwise). This is enforced here, once, for
  every rule: each subclass's ``grade`` is wrapped so its result is made a
  ``float`` and clamped to the range (floating-point rounding can land a
  metric a few ulps outside it: sacrebleu's BLEU of a response equal to its
  reference is 1.0000000000000004), and a non-finite or non-numeric result is
  :class:`~rewardgate.errors.VerifierError`, never a score;
* raises :class:`~rewardgate.errors.InvalidReference` when the reference the rule
  needs is missing or unusable: that is the caller's fault, not a wrong answer;
* any other exception is reported as ``verifier_error`` for that item.
"""

from __future__ import annotations

import functools
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from numbers import Real
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from rewardgate.errors import InvalidReference, VerifierError
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
    #: True for rules that grade the response's form (structure, length, repetition):
    #: in a pipeline with an answer format they read the whole response, where the
    #: other components grade only the answer (rewardgate/pipeline/regions.py).
    grades_whole_response: ClassVar[bool] = False

    def __init__(self, params: RuleParams) -> None:
        self.params = params

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "grade" in cls.__dict__ and not getattr(cls.grade, "_within_range", False):
            cls.grade = _within_score_range(cls.__dict__["grade"])

    @property
    def score_range(self) -> tuple[float, float]:
        """The documented (lowest, highest) score; results are clamped into it."""
        return (0.0, 1.0)

    @property
    def timeout_s(self) -> float:
        """Per-item limit enforced from outside for isolated rules."""
        return float(getattr(self.params, "timeout_s", 5.0))

    @abstractmethod
    def grade(self, item: ScoringItem) -> float:
        """Score one item; see the module docstring for the contract."""

    @property
    def offloaded(self) -> bool:
        """True: another service does this rule's work; :meth:`grade_offloaded` awaits it on the
        event loop and no verifier process is held while it waits."""
        return False

    async def grade_offloaded(self, item: ScoringItem, deadline: float | None = None) -> float:
        """Score one item elsewhere before ``deadline`` (``time.monotonic()``); same contract as
        :meth:`grade`. Only called when :attr:`offloaded` is True."""
        raise NotImplementedError(f"{self.type_name} is not offloaded")

    def warm_up(self) -> None:  # noqa: B027 - an optional hook, empty by default
        """Load what the first :meth:`grade` needs (heavy imports, a sandbox fork
        server). Isolated rules run it in every verifier process as it starts, so
        the first items after start-up or a recycle do not pay for it."""

    @staticmethod
    def require_reference(item: ScoringItem) -> str:
        if item.reference is None or not item.reference.strip():
            raise InvalidReference("this rule needs a non-empty 'reference'")
        return item.reference


def _within_score_range(grade: Callable[[Rule, ScoringItem], float]):
    """``grade`` made to return a ``float`` inside ``rule.score_range``."""

    @functools.wraps(grade)
    def checked(rule: Rule, item: ScoringItem) -> float:
        value = grade(rule, item)
        if not isinstance(value, Real) or not math.isfinite(value):
            raise VerifierError(f"rule {rule.type_name!r} returned {value!r}, not a finite number")
        low, high = rule.score_range
        return min(max(float(value), low), high)

    checked._within_range = True
    return checked


def grade_in_worker(rule: Rule, item: ScoringItem) -> float:
    """What a verifier process runs for one item.

    It lives here, next to :func:`warm_up_rules`, because a pool task names its
    function by module: unpickling it in a worker imports that module, and this one
    is already imported by the initializer. A task function in a heavier module
    (rewardgate.sources.rule.source pulls in metrics, the store, pydantic models:
    6 s on a loaded 2-core machine) made every new or recycled worker's first task
    take seconds, long enough to push admitted requests past their deadline.
    """
    return rule.grade(item)


def warm_up_rules(rules: Iterable[Rule]) -> None:
    """Verifier-process initializer: warm each rule; a failure is logged, not fatal
    (the rule then reports its error per item)."""
    for rule in rules:
        try:
            rule.warm_up()
        except Exception:
            logging.getLogger(__name__).exception("warming up rule %s failed", rule.type_name)
