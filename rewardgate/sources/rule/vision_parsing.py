"""What a vision-language model's answer states: boxes, points, numbers, GUI actions.

Parsing rules (docs/rules.md#vision), in one place so every vision rule reads
an answer the same way. All patterns are RE2 (linear time whatever the
response) and every reader stops after ``limit`` matches, so a response of a
million boxes costs no more than ``limit`` of them.

* **Box**: four numbers in brackets or parentheses, ``[x1, y1, x2, y2]`` /
  ``(x1, y1, x2, y2)`` (which covers JSON such as ``{"bbox_2d": [..]}`` and
  lists of boxes), or two points ``(x1,y1),(x2,y2)`` (Qwen2-VL's
  ``<|box_start|>(x1,y1),(x2,y2)<|box_end|>``). The four numbers are read in the
  rule's ``box_format`` (``xyxy`` or ``xywh``).
* **Point**: two numbers in brackets or parentheses, ``(x, y)`` / ``[x, y]``,
  not part of a box (so a box is never read as two points).
* **Number**: an optionally signed decimal with optional thousands commas,
  exponent or trailing ``%`` (``1,234.5``, ``-3``, ``12%``, ``2e3``); ``count``
  also reads the number words zero to twenty.
* **Action**: a JSON object with an ``action`` key, or a call ``name(args)``
  such as ``click(120, 340)``, ``tap(x=1, y=2)``, ``type("hello")``,
  ``scroll(direction="down")``, ``press_back()``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import re2

_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SEP = r"\s{0,8},\s{0,8}"
_BOX4 = re2.compile(rf"[\[(]\s{{0,8}}({_NUM}){_SEP}({_NUM}){_SEP}({_NUM}){_SEP}({_NUM})\s{{0,8}}[\])]")
_BOX_POINTS = re2.compile(
    rf"\(\s{{0,8}}({_NUM}){_SEP}({_NUM})\s{{0,8}}\)\s{{0,8}},?\s{{0,8}}(?:<\|box_end\|>\s{{0,8}}<\|box_start\|>\s{{0,8}})?"
    rf"\(\s{{0,8}}({_NUM}){_SEP}({_NUM})\s{{0,8}}\)"
)
_POINT = re2.compile(rf"[\[(]\s{{0,8}}({_NUM}){_SEP}({_NUM})\s{{0,8}}[\])]")
_NUMBER = re2.compile(
    r"(?:^|[^\w.])([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)(%?)"
)
_WORD = re2.compile(r"[A-Za-z]+")
_CALL = re2.compile(r"([A-Za-z_][A-Za-z_0-9]{0,40})\s{0,4}\(([^()]{0,1000})\)")

_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty"
)
NUMBER_WORDS = {word: value for value, word in enumerate(_WORDS.split(" "))}
_PLAIN_NUMBER = re2.compile(_NUM)


class TooMany(ValueError):
    """The answer states more items than the rule reads (a policy spraying guesses)."""


def _finite(values: tuple[str, ...]) -> tuple[float, ...] | None:
    numbers = tuple(float(value) for value in values)
    return numbers if all(math.isfinite(n) for n in numbers) else None


def find_boxes(text: str, limit: int) -> list[tuple[float, float, float, float]]:
    """Every box stated in ``text`` (four numbers as written), in order.

    Raises:
        TooMany: more than ``limit`` boxes.
    """
    found: list[tuple[int, tuple[float, float, float, float]]] = []
    for pattern in (_BOX4, _BOX_POINTS):
        for match in pattern.finditer(text):
            numbers = _finite(match.groups())
            if numbers is not None:
                found.append((match.start(), numbers))
            if len(found) > limit:
                raise TooMany(f"more than {limit} boxes")
    return [box for _, box in sorted(found)]


def find_points(text: str, limit: int) -> list[tuple[float, float]]:
    """Every point ``(x, y)`` / ``[x, y]`` in ``text`` that is not part of a box.

    Raises:
        TooMany: more than ``limit`` points, or any box (a box is not a point).
    """
    if _BOX4.search(text) or _BOX_POINTS.search(text):
        raise TooMany("a box where a point was asked for")
    points = []
    for match in _POINT.finditer(text):
        numbers = _finite(match.groups())
        if numbers is not None:
            points.append(numbers)
        if len(points) > limit:
            raise TooMany(f"more than {limit} points")
    return points


def find_numbers(text: str, limit: int = 64, words: bool = False) -> list[float]:
    """Every number in ``text`` (a trailing ``%`` kept as the number: "12%" is 12).

    Raises:
        TooMany: more than ``limit`` numbers.
    """
    numbers = []
    for match in _NUMBER.finditer(text):
        value = float(match.group(1).replace(",", ""))
        if math.isfinite(value):
            numbers.append(value)
        if len(numbers) > limit:
            raise TooMany(f"more than {limit} numbers")
    if words:
        for match in _WORD.finditer(text[:10_000]):
            value = NUMBER_WORDS.get(match.group(0).lower())
            if value is not None:
                numbers.append(float(value))
            if len(numbers) > limit:
                raise TooMany(f"more than {limit} numbers")
    return numbers


@dataclass(frozen=True, slots=True)
class Action:
    """A GUI action: its canonical name and what it carries."""

    name: str
    point: tuple[float, float] | None = None
    text: str | None = None
    direction: str | None = None


#: Spellings of the same action across GUI-agent datasets (AndroidControl, AITW, ScreenSpot, OS-Atlas).
ACTION_NAMES = {
    "click": "click",
    "tap": "click",
    "left_click": "click",
    "touch": "click",
    "long_press": "long_press",
    "longpress": "long_press",
    "long_click": "long_press",
    "type": "type",
    "input": "type",
    "input_text": "type",
    "type_text": "type",
    "text": "type",
    "scroll": "scroll",
    "swipe": "scroll",
    "press_back": "press_back",
    "back": "press_back",
    "navigate_back": "press_back",
    "press_home": "press_home",
    "home": "press_home",
    "navigate_home": "press_home",
    "press_enter": "press_enter",
    "enter": "press_enter",
    "open_app": "open_app",
    "wait": "wait",
    "complete": "complete",
    "status": "complete",
    "terminate": "complete",
}
DIRECTIONS = ("up", "down", "left", "right")


def action_from_json(data: object) -> Action | None:
    """An action from a JSON object (``{"action": ..., "point"|"coordinate": [x, y], "text": ...}``)."""
    if not isinstance(data, dict):
        return None
    name = ACTION_NAMES.get(str(data.get("action", data.get("action_type", ""))).strip().lower())
    if name is None:
        return None
    point = None
    for key in ("point", "coordinate", "position", "click_point", "point_2d"):
        value = data.get(key)
        if isinstance(value, list | tuple) and len(value) == 2 and all(_is_number(v) for v in value):
            point = (float(value[0]), float(value[1]))
            break
    if point is None and _is_number(data.get("x")) and _is_number(data.get("y")):
        point = (float(data["x"]), float(data["y"]))
    text = data.get("text", data.get("app_name", data.get("app")))
    direction = data.get("direction")
    return Action(
        name,
        point,
        text if isinstance(text, str) else None,
        direction.strip().lower() if isinstance(direction, str) else None,
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def find_actions(text: str, limit: int) -> list[Action]:
    """Every action stated in ``text``: JSON objects with an ``action`` key, else calls.

    Raises:
        TooMany: more than ``limit`` actions.
    """
    actions = []
    for data in _json_objects(text, limit):
        action = action_from_json(data)
        if action is not None:
            actions.append(action)
    if not actions:
        for match in _CALL.finditer(text):
            action = _call_action(match.group(1), match.group(2))
            if action is not None:
                actions.append(action)
            if len(actions) > limit:
                break
    if len(actions) > limit:
        raise TooMany(f"more than {limit} actions")
    return actions


def _json_objects(text: str, limit: int):
    """Top-level JSON values in ``text`` (objects, and the objects of a list).

    Each failed decode costs up to the rest of the text, so the attempts are
    bounded: at most ``4 * limit + 16`` openings are tried."""
    decoder = json.JSONDecoder()
    index, seen, attempts = 0, 0, 0
    while seen <= limit and attempts < 4 * limit + 16:
        attempts += 1
        start = min((i for i in (text.find("{", index), text.find("[", index)) if i >= 0), default=-1)
        if start < 0:
            return
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        index = end
        for data in value if isinstance(value, list) else [value]:
            seen += 1
            yield data


def _call_action(name: str, arguments: str) -> Action | None:
    canonical = ACTION_NAMES.get(name.lower())
    if canonical is None:
        return None
    keyword = dict(re2.findall(r"(\w+)\s{0,4}=\s{0,4}(\"[^\"]*\"|'[^']*'|[^,]+)", arguments))
    positional = [part.strip() for part in arguments.split(",") if part.strip() and "=" not in part]
    point = None
    if "x" in keyword and "y" in keyword:
        numbers = (
            _finite((keyword["x"].strip(), keyword["y"].strip())) if _numeric(keyword, "x", "y") else None
        )
        point = numbers
    elif len(positional) == 2 and all(_NUMBER.fullmatch(p) for p in positional):
        point = _finite(tuple(positional))
    text_value = keyword.get("text", keyword.get("content", positional[0] if len(positional) == 1 else None))
    text = _unquote(text_value) if text_value is not None else None
    direction = keyword.get("direction", positional[0] if len(positional) == 1 else None)
    direction = _unquote(direction).lower() if direction is not None else None
    return Action(canonical, point, text, direction if direction in DIRECTIONS else None)


def _numeric(mapping: dict[str, str], *keys: str) -> bool:
    return all(_PLAIN_NUMBER.fullmatch(mapping[key].strip()) for key in keys)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value
