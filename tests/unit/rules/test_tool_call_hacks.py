"""One tool-call turn is graded as a set: extra calls cost (docs/rules.md#tool-calls).

Generalisation under test: a policy unsure which call is right cannot gain by
making every candidate call. The turn is paired one to one with the
reference and both credits are shares of the larger of the two sets, so the
union of several complete candidate turns scores no more than the mean of
the turns alone (the expected score of guessing one at random).
"""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

RULE = build_rule("tool_call", {})


def call(name: str, **arguments) -> dict:
    return {"name": name, "arguments": arguments}


def tagged(*calls: dict) -> str:
    return "".join(f"<tool_call>{json.dumps(c)}</tool_call>" for c in calls)


def score(response: str, reference: list[dict]) -> float:
    return RULE.grade(ScoringItem("", response, json.dumps(reference), {}))


GOLD = [call("book", city="Paris", nights=2)]
RIGHT = call("book", city="Paris", nights=2)
ONE_WRONG_ARG = call("book", city="Paris", nights=3)


@pytest.mark.parametrize("guesses", [2, 3, 5, 10])
def test_one_call_per_candidate_scores_below_one_wrong_call(guesses):
    shotgun = tagged(RIGHT, *[call("book", city="Paris", nights=n) for n in range(3, 2 + guesses)])
    single_wrong = score(tagged(ONE_WRONG_ARG), GOLD)
    assert score(shotgun, GOLD) < single_wrong
    expected_single_guess = (1.0 + (guesses - 1) * single_wrong) / guesses
    assert score(shotgun, GOLD) < expected_single_guess


@pytest.mark.parametrize(
    "response",
    [
        tagged(RIGHT, RIGHT),  # the right call twice
        tagged(RIGHT, call("search", q="paris hotels")),  # plus a call to another tool
        tagged(RIGHT, call("book")),  # plus an empty call
        json.dumps([RIGHT, ONE_WRONG_ARG]),  # a JSON list instead of tags
        f"<tool_call>{json.dumps([RIGHT, ONE_WRONG_ARG])}</tool_call>",  # a list inside one block
        tagged(*[RIGHT] * 20),
    ],
    ids=["twice", "another tool", "empty extra", "bare list", "list in a block", "twenty copies"],
)
def test_extra_calls_cost(response):
    assert score(response, GOLD) < score(tagged(ONE_WRONG_ARG), GOLD) < score(tagged(RIGHT), GOLD) == 1.0


def test_every_tool_name_as_a_guess_costs_like_wrong_guesses():
    names = ["book", "reserve", "hotel", "stay"]
    shotgun = tagged(*[call(n, city="Paris", nights=2) for n in names])
    singles = [score(tagged(call(n, city="Paris", nights=2)), GOLD) for n in names]
    assert score(shotgun, GOLD) <= sum(singles) / len(singles) + 1e-12


def test_a_turn_is_a_set_order_does_not_matter_and_missing_calls_cost():
    gold = [call("a", x=1), call("b", y=2)]
    assert score(tagged(call("b", y=2), call("a", x=1)), gold) == 1.0
    assert score(tagged(call("a", x=1)), gold) == pytest.approx(0.2 + 0.3 / 2 + 0.5 / 2)


def test_pairing_is_the_best_one_to_one_not_greedy():
    gold = [call("f", a=1, b=2), call("f", a=1, b=3)]
    # Greedy pairing of gold[0] with its best match would leave gold[1] a worse one.
    response = tagged(call("f", a=1, b=3), call("f", a=9, b=2))
    assert score(response, gold) == pytest.approx(0.2 + 0.3 + 0.5 * (1.0 + 0.5) / 2)


def test_a_flood_of_calls_is_scored_in_time_linear_in_calls():
    flood = tagged(*[call("book", city="Paris", nights=n) for n in range(3000)])
    assert 0.0 < score(flood, GOLD) < 0.21


CALLS = st.builds(
    call,
    st.sampled_from(["f", "g"]),
    x=st.sampled_from([1, 2]),
    y=st.sampled_from(["a", "b"]),
)


@settings(max_examples=200, deadline=None)
@given(reference=st.lists(CALLS, min_size=1, max_size=3), data=st.data())
def test_the_union_of_complete_candidate_turns_never_beats_their_mean(reference, data):
    # Complete: each candidate has as many calls as the reference (joining partial turns
    # into a complete one is doing the task, not a hack).
    turn = st.lists(CALLS, min_size=len(reference), max_size=len(reference))
    turns = data.draw(st.lists(turn, min_size=2, max_size=4))
    union = score(tagged(*[c for turn in turns for c in turn]), reference)
    mean = sum(score(tagged(*turn), reference) for turn in turns) / len(turns)
    assert union <= mean + 1e-12
