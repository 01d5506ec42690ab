"""Boxes in pixels: conversion from what a model writes, validity, IoU, matching.

A box here is always ``(x1, y1, x2, y2)`` in pixels of the item's image.
Conversion from the response's convention is decided by two parameters:

* ``box_format``: ``xyxy`` (corners) or ``xywh`` (top-left corner, width, height);
* ``coords``: ``pixel``; ``normalized`` (0-1 of the image's width and height);
  ``grid1000`` (0-1000 of them, as Qwen2-VL and CogVLM write boxes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from scipy.optimize import linear_sum_assignment

Box = tuple[float, float, float, float]
BoxFormat = Literal["xyxy", "xywh"]
Coords = Literal["pixel", "normalized", "grid1000"]
SCALE = {"pixel": None, "normalized": 1.0, "grid1000": 1000.0}


def to_pixels(
    values: Sequence[float], box_format: BoxFormat, coords: Coords, size: tuple[int, int] | None
) -> Box:
    """A written box as pixel corners. ``size`` (width, height) is needed unless ``coords`` is pixel."""
    a, b, c, d = values
    if box_format == "xywh":
        c, d = a + c, b + d
    scale = SCALE[coords]
    if scale is not None:
        if size is None:
            raise ValueError(f"{coords} coordinates need the image's size")
        width, height = size
        a, c = a / scale * width, c / scale * width
        b, d = b / scale * height, d / scale * height
    return (a, b, c, d)


def point_to_pixels(
    point: Sequence[float], coords: Coords, size: tuple[int, int] | None
) -> tuple[float, float]:
    x, y = point
    scale = SCALE[coords]
    if scale is None:
        return (x, y)
    if size is None:
        raise ValueError(f"{coords} coordinates need the image's size")
    return (x / scale * size[0], y / scale * size[1])


def is_valid(box: Box, size: tuple[int, int] | None, tolerance: float = 0.02) -> bool:
    """A box with positive area that lies inside the image (``tolerance`` of its side allowed outside).

    Degenerate and out-of-image boxes are not clipped into valid ones: clipping
    would let a policy write a box over everything and have it cut down to the image.
    """
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        return False
    if size is None:
        return x1 >= 0 and y1 >= 0
    width, height = size
    slack_x, slack_y = tolerance * width, tolerance * height
    return x1 >= -slack_x and y1 >= -slack_y and x2 <= width + slack_x and y2 <= height + slack_y


def iou_matrix(predicted: Sequence[Box], reference: Sequence[Box]) -> np.ndarray:
    """IoU of every (predicted, reference) pair, shape (len(predicted), len(reference))."""
    p = np.asarray(predicted, dtype=float).reshape(-1, 4)
    r = np.asarray(reference, dtype=float).reshape(-1, 4)
    x1 = np.maximum(p[:, None, 0], r[None, :, 0])
    y1 = np.maximum(p[:, None, 1], r[None, :, 1])
    x2 = np.minimum(p[:, None, 2], r[None, :, 2])
    y2 = np.minimum(p[:, None, 3], r[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_p = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
    area_r = (r[:, 2] - r[:, 0]) * (r[:, 3] - r[:, 1])
    union = area_p[:, None] + area_r[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def matched_pairs(values: np.ndarray, method: Literal["hungarian", "greedy"]) -> list[tuple[int, int]]:
    """One-to-one (predicted, reference) pairs maximising ``values``.

    ``hungarian``: the assignment with the largest total (scipy's
    ``linear_sum_assignment``); ``greedy``: the largest remaining value first,
    as COCO-style evaluation matches detections. Each box is used at most once
    either way, so repeating a good box earns nothing.
    """
    if values.size == 0:
        return []
    if method == "hungarian":
        rows, cols = linear_sum_assignment(values, maximize=True)
        return list(zip(rows.tolist(), cols.tolist(), strict=True))
    pairs, used_rows, used_cols = [], set(), set()
    for flat in np.argsort(-values, axis=None, kind="stable"):
        row, col = divmod(int(flat), values.shape[1])
        if row not in used_rows and col not in used_cols:
            pairs.append((row, col))
            used_rows.add(row)
            used_cols.add(col)
    return pairs


def contains(box: Box, point: tuple[float, float]) -> bool:
    x1, y1, x2, y2 = box
    return x1 <= point[0] <= x2 and y1 <= point[1] <= y2
