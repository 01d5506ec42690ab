"""Vision rules: right answers pass in every box convention, the hacks a policy would try fail."""

import json

import pytest

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule
from tests.support.images import data_url, png

SIZE = {"image_width": 200, "image_height": 100}
TARGET = [40, 20, 80, 60]  # pixels, xyxy, in a 200x100 image


def score(rule_type, response, reference, metadata=SIZE, prompt="Where?", **params):
    rule = build_rule(rule_type, params)
    ref = reference if isinstance(reference, str) else json.dumps(reference)
    return rule.grade(ScoringItem(prompt, response, ref, dict(metadata)))


# ---------------------------------------------------------------- box_iou


@pytest.mark.parametrize(
    ("response", "params"),
    [
        ("[40, 20, 80, 60]", {}),
        ('{"bbox_2d": [40, 20, 80, 60], "label": "cat"}', {}),
        ("The cat is at (40,20,80,60).", {}),
        ("[40, 20, 40, 40]", {"box_format": "xywh"}),
        ("[0.2, 0.2, 0.4, 0.6]", {"coords": "normalized"}),
        ("<|box_start|>(200,200),(400,600)<|box_end|>", {"coords": "grid1000"}),
    ],
    ids=["xyxy", "json", "parens", "xywh", "normalized", "qwen2-vl"],
)
def test_the_right_box_scores_one_in_every_convention(response, params):
    assert score("box_iou", response, TARGET, **params) == pytest.approx(1.0)


def test_iou_is_continuous_and_thresholds_make_it_stepwise():
    half = "[40, 20, 60, 60]"  # IoU 0.5
    assert score("box_iou", half, TARGET) == pytest.approx(0.5)
    assert score("box_iou", half, TARGET, thresholds=[0.5, 0.75]) == pytest.approx(0.5)
    assert score("box_iou", half, TARGET, thresholds=[0.75]) == 0.0


@pytest.mark.parametrize("matching", ["hungarian", "greedy"])
def test_several_boxes_are_matched_one_to_one(matching):
    reference = [TARGET, [120, 10, 180, 90]]
    assert score("box_iou", "[120, 10, 180, 90] [40, 20, 80, 60]", reference, matching=matching) == 1.0
    # one right box repeated: matched once, the copy is an extra box
    assert score("box_iou", "[40, 20, 80, 60] [40, 20, 80, 60]", reference, matching=matching) == 0.5


def test_hungarian_finds_the_best_total_where_greedy_does_not():
    reference = [[0, 0, 10, 10], [0, 0, 12, 10]]
    response = "[0, 0, 11, 10] [0, 0, 10, 10]"
    hungarian = score("box_iou", response, reference, matching="hungarian")
    greedy = score("box_iou", response, reference, matching="greedy")
    assert hungarian >= greedy and hungarian > 0.9


@pytest.mark.parametrize(
    "response",
    [
        # many boxes: a grid of guesses around the target
        " ".join(f"[{x}, {y}, {x + 40}, {y + 40}]" for x in range(0, 160, 20) for y in range(0, 60, 20)),
        "[0, 0, 200, 100]",  # the whole image
        "[-1000, -1000, 1000, 1000]",  # far beyond the image
        "[40, 20, 80, 160]",  # half outside the image
        "[80, 60, 40, 20]",  # corners swapped: no area
        "[40, 20, 40, 60]",  # zero width
        " ".join(["[40, 20, 80, 60]"] * 40),  # the right box, 40 times (over max_boxes)
        "[40, 20, 80, 60] " + " ".join(["[0, 0, 10, 10]"] * 9),  # the right box among 9 wrong ones
        "[nan, 20, 80, 60] [inf, 0, 1e999, 5]",
        "no box at all",
    ],
    ids=["grid", "whole-image", "huge", "outside", "swapped", "zero-width", "spam", "diluted", "nan", "none"],
)
def test_box_hacks_fail(response):
    assert score("box_iou", response, TARGET, thresholds=[0.5]) <= 0.1


def test_an_empty_reference_wants_no_box():
    assert score("box_iou", "There is no cat.", []) == 1.0
    assert score("box_iou", "[40, 20, 80, 60]", []) == 0.0


def test_normalised_coordinates_read_the_size_from_the_image_itself():
    prompt = [{"role": "user", "content": [{"type": "image", "image": data_url(png(200, 100))}]}]
    assert (
        score("box_iou", "[0.2, 0.2, 0.4, 0.6]", TARGET, metadata={}, prompt=prompt, coords="normalized")
        == 1.0
    )
    with pytest.raises(InvalidReference, match="image's size"):
        score("box_iou", "[0.2, 0.2, 0.4, 0.6]", TARGET, metadata={}, coords="normalized")


@pytest.mark.parametrize("reference", ["not json", '{"a": 1}', "[1, 2, 3]", "[[5, 5, 1, 1]]", '"[1,2,3,4]"'])
def test_bad_references_are_the_callers_fault(reference):
    with pytest.raises(InvalidReference):
        score("box_iou", "[40, 20, 80, 60]", reference)


