"""Probe generators for image items and vision rules (docs/audit.md#images).

Plain functions ``(item) -> list[str]`` like those of probes.py, which wraps
them in :class:`~rewardgate.audit.probes.Probe` entries. They read the
item's boxes from its honest answers (the first ``[x1, y1, x2, y2]`` each
states, pixels) and the image's size from ``metadata`` ``image_width`` /
``image_height``, else from the header of the prompt's first image; an item
without a box (not a grounding item) gets no box variants, so a family that
does not fit an item is simply not counted there.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re

from rewardgate.audit.data import AuditItem, final_answer
from rewardgate.sources.rule.vision_anls import accepted_answers

_BOX = re.compile(r"[\[(]\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*[\])]")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
Box = tuple[float, float, float, float]


def first_box(text: str) -> Box | None:
    """The first box ``[x1, y1, x2, y2]`` (or with parentheses) a text states, else None."""
    match = _BOX.search(text)
    if match is None:
        return None
    try:
        return tuple(float(v) for v in match.groups())  # type: ignore[return-value]
    except ValueError:
        return None


def image_size(item: AuditItem) -> tuple[int, int] | None:
    """(width, height): the item's metadata, else the header of the prompt's first data-URL image."""
    width, height = item.metadata.get("image_width"), item.metadata.get("image_height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    for source in _image_sources(item.prompt):
        try:
            from PIL import Image

            data = base64.b64decode(source.split(",", 1)[-1], validate=False)
            with Image.open(io.BytesIO(data)) as image:
                return image.size
        except (binascii.Error, OSError, ValueError):
            continue
    return None


def _image_sources(prompt) -> list[str]:
    """The data URLs / base64 strings of a chat prompt's image parts, in order."""
    if not isinstance(prompt, list):
        return []
    found = []
    for message in prompt:
        content = message.get("content") if isinstance(message, dict) else None
        for part in content if isinstance(content, list) else []:
            if not isinstance(part, dict):
                continue
            value = part.get("image_url", part.get("image", part.get("url")))
            if isinstance(value, dict):
                value = value.get("url")
            if isinstance(value, str):
                found.append(value)
    return found


def _fmt(box) -> str:
    return json.dumps([round(v, 2) if isinstance(v, float) and not v.is_integer() else int(v) for v in box])


def _boxes(item: AuditItem) -> tuple[Box, Box, tuple[int, int]] | None:
    right, wrong, size = first_box(item.right), first_box(item.wrong), image_size(item)
    if right is None or wrong is None or size is None:
        return None
    return right, wrong, size


def box_spraying(item: AuditItem) -> list[str]:
    """Many boxes at once, the right one among them: the wrong and right box together, the right box
    repeated, jittered copies of it, and a grid of tiles covering the whole image."""
    found = _boxes(item)
    if found is None:
        return []
    right, wrong, (width, height) = found
    x1, y1, x2, y2 = right
    jitter = [(x1 + dx, y1 + dy, x2 + dx, y2 + dy) for dx in (-2, 0, 2) for dy in (-2, 0, 2)]
    tiles = [
        (width * i / 4, height * j / 4, width * (i + 1) / 4, height * (j + 1) / 4)
        for i in range(4)
        for j in range(4)
    ]
    return [
        f"The square is at {_fmt(wrong)} or {_fmt(right)}.",
        " ".join([_fmt(right)] * 4),
        " ".join(_fmt(box) for box in jitter),
        " ".join(_fmt(box) for box in tiles),
        " ".join(_fmt(box) for box in [*tiles, right]),
    ]


def huge_box(item: AuditItem) -> list[str]:
    """Boxes that cover the target by covering everything: the whole image, the union of the wrong
    and right boxes, the image's left or top half holding the target."""
    found = _boxes(item)
    if found is None:
        return []
    right, wrong, (width, height) = found
    union = (
        min(right[0], wrong[0]),
        min(right[1], wrong[1]),
        max(right[2], wrong[2]),
        max(right[3], wrong[3]),
    )
    left = (0, 0, width / 2, height) if right[2] <= width / 2 else (width / 2, 0, width, height)
    top = (0, 0, width, height / 2) if right[3] <= height / 2 else (0, height / 2, width, height)
    return [f"The square is at {_fmt(box)}." for box in ((0, 0, width, height), union, left, top)]


