"""Rule types by name. New families register here (one import per module)."""

from __future__ import annotations

from typing import Any

from service.rules.base import Rule
from service.rules.format import RegexMatch
from service.rules.math import MathVerify
from service.rules.text import ExactMatch, NormalizedMatch

RULE_TYPES: dict[str, type[Rule]] = {
    cls.type_name: cls for cls in (ExactMatch, NormalizedMatch, RegexMatch, MathVerify)
}


def build_rule(type_name: str, params: dict[str, Any]) -> Rule:
    """Instantiate a rule; raises KeyError (unknown type) or pydantic ValidationError."""
    cls = RULE_TYPES[type_name]
    return cls(cls.Params.model_validate(params))
