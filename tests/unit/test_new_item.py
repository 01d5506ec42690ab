"""``new_item``: the frozen ScoringItem the constructor makes, built through its slots."""

from __future__ import annotations

import dataclasses

import pytest

from rewardgate.items import ScoringItem, new_item

CASES = [
    ("", "r", None, {}, ()),
    ("p", "r", "ref", {"task": "t", "n": [1, 2.5]}, ("data:image/png;base64,AA==",)),
    ([{"role": "user", "content": "hi"}], "", "", {}, ("a", "b")),
]


@pytest.mark.parametrize(("prompt", "response", "reference", "metadata", "images"), CASES)
def test_new_item_is_the_constructors_item(prompt, response, reference, metadata, images):
    made = new_item(prompt, response, reference, metadata, images)
    expected = ScoringItem(prompt, response, reference, metadata, response_images=images)
    assert type(made) is ScoringItem
    assert made == expected
    for field in dataclasses.fields(ScoringItem):  # the very objects, steps None included
        assert getattr(made, field.name) is getattr(expected, field.name)
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.response = "changed"
    assert dataclasses.replace(made, response="x").response == "x"


def test_new_item_has_no_images_by_default():
    assert new_item("p", "r", None, {}).response_images == ()