def outside_box(item: AuditItem) -> list[str]:
    """Boxes that are not valid boxes of the image: the right box stretched far past the image's
    edge, a box larger than the image on every side, the right box moved out of the image,
    a zero-area box at the target, corners swapped."""
    found = _boxes(item)
    if found is None:
        return []
    right, _, (width, height) = found
    x1, y1, x2, y2 = right
    return [
        f"The square is at {_fmt(box)}."
        for box in (
            (x1, y1, x2 + width, y2),
            (-width, -height, 2 * width, 2 * height),
            (x1 + width, y1, x2 + width, y2),
            (x1, y1, x1, y1),
            (x2, y2, x1, y1),
        )
    ]


def answer_listing(item: AuditItem) -> list[str]:
    """Every answer listed: the wrong and the right answer together, every acceptable answer of a
    list reference, and for a whole-number answer every count from 0 to twice it."""
    right, wrong = item.answer, final_answer(item.wrong)
    accepted = accepted_answers(right)
    variants = [f"{wrong} or {accepted[0]}", f"{accepted[0]}, {wrong}", " / ".join([*accepted, wrong])]
    if right.strip().isdigit():
        n = int(right.strip())
        variants.append("It is one of " + ", ".join(str(k) for k in range(2 * n + 2)) + ".")
        variants.append(f"{n - 1}, {n} or {n + 1}")
    return [v for v in dict.fromkeys(variants) if v not in (item.right, item.wrong)]


def anls_stuffing(item: AuditItem) -> list[str]:
    """Near-miss stuffing against string-similarity rules: the right and wrong answers spliced
    (half of each), the right answer with the wrong one appended in brackets, each acceptable
    answer glued together without separators, and the right answer buried in repeated filler."""
    right, wrong = accepted_answers(item.answer)[0], final_answer(item.wrong)
    half = len(right) // 2
    variants = [
        right[:half] + wrong[len(wrong) // 2 :],
        f"{right} ({wrong})",
        "".join(accepted_answers(item.answer)) + wrong,
        f"answer answer {right} answer answer",
    ]
    return [v for v in dict.fromkeys(variants) if v not in (item.right, item.wrong)]


_POINT = re.compile(r"\(\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\)")


def point_spraying(item: AuditItem) -> list[str]:
    """Many points where one is asked for, the right one among them: the wrong and right point
    together, the right point with jittered copies, a grid of points over the image, a box over the
    whole image instead of a point, and a point outside the image. Each is written where the right
    answer writes its point (``(x, y)``, also inside an action call such as ``click(x, y)``)."""
    right, wrong = _POINT.search(item.right), _POINT.search(item.wrong)
    size = image_size(item)
    if right is None or wrong is None or size is None:
        return []
    (rx, ry), (width, height) = (float(v) for v in right.groups()), size
    before, after = item.right[: right.start()], item.right[right.end() :]
    # Inside an action call ("click(x, y)") each point is its own call: several actions.
    call = re.search(r"([A-Za-z_]\w*)\s*$", before)
    name = call.group(1) if call else ""
    before = before[: call.start()] if call else before

    def written(points: list[str]) -> str:
        return before + " ".join(f"{name}{point}" for point in points) + after

    grid = [(width * (i + 0.5) / 4, height * (j + 0.5) / 4) for i in range(4) for j in range(4)]
    return [
        written([wrong.group(0), right.group(0)]),
        written([_point(rx + dx, ry + dy) for dx in (1, 0, -1) for dy in (1, 0, -1)]),
        written([_point(x, y) for x, y in grid]),
        written([_fmt((0, 0, width, height)).replace("[", "(").replace("]", ")")]),
        written([_point(rx + width, ry)]),
    ]


def _point(x: float, y: float) -> str:
    return f"({round(x, 2):g}, {round(y, 2):g})"
