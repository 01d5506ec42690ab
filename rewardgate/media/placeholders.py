"""Image placeholder tokens in decoded text, as trainers that send text see them.

OpenRLHF decodes a VLM sample's query with special tokens kept, so each image
appears as its model's placeholder token repeated once per image token
(``<image>`` x 576 for LLaVA, ``<|image_pad|>`` x N between
``<|vision_start|>`` and ``<|vision_end|>`` for Qwen2-VL, ``<IMG_CONTEXT>``
for InternVL), while the prompt it sends holds the placeholder once. Runs of
one placeholder are collapsed to a single one on both sides, so the prompt is
found in its query and the response separated (rewardgate/api/http/compat.py).
"""

from __future__ import annotations

import re

#: Tokens VLM processors repeat per image (video) token; a run of one becomes one.
PLACEHOLDERS = (
    "<image>",
    "<|image_pad|>",
    "<|video_pad|>",
    "<IMG_CONTEXT>",
    "<|IMAGE|>",
    "<image_soft_token>",
)
_RUNS = re.compile("|".join(f"(?:{re.escape(token)}){{2,}}" for token in PLACEHOLDERS))


def collapse_placeholders(text: str) -> str:
    """``text`` with each run of a repeated image placeholder token made one token."""
    if "<" not in text:
        return text
    return _RUNS.sub(lambda match: match.group(0)[: _token_length(match.group(0))], text)


def _token_length(run: str) -> int:
    return next(len(token) for token in PLACEHOLDERS if run.startswith(token))
