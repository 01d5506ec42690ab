"""A group component's column over the items of one evaluation.

Items are grouped by their group id; each group is scored by its method
(rewardgate/groups/methods.py) as a whole. The evaluation holds every
sample of each group it scores: whole in the request, or assembled over
requests (rewardgate/core/group_assembler.py). A group the assembler gave up on
is ``incomplete``: its samples get :class:`GroupIncomplete`, never a value
computed from part of the group.
"""

from __future__ import annotations

import functools
from collections import defaultdict

from rewardgate.errors import ComponentError, InvalidComponentInput
from rewardgate.groups.extract import EXTRACTORS, choice_answer
from rewardgate.groups.methods import bradley_terry, duplicate_penalty, majority_vote, view_agreement
from rewardgate.groups.spec import GroupSpec
from rewardgate.groups.stats import GroupStats
from rewardgate.items import ScoringItem
from rewardgate.pipeline.columns import Cell, Column


class GroupIncomplete(ComponentError):
    """The sample's group did not complete before its deadline (retryable: resend the group)."""

    error_type = "group_incomplete"
    retryable = True


def extractor(spec: GroupSpec):
    if spec.extractor == "choice":
        return functools.partial(choice_answer, choices=spec.choices)
    return EXTRACTORS[spec.extractor]


def group_column(
    pipeline: str,
    name: str,
    spec: GroupSpec,
    items: list[ScoringItem],
    groups: list[str | None],
    incomplete: frozenset[str],
    stats: GroupStats,
    verdicts: dict[tuple[int, int], float | ComponentError] | None = None,
) -> Column:
    """One entry per item: its value within its group, or why there is none.

    ``verdicts`` (tournaments): the pairwise judge's P(i beats j) for every pair of item
    indices i < j of each complete group, or the pair's failure."""
    column: Column = [InvalidComponentInput(f"{spec.method} needs items[].group")] * len(items)
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        if group is not None:
            members[group].append(index)
    for group, indices in members.items():
        if group in incomplete:
            error = GroupIncomplete(f"group {group!r} did not complete before its deadline")
            for index in indices:
                column[index] = error
            continue
        if spec.method == "tournament":
            scored = _tournament(spec, indices, verdicts or {})
        else:
            scored = _score_group(pipeline, name, spec, [items[i] for i in indices], stats)
        for index, entry in zip(indices, scored, strict=True):
            column[index] = entry
    return column


def judged_pairs(tournament, outcomes) -> dict[tuple[int, int], float | ComponentError]:
    """A tournament's verdicts by item pair, read from its judge's outcomes (None: no tournament)."""
    if tournament is None:
        return {}
    (source, start, _), pairs = tournament
    found = outcomes[source].outcomes[start : start + len(pairs)]
    return {
        pair: outcome if isinstance(outcome, ComponentError) else outcome[0]
        for pair, outcome in zip(pairs, found, strict=True)
    }


def _tournament(spec: GroupSpec, indices: list[int], verdicts) -> list[Cell | ComponentError]:
    """Bradley-Terry log-strengths of the group's samples; any failed verdict fails the group
    (strengths from part of the pairs would rank samples on unequal evidence)."""
    wins = {}
    for a, i in enumerate(indices):
        for b in range(a + 1, len(indices)):
            verdict = verdicts[(i, indices[b])]
            if isinstance(verdict, ComponentError):
                return [verdict] * len(indices)
            wins[(a, b)] = verdict
    return [Cell(v) for v in bradley_terry(len(indices), wins, spec.smoothing)]


def _score_group(
    pipeline: str, name: str, spec: GroupSpec, items: list[ScoringItem], stats: GroupStats
) -> list[Cell | ComponentError]:
    if spec.method == "duplicates":
        return [Cell(v) for v in duplicate_penalty([i.response for i in items], spec.threshold, spec.shingle)]
    read = extractor(spec)
    answers = [read(item.response) for item in items]
    if spec.method == "majority_vote":
        values, result = majority_vote(answers, spec.min_votes, spec.min_share)
        stats.voted(pipeline, name, result.agreement, result.label is not None)
        return [Cell(v) for v in values]
    views = [item.metadata.get(spec.view_field) for item in items]
    declared = set(spec.views or ())
    if any(view not in declared for view in views):
        error = InvalidComponentInput(
            f"view_agreement: every sample needs metadata.{spec.view_field} among {sorted(declared)}"
        )
        return [error] * len(items)
    if len(set(views)) < 2:
        return [InvalidComponentInput("view_agreement: the group holds a single view")] * len(items)
    values, votes = view_agreement(answers, views, spec.min_votes, spec.min_share)
    for result in votes:
        stats.voted(pipeline, name, result.agreement, result.label is not None)
    return [Cell(v) for v in values]
