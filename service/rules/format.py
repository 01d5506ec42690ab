"""Format rules: regular-expression match on the response.

Patterns are compiled with RE2, whose matching time is linear in the input,
so a hostile response cannot trigger catastrophic backtracking and the rule can
run inline on the event loop.
"""

from __future__ import annotations

from typing import Literal

import re2
from pydantic import Field, field_validator

from service.items import ScoringItem
from service.rules.base import Rule, RuleParams

_FLAG_PREFIX = {"dotall": "s", "ignorecase": "i", "multiline": "m"}


class RegexParams(RuleParams):
    pattern: str = Field(description="RE2 syntax (no backreferences or lookaround).")
    mode: Literal["search", "fullmatch"] = Field(
        "search", description="search: anywhere in the response; fullmatch: the whole response."
    )
    flags: list[Literal["dotall", "ignorecase", "multiline"]] = Field(default_factory=lambda: ["dotall"])

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re2.compile(pattern)
        except re2.error as exc:
            raise ValueError(f"not valid RE2 syntax: {exc}") from exc
        return pattern


def compile_pattern(params: RegexParams):
    """Compile with RE2 (the pattern was validated when the params were built)."""
    prefix = "".join(_FLAG_PREFIX[f] for f in params.flags)
    source = f"(?{prefix}){params.pattern}" if prefix else params.pattern
    return re2.compile(source)


class RegexMatch(Rule):
    """1.0 when the response matches ``pattern``, else 0.0."""

    type_name = "regex"
    Params = RegexParams
    reads = ("response",)

    def __init__(self, params: RegexParams) -> None:
        super().__init__(params)
        self._compiled = compile_pattern(params)

    def __getstate__(self) -> dict:
        # RE2 objects do not pickle; recompile on the other side.
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["params"])

    def evaluate(self, item: ScoringItem) -> float:
        if self.params.mode == "fullmatch":
            matched = self._compiled.fullmatch(item.response)
        else:
            matched = self._compiled.search(item.response)
        return 1.0 if matched else 0.0
