"""The statistics the reward monitor reports, as pure functions over numpy arrays.

Every function returns ``None`` when its statistic is undefined for the data
(too few values, no variation), so callers report absence instead of a
number that means nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Quantiles reported for every reward series.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Bins of the population stability index for continuous values (deciles of the reference).
PSI_BINS = 10
#: Smallest bin share PSI uses, so an empty bin gives a large but finite term.
PSI_FLOOR = 1e-4
#: Rewards of a group closer than this count as equal (a GRPO advantage of zero).
EQUAL_REWARDS_TOLERANCE = 1e-9


@dataclass(frozen=True, slots=True)
class Summary:
    count: int
    mean: float
    std: float
    quantiles: dict[float, float]


def summarize(values: np.ndarray) -> Summary:
    """Count, mean, population standard deviation and :data:`QUANTILES` of a non-empty array."""
    quantiles = np.quantile(values, QUANTILES)
    return Summary(
        count=int(values.size),
        mean=float(values.mean()),
        std=float(values.std()),
        quantiles={q: float(v) for q, v in zip(QUANTILES, quantiles, strict=True)},
    )


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, tied values sharing the mean of their ranks (what Spearman's rho needs)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_run = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    run_of = np.cumsum(starts_run) - 1
    starts = np.flatnonzero(starts_run)
    ends = np.append(starts[1:], values.size)  # exclusive
    run_rank = (starts + ends + 1) / 2  # mean of ranks starts+1 .. ends
    ranks = np.empty(values.size)
    ranks[order] = run_rank[run_of]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation of two equally long arrays; None if either is constant.

    Rank-based, so a reward that grows with length in any monotone way shows,
    and a few very long responses do not dominate it as they would Pearson's r.
    """
    if x.size < 2:
        return None
    rx, ry = average_ranks(x), average_ranks(y)
    rx -= rx.mean()
    ry -= ry.mean()
    scale = np.sqrt((rx * rx).sum() * (ry * ry).sum())
    if scale == 0:
        return None
    return float(np.clip((rx * ry).sum() / scale, -1.0, 1.0))


def ks_statistic(reference: np.ndarray, current: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two empirical CDFs."""
    points = np.concatenate((reference, current))
    cdf_reference = np.searchsorted(np.sort(reference), points, side="right") / reference.size
    cdf_current = np.searchsorted(np.sort(current), points, side="right") / current.size
    return float(np.abs(cdf_reference - cdf_current).max())


def population_stability_index(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI = sum over bins of (c - r) ln(c / r), with r and c the bins' shares.

    Values with at most :data:`PSI_BINS` distinct levels (0/1 rules, 1-5
    judges) are binned by level; continuous values by the reference's deciles.
    Shares below :data:`PSI_FLOOR` are raised to it. Common reading: below 0.1
    stable, 0.1-0.25 a moderate shift, above 0.25 a large one.
    """
    levels = np.unique(np.concatenate((reference, current)))
    if levels.size <= PSI_BINS:
        r_counts = np.array([(reference == level).sum() for level in levels])
        c_counts = np.array([(current == level).sum() for level in levels])
    else:
        inner = np.unique(np.quantile(reference, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        r_counts = np.bincount(np.searchsorted(inner, reference, side="right"), minlength=inner.size + 1)
        c_counts = np.bincount(np.searchsorted(inner, current, side="right"), minlength=inner.size + 1)
    r = np.maximum(r_counts / reference.size, PSI_FLOOR)
    c = np.maximum(c_counts / current.size, PSI_FLOOR)
    return float(((c - r) * np.log(c / r)).sum())


def zero_advantage_share(groups: list[np.ndarray]) -> float | None:
    """Share of groups (two or more rewards each) whose rewards are all equal.

    Such a group gives every member a GRPO advantage of zero: it carries no
    learning signal. None when no group has two rewards.
    """
    sized = [g for g in groups if g.size >= 2]
    if not sized:
        return None
    flat = sum(1 for g in sized if np.ptp(g) <= EQUAL_REWARDS_TOLERANCE)
    return flat / len(sized)


def mean_member_spread(members: np.ndarray) -> float | None:
    """Mean over items (rows) of the standard deviation across ensemble members (columns).

    Rows with a missing member (NaN) are left out; None when none is complete.
    """
    complete = members[~np.isnan(members).any(axis=1)]
    if complete.size == 0:
        return None
    return float(complete.std(axis=1).mean())
