"""The images of an item as a judge is shown them: OpenAI ``image_url`` content parts.

vLLM and SGLang serving a VLM, and the hosted APIs, take an image in a chat
message as ``{"type": "image_url", "image_url": {"url": "data:image/...;base64,..."}}``;
the item's canonical image parts (rewardgate/media/parts.py) are already such
data URLs. A judge never silently loses an image: a text-only judge
(``vision: false``) and an image without pixels (a ``{"type": "image"}``
placeholder) are the per-item error ``invalid_component_input``.
"""

from __future__ import annotations

from typing import Any

from rewardgate.errors import InvalidComponentInput
from rewardgate.items import ScoringItem
from rewardgate.media.parts import is_image_part


def image_url_parts(item: ScoringItem, judge: str, vision: bool) -> list[dict[str, Any]]:
    """The item's prompt images, then its response images, in order, as ``image_url`` parts
    (``[]`` for a text item)."""
    prompt = [] if isinstance(item.prompt, str) else item.prompt
    parts = [
        part
        for message in prompt
        if isinstance(message.get("content"), list)
        for part in message["content"]
        if is_image_part(part)
    ]
    parts += [{"type": "image", "image": url} for url in item.response_images]
    if not parts:
        return []
    if not vision:
        raise InvalidComponentInput(
            f"judge {judge!r} is text-only (vision: false) and the item has {len(parts)} image(s); "
            "use a vision judge, or score image items with another component"
        )
    urls = []
    for index, part in enumerate(parts):
        url = part.get("image")
        if not isinstance(url, str):
            raise InvalidComponentInput(
                f"judge {judge!r}: image {index + 1} of the item is a placeholder without pixels; "
                "send the image itself (a data URL or bytes)"
            )
        urls.append({"type": "image_url", "image_url": {"url": url}})
    return urls
