"""What an eval measures, from the per-record results.

Pairs: a pair is a **win** when the chosen response gets the higher reward, a
**tie** when both rewards are equal, a **loss** otherwise, an **error** when
either has no reward. ``accuracy`` counts a tie as half a win (a reward that
cannot tell the two apart scores 0.5, as a coin would); ``strict_accuracy``
counts it as a loss (RewardBench's rule). Errors are left out of both and
reported apart.

The aggregate follows RewardBench: a section's score is the accuracy over all
pairs of its subsets, and the aggregate is the unweighted mean of the section
scores (without sections, each subset is its own section).

Best-of-N: the **top-1** of a set is the share of correct responses among
those tied for the highest reward (1 or 0 without ties); **random** is the
share of correct responses (what picking one at random gives on average);
**oracle** is 1 when any response is correct.

Intervals are 95% equal-tailed Jeffreys intervals: the 2.5% and 97.5%
quantiles of Beta(s + 1/2, n - s + 1/2) for s successes in n records (a tie
adds 1/2 to s). Unlike a bootstrap they stay honest at 10/10 (0.78-1.00,
not 1.00-1.00). The aggregate's interval comes from drawing each section's
accuracy from its Beta and averaging the draws. Quantiles are taken from
seeded draws, so reruns agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Verdicts of a pair (the ``outcome`` key of results.jsonl, a file format kept), and what
#: each is worth in ``accuracy`` and ``strict_accuracy``.
PAIR_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}
STRICT_VALUE = {"win": 1.0, "tie": 0.0, "loss": 0.0}
#: Beta draws behind each interval.
DRAWS = 20_000


@dataclass(frozen=True, slots=True)
class Estimate:
    value: float
    low: float
    high: float

    def as_json(self) -> dict[str, float]:
        return {"value": self.value, "ci95": [self.low, self.high]}


def pair_verdict(chosen: float | None, rejected: float | None) -> str:
    if chosen is None or rejected is None:
        return "error"
    return "win" if chosen > rejected else "tie" if chosen == rejected else "loss"


def top1(rewards: list[float], correct: list[bool]) -> float:
    """Expected correctness of the highest-rewarded response, ties broken at random."""
    best = max(rewards)
    tied = [c for r, c in zip(rewards, correct, strict=True) if r == best]
    return sum(tied) / len(tied)


def _beta_draws(successes: float, n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.beta(successes + 0.5, n - successes + 0.5, DRAWS)


def jeffreys(values: np.ndarray, seed: int = 0) -> Estimate:
    """Mean of per-record values in [0, 1] (1 success, 0 failure, 1/2 a tie) with its Jeffreys interval."""
    successes = float(values.sum())
    draws = _beta_draws(successes, values.size, np.random.default_rng(seed))
    low, high = np.quantile(draws, [0.025, 0.975])
    # At 0 or n successes the interval reaches the bound itself (Brown, Cai and DasGupta's rule).
    low = 0.0 if successes == 0 else float(low)
    high = 1.0 if successes == values.size else float(high)
    return Estimate(float(values.mean()), low, high)


def sectioned(sections: dict[str, np.ndarray], seed: int = 0) -> Estimate:
    """The RewardBench aggregate: the unweighted mean of the sections' accuracies (each over
    all pairs of its subsets), with an interval from per-section Beta draws."""
    rng = np.random.default_rng(seed)
    value = float(np.mean([values.mean() for values in sections.values()]))
    draws = np.mean([_beta_draws(float(v.sum()), v.size, rng) for v in sections.values()], axis=0)
    low, high = np.quantile(draws, [0.025, 0.975])
    return Estimate(value, min(float(low), value), max(float(high), value))
