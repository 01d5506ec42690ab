"""Images in prompts, as the service takes them.

The service accepts an image part as a data URL (HTTP) or bytes (gRPC; the
client converts data URLs itself). Trainers hold images as in-memory objects
(PIL images in TRL and verl, bytes in some datasets) either inside the content
parts or in a separate column next to ``{"type": "image"}`` placeholders; these
helpers turn both into data URLs. The service detects the format from the
bytes; an object is encoded as PNG (lossless: the reward sees the pixels the
policy saw).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Iterator
from typing import Any

_IMAGE_TYPES = ("image", "image_url", "input_image")


def data_url(image: Any) -> str:
    """``image`` (bytes, a PIL image or anything with PIL's ``save``, or a data URL) as a data URL.

    Raises:
        TypeError: not an image this knows how to send.
    """
    if isinstance(image, str) and image[:5].lower() == "data:":
        return image
    if isinstance(image, bytes | bytearray | memoryview):
        data = bytes(image)
    elif callable(getattr(image, "save", None)):
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    elif isinstance(image, dict) and isinstance(image.get("bytes"), bytes):  # datasets' Image feature
        data = image["bytes"]
    else:
        raise TypeError(f"cannot send a {type(image).__name__} as an image")
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode("ascii")


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") in _IMAGE_TYPES


def part_with_image(part: dict[str, Any]) -> dict[str, Any]:
    """An image part whose in-memory image (``image`` key) is made a data URL; others as they are."""
    image = part.get("image")
    if not is_image_part(part) or image is None or isinstance(image, str):
        return part
    return {**part, "image": data_url(image)}


def fill_placeholders(messages: list[dict[str, Any]], images: Iterable[Any]) -> list[dict[str, Any]]:
    """``messages`` with their ``{"type": "image"}`` placeholders filled, in order, from ``images``.

    A dataset that keeps its images in a column (TRL's ``images``, verl's
    ``multi_modal_data``, slime's ``multimodal_inputs``) marks where each goes
    with a placeholder part. Placeholders beyond the images stay placeholders;
    images beyond the placeholders are appended to the last user turn, so none
    is silently dropped.
    """
    pending: Iterator[Any] = iter(list(images))
    out = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if is_image_part(part) and set(part) == {"type"}:
                    image = next(pending, None)
                    if image is not None:
                        part = {"type": "image", "image": data_url(image)}
                parts.append(part)
            message = {**message, "content": parts}
        out.append(message)
    rest = [{"type": "image", "image": data_url(image)} for image in pending]
    if rest:
        users = [i for i, m in enumerate(out) if m.get("role") == "user"]
        at = users[-1] if users else len(out) - 1
        content = out[at].get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        out[at] = {**out[at], "content": [*rest, *parts]}
    return out


def prompt_with_images(prompt: Any, images: Iterable[Any] | None) -> Any:
    """A trainer's prompt joined with the sample's images (those kept beside it).

    Chat messages get their placeholders filled (:func:`fill_placeholders`);
    a text prompt becomes one user turn of the images followed by the text.
    Without images the prompt is returned as it is.
    """
    images = [image for image in images or () if image is not None]
    if not images:
        return prompt
    if isinstance(prompt, list):
        return fill_placeholders(prompt, images)
    parts = [{"type": "image", "image": data_url(image)} for image in images]
    return [{"role": "user", "content": [*parts, {"type": "text", "text": str(prompt or "")}]}]
