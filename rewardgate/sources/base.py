"""The source interface: what computes numbers for a pipeline's components.

A source is a model (behind its dynamic batcher, rewardgate/sources/model/), a
rule (inline or in the verifier pool, rewardgate/sources/rule/) or an LLM judge
(rewardgate/sources/judge/). Pipeline components are views onto sources (a
source plus an output head), so a model used by two components of a pipeline
runs once per item.

``compute`` returns one outcome per item, in order: a list of head scores, or
the :class:`ComponentError` for that item. Request-level failures
(:class:`Overloaded`, :class:`DeadlineExceeded`, :class:`ServiceNotReady`) are
raised instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from rewardgate.errors import ComponentError
from rewardgate.hashing import canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.sources.code_version import code_fingerprint

Outcome = list[float] | ComponentError


@dataclass(frozen=True, slots=True)
class SourceKey:
    """Which source a component reads: its kind and its name in the pipeline file.

    ``str(key)`` (``rule:math``, ``model:rm``, ``judge:helpful``) is the
    source's name everywhere it shows: cache keys, metric labels, ``versions``
    in responses, readiness details.
    """

    kind: Literal["model", "rule", "judge"]
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    @classmethod
    def of_component(cls, spec) -> SourceKey | None:
        """The source a component spec reads directly (None for ensembles and routes)."""
        for kind in ("model", "rule", "judge"):
            name = getattr(spec, kind)
            if name:
                return cls(kind, name)
        return None


@dataclass
class Spend:
    """What computing scores cost: tokens through models and judges, the longest
    batcher queue wait and the longest batch execution."""

    tokens: int = 0
    judge_tokens: int = 0
    queue_s: float = 0.0
    inference_s: float = 0.0

    def add(self, other: Spend) -> None:
        self.tokens += other.tokens
        self.judge_tokens += other.judge_tokens
        # Comparisons rather than max(): the same values (NaN included), without two calls
        # (this runs for every source of every request).
        if other.queue_s > self.queue_s:
            self.queue_s = other.queue_s
        if other.inference_s > self.inference_s:
            self.inference_s = other.inference_s


@dataclass
class SourceResult(Spend):
    outcomes: list[Outcome] = field(default_factory=list)


@dataclass
class ScoreSource(ABC):
    """What computes one source's numbers; it carries its typed :class:`SourceKey`.

    ``key.kind`` must be the class's :attr:`kind` (a rule source is never keyed
    ``model:``), checked at construction: every map of sources is keyed by
    ``source.key`` and every label reads ``source.name``, so the two cannot drift.
    """

    key: SourceKey
    #: ``str(key)`` (``rule:math``): the name in cache keys, metric labels, ``versions``, readiness;
    #: made once (every request reads it several times).
    name: str = field(init=False, repr=False, compare=False)
    _fingerprint: tuple[str, str] | None = field(default=None, init=False, repr=False)
    #: The kind of key this class serves ("model", "rule", "judge"), also the cache's TTL class.
    kind: ClassVar[str]

    def __post_init__(self) -> None:
        if not isinstance(self.key, SourceKey) or self.key.kind != self.kind:
            raise TypeError(
                f"{type(self).__name__} is keyed SourceKey({self.kind!r}, name), not {self.key!r}"
            )
        self.name = str(self.key)

    @property
    @abstractmethod
    def reads(self) -> tuple[str, ...]:
        """Item fields the score depends on."""

    @property
    @abstractmethod
    def version(self) -> str:
        """Identity of what computes the score (weights hash, rule config hash)."""

    @property
    def score_range(self) -> tuple[float, float] | None:
        """The documented (lowest, highest) score of the first head; None: unbounded (models).

        The default failure value of a component reading this source is taken from it
        (docs/reward-algebra.md#failures).
        """
        return None

    @abstractmethod
    def is_ready(self) -> bool: ...

    @abstractmethod
    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        pass

    async def close(self) -> None:  # noqa: B027 - optional hook
        pass

    @property
    def code_module(self) -> str:
        """The module whose code computes this source's scores (see :attr:`code_version`)."""
        return type(self).__module__

    @property
    def code_version(self) -> str:
        """:func:`~rewardgate.sources.code_version.code_fingerprint` of :attr:`code_module`: the
        code and library versions behind the scores, so a new build never serves an old one's."""
        return code_fingerprint(self.code_module)

    def fingerprint(self) -> str:
        """Identity for cache keys: name, version (configuration, weights), the fields read and
        the code version; recomputed when the version changes (a redeployed model)."""
        version = self.version
        if self._fingerprint is None or self._fingerprint[0] != version:
            identity = [self.name, version, self.reads, self.code_version]
            self._fingerprint = (version, canonical_sha256(identity))
        return self._fingerprint[1]
