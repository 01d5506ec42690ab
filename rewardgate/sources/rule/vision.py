"""Vision rules (verifiable, no model): grounding boxes, points, counts, document and chart
answers, GUI actions. Parsing rules: rewardgate/sources/rule/vision_parsing.py; geometry:
vision_geometry.py; documented in docs/rules.md#vision.

Every rule here reads the answer strictly: an answer that states more than
one candidate (several counts, several points, more boxes than the reference
has, several actions) does not get the best of them. The image's size, where a
rule needs it (normalised coordinates, boxes outside the image), comes from
the item's metadata ``image_width`` / ``image_height`` when both are given,
else from the header of the prompt's first image.
"""

from __future__ import annotations

import json
import math
from typing import Literal

from pydantic import Field

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.media.decode import image_size
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.vision_geometry import (
    Box,
    BoxFormat,
    Coords,
    contains,
    iou_matrix,
    is_valid,
    matched_pairs,
    point_to_pixels,
    to_pixels,
)
from rewardgate.sources.rule.vision_parsing import (
    DIRECTIONS,
    TooMany,
    action_from_json,
    find_actions,
    find_boxes,
    find_numbers,
    find_points,
)

_READS = ("prompt", "response", "reference", "metadata")


def item_image_size(item: ScoringItem) -> tuple[int, int] | None:
    """(width, height) of the item's image: metadata first, else the prompt's first image."""
    width, height = item.metadata.get("image_width"), item.metadata.get("image_height")
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        return (width, height)
    images = item.images()
    return image_size(images[0]) if images else None


def _reference_json(item: ScoringItem):
    reference = Rule.require_reference(item)
    try:
        return json.loads(reference)
    except ValueError:
        raise InvalidReference("the reference must be JSON") from None


def reference_boxes(item: ScoringItem, box_format: BoxFormat, coords: Coords, size) -> list[Box]:
    """The reference's boxes: ``[x1, y1, x2, y2]``, a list of them, or ``[]`` (nothing to find)."""
    data = _reference_json(item)
    if isinstance(data, dict):
        data = data.get("boxes", data.get("bbox", data.get("box")))
    if isinstance(data, list) and len(data) == 4 and all(_number(v) for v in data):
        data = [data]
    if not isinstance(data, list) or not all(
        isinstance(b, list) and len(b) == 4 and all(_number(v) for v in b) for b in data
    ):
        raise InvalidReference("the reference must be a box [x1, y1, x2, y2] or a list of boxes")
    try:
        boxes = [to_pixels(b, box_format, coords, size) for b in data]
    except ValueError as exc:
        raise InvalidReference(f"reference boxes: {exc}") from None
    if not all(is_valid(b, None) for b in boxes):
        raise InvalidReference("a reference box has no area or negative coordinates")
    return boxes


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


class CoordinateParams(RuleParams):
    box_format: BoxFormat = Field(
        "xyxy", description="How the response writes a box: corners or corner+size."
    )
    coords: Coords = Field(
        "pixel", description="The response's coordinate space: pixel, normalized, grid1000."
    )
    reference_format: BoxFormat = Field("xyxy", description="How the reference writes its boxes.")
    reference_coords: Coords = Field("pixel", description="The reference's coordinate space.")


class BoxIouParams(CoordinateParams):
    thresholds: list[float] | None = Field(
        None,
        description="IoU thresholds: a matched box earns the share of them it reaches (e.g. [0.5, 0.75]); "
        "unset, it earns its IoU.",
    )
    matching: Literal["hungarian", "greedy"] = Field("hungarian", description="How boxes are paired.")
    max_boxes: int = Field(32, gt=0, description="More boxes than this in the response score 0.")
    outside_tolerance: float = Field(
        0.02, ge=0, description="Share of the image's side a box may reach outside it before it is invalid."
    )


