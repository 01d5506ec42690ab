"""Rule types by name. New families register here (one import per module)."""

from __future__ import annotations

from typing import Any

from service.rules.base import Rule
from service.rules.code import CodeTests
from service.rules.format import LengthWindow, OverlongPenalty, RegexMatch, RepetitionPenalty, ThinkAnswer
from service.rules.math import MathVerify
from service.rules.sql import SqlExecution
from service.rules.structure import JsonSchema, JsonValid
from service.rules.text import (
    Bleu,
    Chrf,
    Contains,
    ExactMatch,
    MultipleChoice,
    NormalizedMatch,
    Rouge,
    TokenF1,
)
from service.rules.tools import ToolCall

RULE_TYPES: dict[str, type[Rule]] = {
    cls.type_name: cls
    for cls in (
        ExactMatch,
        NormalizedMatch,
        MultipleChoice,
        Contains,
        TokenF1,
        Bleu,
        Chrf,
        Rouge,
        RegexMatch,
        ThinkAnswer,
        LengthWindow,
        RepetitionPenalty,
        OverlongPenalty,
        JsonValid,
        JsonSchema,
        ToolCall,
        MathVerify,
        SqlExecution,
        CodeTests,
    )
}


def build_rule(type_name: str, params: dict[str, Any]) -> Rule:
    """Instantiate a rule; raises KeyError (unknown type) or pydantic ValidationError."""
    cls = RULE_TYPES[type_name]
    return cls(cls.Params.model_validate(params))
