"""Format and length rules against characters a reader cannot see (docs/rules.md#format).

Generalisation under test: format and length rules read visible characters
after Unicode normalisation; a floor (non-empty block, minimum length) counts
only what a reader sees, a ceiling (penalty, maximum length) everything the
response spent.
"""

import pytest

from rewardgate.algebra import functions as fn
from rewardgate.algebra.spec import DelimiterSplit, TagSplit
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule
from tests.support.algebra import evaluate
from tests.unit.test_visible_text import BLANK_LOOKING, INVISIBLE

FILLERS = {**INVISIBLE, **BLANK_LOOKING, "combining marks": "\u0301\u0308", "marks on a space": " \u0301"}
GLUES = {**INVISIBLE, **BLANK_LOOKING, "middle dot": "\u00b7", "period": ".", "underscore-free hyphen": "-"}


def score(rule_type: str, response: str, **params) -> float:
    return build_rule(rule_type, params).grade(ScoringItem("", response, None, {}))


@pytest.mark.parametrize("filler", list(FILLERS))
@pytest.mark.parametrize(
    "template",
    ["<think>{f}</think><answer>42</answer>", "<think>reasoning</think><answer>{f}</answer>"],
    ids=["think", "answer"],
)
def test_invisible_text_does_not_fill_a_think_or_answer_block(filler, template):
    assert score("think_answer", template.format(f=FILLERS[filler] * 5)) == 0.0


def test_think_answer_still_accepts_visible_text_in_any_script():
    assert score("think_answer", "<think>\u601d\u8003</think><answer>\u0661</answer>") == 1.0
    assert score("think_answer", "<think>e\u0301</think><answer>x\ufe0f</answer>") == 1.0


@pytest.mark.parametrize("glue", list(GLUES))
def test_words_glued_together_still_pay_the_overlong_penalty(glue):
    response = GLUES[glue].join(["word"] * 120)
    assert score("overlong_penalty", response, max_length=100, cache_length=20) == -1.0
    assert score("length_window", response, max_length=100) == 0.0


def test_invisible_padding_pays_the_character_penalty():
    response = "short" + "\u200b" * 200
    assert score("overlong_penalty", response, max_length=100, cache_length=20, unit="chars") == -1.0


@pytest.mark.parametrize("filler", list(FILLERS))
def test_invisible_padding_does_not_reach_a_minimum_length(filler):
    padded = "one two" + FILLERS[filler] * 50
    assert score("length_window", padded, min_length=5, max_length=1000) == 0.0
    assert score("length_window", padded, min_length=10, max_length=1000, unit="chars") == 0.0


def test_words_split_by_invisible_characters_do_not_reach_a_minimum():
    split_word = "\u200b".join("unbelievable")  # one visible word, eleven separators
    assert score("length_window", split_word, min_length=2, max_length=100) == 0.0


@pytest.mark.parametrize(
    "variant",
    [
        "the cat sat on the mat",
        "THE CAT SAT ON THE MAT",
        "the\u200b cat sat\u2060 on the mat",
        "the, cat; sat on the mat!",
        "\uff54\uff48\uff45 cat sat on the mat",
    ],
)
def test_disguised_repeats_are_still_repeats(variant):
    honest = score("repetition_penalty", "the cat sat on the mat " * 6)
    assert honest < -0.5
    disguised = " ".join(["the cat sat on the mat", variant] * 3)
    assert score("repetition_penalty", disguised) == pytest.approx(honest, abs=0.05)


def test_pipeline_length_penalty_counts_glued_words():
    config = {
        "rules": {"v": {"type": "number", "key": "v"}},
        "pipelines": {
            "p": {
                "components": {"v": {"rule": "v"}},
                "length_penalty": {"type": "overlong", "max_length": 100, "cache_length": 20},
            }
        },
    }
    glued = "\u200b".join(["word"] * 150)
    (scored_item,) = evaluate(config, "p", [{"v": 1.0}], responses=[glued])
    assert scored_item.reward == pytest.approx(0.0)  # 1.0 - 1 (past max_length)


@pytest.mark.parametrize("filler", list(FILLERS))
def test_invisible_steps_are_no_steps(filler):
    pad = FILLERS[filler] * 3
    assert fn.split_steps(f"a\n\n{pad}\n\nb\n\n{pad}", DelimiterSplit(delimiter="\n\n")) == ["a", "b"]
    assert fn.split_steps(f"<s>a</s><s>{pad}</s>", TagSplit(tag="s")) == ["a"]