# ---------------------------------------------------------------- point_in_box


def test_a_point_inside_the_target_scores_one():
    assert score("point_in_box", "Click at (60, 40).", TARGET) == 1.0
    assert score("point_in_box", '{"point_2d": [300, 400]}', TARGET, coords="grid1000") == 1.0
    assert score("point_in_box", "(10, 10)", TARGET) == 0.0
    assert (
        score("point_in_box", "I click (60, 40). Final answer: [60, 40]", TARGET) == 1.0
    )  # one point, twice


@pytest.mark.parametrize(
    "response",
    [
        "(60, 40) or (10, 10)",  # two points
        " ".join(f"({x}, {y})" for x in range(0, 200, 10) for y in range(0, 100, 10)),  # a grid of points
        "[0, 0, 200, 100]",  # a box instead of a point
        "[40, 20, 80, 60]",  # the target box itself, not a point
        "(60, 400)",  # outside the image
    ],
    ids=["two", "grid", "whole-image-box", "target-box", "outside"],
)
def test_point_hacks_fail(response):
    assert score("point_in_box", response, TARGET) == 0.0


# ---------------------------------------------------------------- count


@pytest.mark.parametrize("response", ["4", "There are 4 apples.", "four", "Four apples; 4 in total."])
def test_the_right_count(response):
    assert score("count", response, "4") == 1.0


@pytest.mark.parametrize(
    "response",
    ["3 or 4", "1, 2, 3, 4, 5, 6", "four or five", "4.5", "-4", "between 0 and 10", "many", ""],
)
def test_count_hacks_fail(response):
    assert score("count", response, "4") == 0.0


def test_partial_count_credit_is_opt_in():
    assert score("count", "5", "4", partial=True) == pytest.approx(0.75)
    assert score("count", "5", "4") == 0.0


# ---------------------------------------------------------------- numeric_tolerance


@pytest.mark.parametrize("response", ["42.5", "about 41", "43%", "1,234"])
def test_numeric_within_tolerance(response):
    reference = "1234" if "," in response else "42"
    assert score("numeric_tolerance", response, reference) == 1.0


@pytest.mark.parametrize("response", ["50", "40 or 42", "38, 40, 42, 44, 46", "none", "42 and 84"])
def test_numeric_hacks_fail(response):
    assert score("numeric_tolerance", response, "42") == 0.0


def test_a_reference_of_zero_needs_an_absolute_tolerance():
    assert score("numeric_tolerance", "0.001", "0") == 0.0
    assert score("numeric_tolerance", "0.001", "0", atol=0.01) == 1.0


# ---------------------------------------------------------------- gui_action

CLICK = {"action": "click", "box": TARGET}


@pytest.mark.parametrize(
    ("response", "reference", "params"),
    [
        ("click(60, 40)", CLICK, {}),
        ("tap(x=60, y=40)", CLICK, {}),
        ('{"action": "tap", "coordinate": [60, 40]}', CLICK, {}),
        ('{"action_type": "click", "x": 0.3, "y": 0.4}', CLICK, {"coords": "normalized"}),
        ('type(text="hello world")', {"action": "type", "text": "Hello  world"}, {}),
        ("scroll(direction='down')", {"action": "scroll", "direction": "down"}, {}),
        ("press_back()", {"action": "press_back"}, {}),
    ],
    ids=["click", "tap-kw", "json", "normalized", "type", "scroll", "back"],
)
def test_the_right_action_scores_one(response, reference, params):
    assert score("gui_action", response, reference, **params) == 1.0


@pytest.mark.parametrize(
    ("response", "reference"),
    [
        ("click(10, 10)", CLICK),  # outside the target
        ("click(60, 40)\nclick(10, 10)", CLICK),  # two actions
        ('[{"action": "click", "point": [60, 40]}, {"action": "click", "point": [10, 10]}]', CLICK),
        ("long_press(60, 40)", CLICK),  # another action at the right place
        ("click()", CLICK),  # no point
        ('type("hello")', {"action": "type", "text": "hello world"}),
        ("scroll(up)", {"action": "scroll", "direction": "down"}),
        ("press_home()", {"action": "press_back"}),
        ("I would click the button.", CLICK),
    ],
    ids=["outside", "two", "two-json", "long-press", "no-point", "text", "direction", "other", "prose"],
)
def test_gui_hacks_fail(response, reference):
    assert score("gui_action", response, reference) == 0.0


def test_parsing_a_huge_response_is_bounded():
    response = "[1, 2, 3, 4] " * 100_000 + "{" * 50_000
    assert score("box_iou", response, TARGET) == 0.0
    assert score("gui_action", response, CLICK) == 0.0
    assert score("count", "1 " * 100_000, "1") == 0.0  # over 64 numbers: read no further, score 0
