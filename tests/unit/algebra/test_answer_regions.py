"""A format-structured pipeline grades the answer region, never the scratchpad.

docs/rules.md, "Answer region".

Generalisation under test: in a pipeline with a ``think_answer`` rule, every
grader (rules other than format rules, routes and their sub-pipelines; models
and judges by the same code path) sees only the answer region, whatever the
policy puts in its scratchpad and whether or not the format is right; format
and length rules see the whole response.
"""

import pytest

from rewardgate.config.pipeline_file import ConfigError, parse_config
from rewardgate.pipeline.regions import AnswerRegion
from tests.support.algebra import evaluate

REGION = AnswerRegion()


@pytest.mark.parametrize(
    ("response", "region"),
    [
        ("<think>work</think><answer>3</answer>", "3"),
        ("<think>\\boxed{2}</think><answer>3</answer>", "3"),  # the answer, not the scratchpad
        ("<think>\\boxed{2}</think>", ""),  # a scratchpad alone: nothing to grade
        ("<think>\\boxed{2}", ""),  # an unclosed scratchpad runs to the end
        ("reasoning \\boxed{2}</think><answer>3</answer>", "3"),  # opened by the prompt's template
        ("<think>a<think>\\boxed{2}</think>b</think><answer>3</answer>", "3"),  # nested
        ("<think>\\boxed{2}</think><think>more</think><answer>3</answer>", "3"),  # two scratchpads
        ("<think><answer>2</answer></think><answer>3</answer>", "3"),  # an answer block inside
        ("<think>x</think><answer>2</answer><answer>3</answer>", ""),  # two answers: a hedge
        ("<think>x</think><answer>2", ""),  # an unclosed answer
        ("<think>x</think><answer>3</answer> \\boxed{2}", "3"),  # text after the answer block
        ("\\boxed{2} <think>x</think><answer>3</answer>", "3"),  # text before the scratchpad
        ("<think>x</think> 3", " 3"),  # no answer block: what follows the scratchpad
        ("\\boxed{3}", "\\boxed{3}"),  # no format at all: nothing is scratchpad
        ("<THINK>\\boxed{2}</THINK><answer>3</answer>", "3"),
    ],
)
def test_the_answer_region_never_holds_scratchpad_text(response, region):
    assert REGION.extract(response) == region


def test_custom_tags():
    region = AnswerRegion("reasoning", "final")
    assert region.extract("<reasoning>2</reasoning><final>3</final>") == "3"


PIPELINES = {
    "rules": {
        "fmt": {"type": "think_answer"},
        "match": {"type": "normalized_match"},
        "says": {"type": "contains"},
        "long": {"type": "length_window", "min_length": 4, "max_length": 100},
    },
    "pipelines": {
        "graded": {
            "components": {
                "fmt": {"rule": "fmt"},
                "match": {"rule": "match"},
                "long": {"rule": "long"},
                "whole": {"rule": "says", "region": "response"},
            },
            "combine": {"weights": {"match": 1.0, "long": 0.0, "whole": 0.0}},
        },
        "routed": {
            "components": {
                "fmt": {"rule": "fmt"},
                "task": {"route": {"field": "task", "pipelines": {"qa": "plain"}}},
            },
            "combine": {"weights": {"task": 1.0}},
        },
        "plain": {"components": {"says": {"rule": "says"}}},
        "explicit": {"components": {"says": {"rule": "says", "region": "answer"}}},
    },
}
HACK = "<think>Paris</think><answer>Lyon</answer>"
HONEST = "<think>thinking about it</think><answer>Paris</answer>"


def run(pipeline, response, **metadata):
    (scored_item,) = evaluate(PIPELINES, pipeline, [metadata], responses=[response], references=["Paris"])
    return scored_item


def test_graders_see_the_answer_and_format_rules_the_whole_response():
    hacked, honest = run("graded", HACK), run("graded", HONEST)
    assert hacked.components["match"] == 0.0 and honest.components["match"] == 1.0
    assert hacked.components["whole"] == 1.0  # region: response reads the scratchpad too
    assert honest.components["long"] == 1.0  # five words in all, one in the answer
    assert hacked.reward == 0.0 and honest.reward == 1.0


def test_a_routed_sub_pipeline_sees_only_the_answer():
    assert run("routed", HACK, task="qa").reward == 0.0
    assert run("routed", HONEST, task="qa").reward == 1.0


def test_region_answer_without_a_format_rule_uses_think_and_answer():
    assert run("explicit", HACK).reward == 0.0
    assert run("plain", HACK).reward == 1.0  # no format declared, no region asked: the whole response


def test_format_rules_that_disagree_on_the_tags_are_a_config_error():
    config = {
        "rules": {"a": {"type": "think_answer"}, "b": {"type": "think_answer", "answer_tag": "final"}},
        "pipelines": {"p": {"components": {"a": {"rule": "a"}, "b": {"rule": "b"}}}},
    }
    with pytest.raises(ConfigError, match="disagree on the answer format"):
        parse_config(config)


def test_an_ensemble_has_no_region():
    config = {
        "rules": {"a": {"type": "contains"}},
        "pipelines": {
            "p": {
                "components": {
                    "a": {"rule": "a"},
                    "b": {"rule": "a"},
                    "e": {"ensemble": {"members": ["a", "b"], "aggregate": "mean"}, "region": "answer"},
                }
            }
        },
    }
    with pytest.raises(ConfigError, match="region applies to components that read the response"):
        parse_config(config)


def test_unset_new_keys_leave_existing_hashes_and_statistics_keys_alone():
    from rewardgate.config.pipeline_file import ComponentSpec
    from rewardgate.pipeline.plan import stats_key

    spec = ComponentSpec.model_validate({"rule": "r", "steps": {"split": {"delimiter": "\n"}}})
    assert "region" not in spec.model_dump(mode="json")
    assert "threshold" not in spec.model_dump(mode="json")["steps"]
    # Values graded over the answer region are another distribution: their statistics start afresh.
    assert stats_key("p", "c", spec, AnswerRegion()) != stats_key("p", "c", spec)
