"""Group methods: each scores every sample of ONE group from the whole group.

Pure functions of the group's extracted answers or texts, no I/O, so the
same group gives the same values however its samples arrived. Formulas and
failure modes: docs/reward-algebra.md#group-components.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from rewardgate.sources.rule.text import normalize_answer
from rewardgate.visible_text import visible_text


@dataclass(frozen=True, slots=True)
class Vote:
    """What a vote found: the winning answer (None: no majority) and the agreement,
    the top answer's share of the whole group (abstentions count in the denominator)."""

    label: str | None
    agreement: float


def vote(answers: list[str | None], min_votes: int = 2, min_share: float = 0.0) -> Vote:
    """Plurality vote over ``answers`` (``None`` abstains).

    The top answer wins only if no other answer has as many votes (a tie is no
    majority), it has at least ``min_votes`` votes (one sample alone never makes a
    pseudo-label: a group of one would always reward itself) and at least
    ``min_share`` of the group.
    """
    counts = Counter(answer for answer in answers if answer is not None)
    if not answers or not counts:
        return Vote(None, 0.0)
    ranked = counts.most_common(2)
    top, top_votes = ranked[0]
    agreement = top_votes / len(answers)
    tied = len(ranked) > 1 and ranked[1][1] == top_votes
    if tied or top_votes < min_votes or agreement < min_share:
        return Vote(None, agreement)
    return Vote(top, agreement)


def majority_vote(
    answers: list[str | None], min_votes: int = 2, min_share: float = 0.0
) -> tuple[list[float], Vote]:
    """TTRL-style pseudo-label reward: ``r_i = 1[a_i = â]`` with ``â`` the group's vote
    (:func:`vote`); every ``r_i = 0`` when there is no majority."""
    result = vote(answers, min_votes, min_share)
    values = [1.0 if result.label is not None and answer == result.label else 0.0 for answer in answers]
    return values, result


def view_agreement(
    answers: list[str | None], views: list[str], min_votes: int = 2, min_share: float = 0.0
) -> tuple[list[float], list[Vote]]:
    """Co-Reward-style cross-view reward: a sample of view ``v`` scores
    ``1[a_i = vote(answers of the other views)]``; 0 when the other views have no majority.

    Returns the values and the vote each distinct view was scored against (in order of
    first appearance). Callers make sure at least two views are present.
    """
    order = list(dict.fromkeys(views))
    against: dict[str, Vote] = {}
    for view in order:
        others = [a for a, v in zip(answers, views, strict=True) if v != view]
        against[view] = vote(others, min_votes, min_share)
    values = []
    for answer, view in zip(answers, views, strict=True):
        label = against[view].label
        values.append(1.0 if label is not None and answer == label else 0.0)
    return values, [against[v] for v in order]


def shingles(text: str, size: int = 3) -> frozenset[tuple[str, ...]]:
    """Word ``size``-grams of the SQuAD-normalised visible text (case, punctuation, articles,
    spacing and characters a reader cannot see, such as zero-width spaces inside words, do not
    make two samples different); a shorter text is one shingle."""
    words = normalize_answer(visible_text(text)).split()
    if len(words) <= size:
        return frozenset([tuple(words)])
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(a: frozenset, b: frozenset) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def duplicate_penalty(texts: list[str], threshold: float = 0.9, shingle: int = 3) -> list[float]:
    """``r_i = -|{j ≠ i : J(i, j) >= threshold}| / (n - 1)``, J the Jaccard similarity of
    word shingles; 0 for a group of one. Every copy is penalised, the first included: no
    order of arrival decides which duplicate keeps its reward."""
    sets = [shingles(text, shingle) for text in texts]
    n = len(sets)
    if n < 2:
        return [0.0] * n
    duplicates = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if jaccard(sets[i], sets[j]) >= threshold:
                duplicates[i] += 1
                duplicates[j] += 1
    return [-count / (n - 1) for count in duplicates]


def bradley_terry(
    n: int, wins: dict[tuple[int, int], float], smoothing: float = 0.1, iterations: int = 1000
) -> list[float]:
    """Centred Bradley-Terry log-strengths ``r_i = log p_i - mean_j log p_j`` of ``n`` players.

    ``wins[(i, j)]`` (i < j) is P(i beats j) from one comparison of the pair,
    smoothed to ``(w + smoothing) / (1 + 2 smoothing)`` so that a sample winning
    (or losing) every comparison keeps a finite strength. Fitted by Hunter's MM
    iteration ``p_i <- W_i / sum_j 1 / (p_i + p_j)`` over the compared pairs, to
    convergence; the model says ``P(i beats j) = p_i / (p_i + p_j)``.
    """
    if n < 2 or not wins:
        return [0.0] * n
    won = [[0.0] * n for _ in range(n)]
    opponents: list[list[int]] = [[] for _ in range(n)]
    for (i, j), w in wins.items():
        share = (w + smoothing) / (1 + 2 * smoothing)
        won[i][j], won[j][i] = share, 1.0 - share
        opponents[i].append(j)
        opponents[j].append(i)
    totals = [sum(row) for row in won]
    strength = [1.0] * n
    for _ in range(iterations):
        updated = [
            totals[i] / sum(1.0 / (strength[i] + strength[j]) for j in opponents[i]) if opponents[i] else 1.0
            for i in range(n)
        ]
        # Only ratios matter: fix the geometric mean at 1 so the iteration cannot drift.
        centre = math.exp(sum(math.log(max(p, 1e-300)) for p in updated) / n)
        updated = [p / centre for p in updated]
        converged = max(abs(a - b) for a, b in zip(updated, strength, strict=True)) < 1e-12
        strength = updated
        if converged:
            break
    logs = [math.log(max(p, 1e-300)) for p in strength]
    mean = sum(logs) / n
    return [value - mean for value in logs]
