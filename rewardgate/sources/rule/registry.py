"""Rule types by name. New families register here (one import per module)."""

from __future__ import annotations

from typing import Any

from rewardgate.sources.rule.base import Rule
from rewardgate.sources.rule.code import CodeTests
from rewardgate.sources.rule.format import (
    LengthWindow,
    OverlongPenalty,
    RegexMatch,
    RepetitionPenalty,
    ThinkAnswer,
)
from rewardgate.sources.rule.math import MathVerify
from rewardgate.sources.rule.sql import SqlExecution
from rewardgate.sources.rule.structure import JsonSchema, JsonValid
from rewardgate.sources.rule.text import (
    Bleu,
    Chrf,
    Contains,
    ExactMatch,
    MultipleChoice,
    NormalizedMatch,
    Rouge,
    TokenF1,
)
from rewardgate.sources.rule.tools import ToolCall
from rewardgate.sources.rule.vision import BoxIou, Count, GuiAction, NumericTolerance, PointInBox
from rewardgate.sources.rule.vision_anls import Anls

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
        BoxIou,
        PointInBox,
        Count,
        Anls,
        NumericTolerance,
        GuiAction,
    )
}


def build_rule(type_name: str, params: dict[str, Any]) -> Rule:
    """Instantiate a rule; raises KeyError (unknown type) or pydantic ValidationError."""
    cls = RULE_TYPES[type_name]
    return cls(cls.Params.model_validate(params))
