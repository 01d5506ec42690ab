"""The ``group:`` component's YAML (validated at start-up, strict like every spec)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from rewardgate.strict import StrictModel

#: Most samples one group may declare (a vote is O(n), duplicates O(n^2) in the group's size).
MAX_GROUP_SIZE = 1024


class GroupSpec(StrictModel):
    """A component computed over each sample's whole group (items sharing ``group.id``)."""

    method: Literal["majority_vote", "view_agreement", "duplicates", "tournament"] = Field(
        description="majority_vote: 1 if the sample's answer is the group's vote; view_agreement: 1 if "
        "it is the vote of the group's other prompt views; duplicates: minus the share of the other "
        "samples that (nearly) repeat it; tournament: its Bradley-Terry log-strength from a pairwise judge "
        "asked on every pair of the group in both orders."
    )
    extractor: Literal["math", "choice", "text", "code_output"] = Field(
        "math",
        description="The answer a vote compares: math (boxed / 'answer is', numbers canonical), choice "
        "(one option letter), text (normalised response), code_output (the last fenced block).",
    )
    choices: str = Field("ABCDEFGHIJ", min_length=1, description="extractor=choice: the option letters.")
    min_votes: int = Field(2, ge=1, description="Fewest votes a pseudo-label needs (1 lets one sample win).")
    min_share: float = Field(0.0, ge=0, le=1, description="Smallest share of the group the top answer needs.")
    views: list[str] | None = Field(
        None, description="view_agreement: the declared prompt views (at least two), read from metadata."
    )
    view_field: str = Field("view", min_length=1, description="view_agreement: the metadata key of the view.")
    threshold: float = Field(
        0.9, gt=0, le=1, description="duplicates: Jaccard similarity of word shingles that counts as a copy."
    )
    shingle: int = Field(3, ge=1, le=16, description="duplicates: words per shingle.")
    judge: str | None = Field(None, description="tournament: a judge of the file of kind pairwise.")
    smoothing: float = Field(
        0.1,
        gt=0,
        le=1,
        description="tournament: a verdict w counts as (w + s) / (1 + 2 s) (finite strengths).",
    )

    @model_validator(mode="after")
    def _views(self) -> GroupSpec:
        if self.method == "view_agreement":
            if not self.views or len(set(self.views)) < 2:
                raise ValueError("view_agreement needs views: at least two distinct view names")
        elif self.views is not None:
            raise ValueError("views apply to method view_agreement only")
        if (self.method == "tournament") != (self.judge is not None):
            raise ValueError("a tournament needs a judge (kind pairwise), and only a tournament takes one")
        return self
