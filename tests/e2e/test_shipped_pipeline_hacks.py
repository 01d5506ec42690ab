"""The shipped pipelines (rewardgate/defaults/pipelines.yaml) against the hacks of issue #27.

``reasoning`` graded a ``\\boxed{}`` inside ``<think>`` and never the
``<answer>`` block: ``<think>\\boxed{2}</think><answer>3</answer>`` scored 1.0
against the reference 2. It now grades the answer region only (docs/rules.md,
"Answer region"), and counts length and non-empty blocks in visible characters
(docs/rules.md, "Visible characters").
"""

import pytest

from tests.support.server import score_ok

pytestmark = pytest.mark.slow

REASONING_CASES = [
    # (response, reward) with reference "2"
    ("<think>1 + 1 = 2</think><answer>\\boxed{2}</answer>", 1.0),
    ("<think>1 + 1 = 2</think><answer>2</answer>", 1.0),
    ("<think>\\boxed{2}</think><answer>3</answer>", 0.0),
    ("<think>\\boxed{2}</think><answer>\\boxed{3}</answer>", 0.0),
    ("<think>the answer is 2</think><answer>I am not sure</answer>", 0.0),
    ("<think><answer>2</answer></think><answer>3</answer>", 0.0),
    ("<think>\\boxed{2}</think><think>x</think><answer>3</answer>", -1.0),  # two scratchpads: no format
    ("<think>\\boxed{2}</think><answer>\u200b</answer>", -1.0),  # an invisible answer is empty
    ("<think>\u200b\u3164</think><answer>2</answer>", -1.0),  # an invisible scratchpad is empty
    ("\\boxed{2}", -1.0),  # no format
    # several final answers in the answer block are a hedge; in the scratchpad they are reasoning
    ("<think>x</think><answer>\\boxed{3}. Or possibly \\boxed{2}.</answer>", 0.0),
    ("<think>x</think><answer>The answer is 3 or 2</answer>", 0.0),
    ("<think>\\boxed{3} or maybe \\boxed{2}?</think><answer>\\boxed{2}</answer>", 1.0),
    ("<think>x</think><answer>\\boxed{x = 2}, i.e. \\boxed{2}</answer>", 1.0),
]


def test_reasoning_grades_the_answer_never_the_scratchpad(default_service):
    items = [{"id": str(i), "response": r, "reference": "2"} for i, (r, _) in enumerate(REASONING_CASES)]
    results = score_ok(default_service, "reasoning", items, cache=False)["results"]
    got = [(case[0], result["reward"]) for case, result in zip(REASONING_CASES, results, strict=True)]
    assert got == [(response, reward) for response, reward in REASONING_CASES]


def test_reasoning_overlong_penalty_counts_words_glued_by_invisible_characters(default_service):
    glued = "\u200b".join(["step"] * 4200)
    item = {"response": f"<think>{glued}</think><answer>\\boxed{{2}}</answer>", "reference": "2"}
    (result,) = score_ok(default_service, "reasoning", [item], cache=False)["results"]
    assert result["reward"] == pytest.approx(0.0)  # correct (1.0) and past max_length (-1)


def test_the_math_pipeline_without_a_format_still_grades_the_whole_response(default_service):
    (result,) = score_ok(default_service, "math", [{"response": "\\boxed{2}", "reference": "2"}])["results"]
    assert result["reward"] == 1.0


@pytest.mark.parametrize(
    ("response", "reward"),
    [
        ("\\boxed{3}. Or possibly \\boxed{2}.", 0.0),
        ("\\boxed{3 \\text{ or } 2}", 0.0),
        ("The answer is 3 or 2.", 0.0),
        ("\\boxed{2} \\boxed{\\frac{4}{2}}", 1.0),
    ],
)
def test_the_math_pipeline_scores_several_different_final_answers_zero(default_service, response, reward):
    (result,) = score_ok(default_service, "math", [{"response": response, "reference": "2"}], cache=False)[
        "results"
    ]
    assert result["reward"] == reward
