"""Which part of a response each component grades: the answer, never the scratchpad.

A pipeline is *format-structured* when one of its components is a
``think_answer`` rule: the response is a scratchpad (``<think>…</think>``)
then an answer (``<answer>…</answer>``). In such a pipeline every grader
(models, judges, routes and rules other than the format rules) sees only the
answer region; the rules that judge the response's form (structure, length,
repetition: ``Rule.grades_whole_response``) see the whole response. A
component's ``region`` (``answer`` or ``response``) overrides the default;
``region: answer`` in a pipeline without a ``think_answer`` rule uses the
default tags ``think`` and ``answer``.

The answer region, :meth:`AnswerRegion.extract`, is read so that nothing in
a scratchpad can reach a grader, whether or not the format is right:

1. everything up to the last ``</think>`` is scratchpad (nested, repeated, or
   opened by the prompt's template); an unclosed ``<think>`` after it runs to
   the end;
2. of what remains, the body of the one answer block when there is one;
   nothing when there are several, or an unclosed one (several answers are a
   hedge, not an answer); the remaining text itself when there is none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import RULE_TYPES

if TYPE_CHECKING:
    from rewardgate.config.pipeline_file import ComponentSpec, PipelineSpec, RuleSpec

FORMAT_RULE = "think_answer"


@dataclass(frozen=True)
class AnswerRegion:
    """The answer region of responses formatted as ``<think_tag>…`` then ``<answer_tag>…``."""

    think_tag: str = "think"
    answer_tag: str = "answer"

    def extract(self, text: str) -> str:
        """The text a grader may see (module docstring). Linear in ``text``."""
        think_close = f"</{self.think_tag}>"
        after = text.rfind(think_close)
        rest = text[after + len(think_close) :] if after >= 0 else text
        unclosed = rest.find(f"<{self.think_tag}>")
        if unclosed >= 0:
            rest = rest[:unclosed]
        opening, closing = f"<{self.answer_tag}>", f"</{self.answer_tag}>"
        opened, closed = rest.count(opening), rest.count(closing)
        if opened == closed == 0:
            return rest
        if opened != 1 or closed != 1:
            return ""
        start = rest.find(opening) + len(opening)
        end = rest.find(closing, start)
        return rest[start:end] if end >= 0 else ""

    def view(self, items: list[ScoringItem]) -> list[ScoringItem]:
        """``items`` with each response replaced by its answer region."""
        return [replace(item, response=self.extract(item.response)) for item in items]


def pipeline_regions(spec: PipelineSpec, rules: Mapping[str, RuleSpec]) -> dict[str, AnswerRegion | None]:
    """Per component of ``spec``: the region it grades (None: the whole response).

    Raises:
        ValueError: two ``think_answer`` rules of the pipeline disagree on the tags.
    """
    found = answer_format(spec, rules)
    return {
        name: (found or AnswerRegion()) if grades_answer(component, rules, found is not None) else None
        for name, component in spec.components.items()
    }


def answer_format(spec: PipelineSpec, rules: Mapping[str, RuleSpec]) -> AnswerRegion | None:
    """The answer format the pipeline's ``think_answer`` rules declare, or None."""
    formats = {
        AnswerRegion(params.get("think_tag", "think"), params.get("answer_tag", "answer"))
        for c in spec.components.values()
        if c.rule in rules and rules[c.rule].type == FORMAT_RULE
        for params in [rules[c.rule].params]
    }
    if len(formats) > 1:
        tags = ", ".join(sorted(f"<{f.think_tag}>/<{f.answer_tag}>" for f in formats))
        raise ValueError(f"think_answer rules disagree on the answer format ({tags})")
    return next(iter(formats), None)


def grades_answer(component: ComponentSpec, rules: Mapping[str, RuleSpec], structured: bool) -> bool:
    """Whether ``component`` sees only the answer region: its ``region``, else the default
    of a (non-)format-structured pipeline (module docstring)."""
    if component.region is not None:
        return component.region == "answer"
    if not structured or component.kind == "ensemble":
        return False
    if component.kind == "rule":
        rule_type = RULE_TYPES.get(rules[component.rule].type) if component.rule in rules else None
        return not getattr(rule_type, "grades_whole_response", False)
    return True