class BoxIou(Rule):
    """Grounding / detection: predicted boxes matched one-to-one to the reference boxes.

    Score = (sum of the matched pairs' values) / max(#predicted, #reference),
    a pair's value being its IoU, or the share of ``thresholds`` its IoU
    reaches. Extra boxes dilute the score (listing many boxes does not pay), a
    box is matched at most once (repeating a good box earns nothing), a box
    covering the whole image has the small IoU it deserves, and a degenerate
    box or one outside the image is invalid (value 0). A reference of ``[]``
    (nothing to find) scores 1 for no box and 0 for any.
    """

    type_name = "box_iou"
    Params = BoxIouParams
    reads = _READS

    def grade(self, item: ScoringItem) -> float:
        p = self.params
        size = item_image_size(item)
        reference = reference_boxes(item, p.reference_format, p.reference_coords, size)
        try:
            written = find_boxes(item.response, p.max_boxes)
            predicted = [to_pixels(b, p.box_format, p.coords, size) for b in written]
        except TooMany:
            return 0.0
        except ValueError as exc:
            raise InvalidReference(
                f"{exc}: add image_width/image_height to metadata or send the image"
            ) from None
        if not reference or not predicted:
            return 1.0 if not reference and not predicted else 0.0
        values = iou_matrix(predicted, reference)
        valid = [is_valid(box, size, p.outside_tolerance) for box in predicted]
        values[[not v for v in valid], :] = 0.0
        if p.thresholds:
            values = sum((values >= t).astype(float) for t in p.thresholds) / len(p.thresholds)
        pairs = matched_pairs(values, p.matching)
        return float(sum(values[r, c] for r, c in pairs)) / max(len(predicted), len(reference))


class PointInBoxParams(CoordinateParams):
    max_points: int = Field(1, gt=0, description="More points than this in the response score 0.")


class PointInBox(Rule):
    """Point grounding: 1.0 when the response states exactly one point (``(x, y)``; the
    same point repeated counts once) and it lies inside a reference box (the reference
    may list several acceptable boxes).

    Several different points, a box instead of a point, or a point outside the image score 0.
    """

    type_name = "point_in_box"
    Params = PointInBoxParams
    reads = _READS

    def grade(self, item: ScoringItem) -> float:
        p = self.params
        size = item_image_size(item)
        reference = reference_boxes(item, p.reference_format, p.reference_coords, size)
        try:
            # The same point written twice is one answer; two different points are a hedge.
            points = list(dict.fromkeys(find_points(item.response, 4 * p.max_points)))
        except TooMany:
            return 0.0
        if len(points) != 1 or len(points) > p.max_points:
            return 0.0
        try:
            point = point_to_pixels(points[0], p.coords, size)
        except ValueError as exc:
            raise InvalidReference(
                f"{exc}: add image_width/image_height to metadata or send the image"
            ) from None
        if size is not None and not (0 <= point[0] <= size[0] and 0 <= point[1] <= size[1]):
            return 0.0
        return 1.0 if any(contains(box, point) for box in reference) else 0.0


class CountParams(RuleParams):
    partial: bool = Field(
        False, description="Partial credit max(0, 1 - |answer - reference| / reference) instead of exact."
    )


class Count(Rule):
    """Counting: the answer must state one count (digits or a number word up to twenty;
    the same number repeated is fine); it scores 1.0 when it equals the reference.

    Several different numbers ("3 or 4", "1, 2, 3, 4, 5") score 0, as does a
    non-integer or negative count.
    """

    type_name = "count"
    Params = CountParams

    def grade(self, item: ScoringItem) -> float:
        reference = self.require_reference(item).strip()
        try:
            expected = int(reference)
        except ValueError:
            raise InvalidReference("the reference must be a whole number") from None
        try:
            numbers = set(find_numbers(item.response, words=True))
        except TooMany:
            return 0.0
        if len(numbers) != 1:
            return 0.0
        (answer,) = numbers
        if answer < 0 or answer != int(answer):
            return 0.0
        if answer == expected:
            return 1.0
        if self.params.partial and expected > 0:
            return max(0.0, 1.0 - abs(answer - expected) / expected)
        return 0.0


