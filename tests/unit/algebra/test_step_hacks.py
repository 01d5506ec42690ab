"""Process rewards cannot be raised by repeating or padding steps (docs/reward-algebra.md#process-rewards).

Generalisation under test: every step aggregate offered is monotone under an
added step (``min``, ``product`` of scores clipped to [0, 1], ``clipped_sum``
of ``min(s - threshold, 0)``; ``last`` only where the final step is scored in
context), a repeated step is scored once, and the aggregates a padded step
can raise (``mean``, ``sum``) are refused at start-up with the reason.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgate.algebra import functions as fn
from rewardgate.algebra.spec import DelimiterSplit, TagSplit
from rewardgate.config.pipeline_file import ConfigError, parse_config
from tests.support.algebra import evaluate

SCORES = st.lists(st.floats(-3, 3, allow_nan=False), min_size=1, max_size=8)
PADDING = st.floats(-3, 3, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(scores=SCORES, padding=PADDING, data=st.data())
def test_no_aggregate_rises_when_a_step_is_added(scores, padding, data):
    position = data.draw(st.integers(0, len(scores)))
    padded = [*scores[:position], padding, *scores[position:]]
    for how in ("min", "product", "clipped_sum"):
        assert fn.aggregate_steps(padded, how) <= fn.aggregate_steps(scores, how) + 1e-12
    if position < len(scores):  # 'last' is the final step, scored in context (config check below)
        assert fn.aggregate_steps(padded, "last") == fn.aggregate_steps(scores, "last")


STEPS = "Let x be the number.\n\nThen 2x = 8.\n\nSo x = 4."


@pytest.mark.parametrize(
    "repeat",
    ["So x = 4.", "so X = 4.", "So  x\u200b = 4. ", "SO X=4.", "\uff33o x = 4."],
)
def test_a_repeated_step_is_scored_once(repeat):
    split = DelimiterSplit(delimiter="\n\n")
    assert fn.split_steps(f"{STEPS}\n\n{repeat}\n\n{repeat}", split) == fn.split_steps(STEPS, split)
    tagged = "".join(f"<step>{s}</step>" for s in [*STEPS.split("\n\n"), repeat, repeat])
    assert fn.split_steps(tagged, TagSplit(tag="step")) == fn.split_steps(STEPS, split)


def test_different_steps_are_not_merged():
    steps = fn.split_steps("x = 2\n\nx = -2\n\nX = 2", DelimiterSplit(delimiter="\n\n"))
    assert steps == ["x = 2", "x = -2"]


def test_thousands_of_unclosed_step_tags_split_in_linear_time():
    # A lazy regex took about 25 s here; this is one pass.
    assert fn.split_steps("<step>" * 33_000, TagSplit(tag="step")) == []
    assert fn.split_steps("<step>a</step>" + "<step>" * 33_000, TagSplit(tag="step")) == ["a"]


def pipeline_config(aggregate: str, context: str = "step") -> dict:
    steps = {"split": {"delimiter": "\n\n"}, "aggregate": aggregate, "context": context}
    return {
        "rules": {"says_answer": {"type": "contains"}},
        "pipelines": {"p": {"components": {"s": {"rule": "says_answer", "steps": steps}}}},
    }


HONEST = "Let x be the number.\n\nThen 2x = 9.\n\nSo x = 4."
HACKS = {
    "repeat the right step": HONEST + "\n\nSo x = 4." * 5,
    "repeat it disguised": HONEST + "\n\nso X = 4.\n\nSO x = 4!\n\nSo\u200b x = 4.",
    "pad with right-looking steps": HONEST + "\n\nx = 4\n\nthe answer is 4\n\n4\n\nindeed 4",
    "pad with invisible steps": HONEST + "\n\n\u200b\n\n\u3164\n\n\u2800",
}


@pytest.mark.parametrize(
    ("aggregate", "context"),
    [("min", "step"), ("product", "step"), ("clipped_sum", "step"), ("last", "prefix")],
)
@pytest.mark.parametrize("hack", list(HACKS))
def test_per_step_rewards_are_not_raised_by_repeating_or_padding(aggregate, context, hack):
    config = pipeline_config(aggregate, context)
    honest, hacked = evaluate(config, "p", [{}, {}], responses=[HONEST, HACKS[hack]], references=["4", "4"])
    assert hacked.reward <= honest.reward


@pytest.mark.parametrize("aggregate", ["mean", "sum"])
def test_aggregates_a_padded_step_can_raise_are_refused_with_the_reason(aggregate):
    with pytest.raises(ConfigError, match="can be raised by repeating or padding steps"):
        parse_config(pipeline_config(aggregate))


def test_last_of_steps_scored_alone_is_refused_but_in_context_is_allowed():
    with pytest.raises(ConfigError, match=r"steps\.aggregate: 'last' of steps scored alone"):
        parse_config(pipeline_config("last"))
    parse_config(pipeline_config("last", context="prefix"))
