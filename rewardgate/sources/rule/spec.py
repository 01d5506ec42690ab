"""A rule's entry in the pipeline file's ``rules:`` section.

Each source kind owns the YAML shape of its entries (the model's is
sources/model/spec.py, the judge's sources/judge/spec.py); the pipeline file
(rewardgate/config/specs.py) composes them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class RuleSpec(BaseModel):
    """A rule: ``type`` plus that type's own parameters (validated by the rule class)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})