class NumericToleranceParams(RuleParams):
    rtol: float = Field(0.05, ge=0, description="Relative tolerance (ChartQA's relaxed accuracy: 5%).")
    atol: float = Field(0.0, ge=0, description="Absolute tolerance (for references near zero).")


class NumericTolerance(Rule):
    """Chart / numeric answers: 1.0 when the answer states one number within
    ``rtol`` of the reference (or ``atol`` of it).

    Thousands separators and a trailing ``%`` are read ("1,234", "12%").
    Several different numbers score 0, so listing candidates does not pay.
    """

    type_name = "numeric_tolerance"
    Params = NumericToleranceParams

    def grade(self, item: ScoringItem) -> float:
        try:
            (expected,) = set(find_numbers(self.require_reference(item)))
        except (ValueError, TooMany):
            raise InvalidReference("the reference must state exactly one number") from None
        try:
            numbers = set(find_numbers(item.response))
        except TooMany:
            return 0.0
        if len(numbers) != 1:
            return 0.0
        (answer,) = numbers
        tolerance = max(self.params.atol, self.params.rtol * abs(expected))
        return 1.0 if abs(answer - expected) <= tolerance else 0.0


class GuiActionParams(RuleParams):
    coords: Coords = Field(
        "pixel", description="The response's coordinate space: pixel, normalized, grid1000."
    )
    reference_coords: Coords = Field("pixel", description="The reference box's coordinate space.")
    case_sensitive: bool = Field(False, description="Compare typed text with case.")


class GuiAction(Rule):
    """GUI / mobile agents: the response's one action matches the reference action.

    The reference is JSON ``{"action": ..., "box": [x1, y1, x2, y2]}`` for
    click / long_press (the target element's box), ``"text"`` for type and
    open_app, ``"direction"`` for scroll; others (press_back, press_home,
    press_enter, wait, complete) match by name. A tap scores 1.0 inside the
    target's box, a typed text when equal (whitespace collapsed), a scroll in
    the same direction. More than one action in the response scores 0.
    """

    type_name = "gui_action"
    Params = GuiActionParams
    reads = _READS

    def grade(self, item: ScoringItem) -> float:
        expected = action_from_json(_reference_json(item))
        if expected is None:
            raise InvalidReference("the reference must be a JSON action {'action': ...}")
        try:
            actions = find_actions(item.response, 1)
        except TooMany:
            return 0.0
        if len(actions) != 1 or actions[0].name != expected.name:
            return 0.0
        (action,) = actions
        if expected.name in ("click", "long_press"):
            return self._tap(item, action.point)
        if expected.name in ("type", "open_app"):
            if expected.text is None:
                raise InvalidReference(f"a {expected.name} reference needs 'text'")
            return 1.0 if action.text is not None and self._same_text(action.text, expected.text) else 0.0
        if expected.name == "scroll":
            if expected.direction not in DIRECTIONS:
                raise InvalidReference(f"a scroll reference needs 'direction' in {DIRECTIONS}")
            return 1.0 if action.direction == expected.direction else 0.0
        return 1.0

    def _tap(self, item: ScoringItem, point) -> float:
        p = self.params
        size = item_image_size(item)
        data = _reference_json(item)
        box = data.get("box", data.get("bbox")) if isinstance(data, dict) else None
        if not (isinstance(box, list) and len(box) == 4 and all(_number(v) for v in box)):
            raise InvalidReference("a click reference needs 'box': [x1, y1, x2, y2]")
        if point is None:
            return 0.0
        try:
            target = to_pixels(box, "xyxy", p.reference_coords, size)
            at = point_to_pixels(point, p.coords, size)
        except ValueError as exc:
            raise InvalidReference(
                f"{exc}: add image_width/image_height to metadata or send the image"
            ) from None
        return 1.0 if contains(target, at) else 0.0

    def _same_text(self, said: str, expected: str) -> bool:
        said, expected = " ".join(said.split()), " ".join(expected.split())
        if not self.params.case_sensitive:
            said, expected = said.lower(), expected.lower()
        return said == expected
