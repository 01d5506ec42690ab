"""The image parts of a conversation, resolved to one canonical, content-addressed form.

Accepted spellings of an image part (OpenAI, Hugging Face / Qwen-VL, TRL):

* ``{"type": "image_url", "image_url": {"url": SRC}}`` or ``"image_url": SRC``
  (also ``"type": "input_image"``);
* ``{"type": "image", "image": SRC}``, ``{"type": "image", "url": SRC}``,
  ``{"type": "image", "path": PATH}``;
* ``{"type": "image"}`` with no source: a placeholder (the dataset keeps its
  images elsewhere); kept as is, it carries no pixels.

``SRC`` is a data URL (``data:image/png;base64,...``), bare base64, a
``file://`` URL, or an ``http(s)://`` URL. Files are read only under the
operator's ``REWARDGATE_IMAGE_ROOT``, URLs fetched only from the hosts of
``REWARDGATE_IMAGE_URL_HOSTS``, at public addresses unless
``REWARDGATE_IMAGE_URL_ALLOW_PRIVATE`` (both off by default; rewardgate/media/fetch.py).

Every image with a source becomes ``{"type": "image", "image":
"data:<detected MIME>;base64,<standard base64 of the bytes>"}``: the same bytes
make the same part whichever spelling or transport carried them, so cache
keys hash the content, never a URL or path.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from rewardgate.media.decode import ImageLimits, ImageRejected, inspect
from rewardgate.media.fetch import UrlPolicy, fetch_image

#: Part types that carry (or stand for) an image.
IMAGE_PART_TYPES = frozenset({"image", "image_url", "input_image"})


@dataclass(frozen=True, slots=True)
class ImagePolicy:
    """What images a request may carry and where they may come from."""

    limits: ImageLimits = field(default_factory=ImageLimits)
    #: Directory under which ``path`` / ``file://`` images may be read; None: no files.
    root: str | None = None
    #: Which ``http(s)://`` images are fetched (hosts, private addresses, timeout); default: none.
    urls: UrlPolicy = field(default_factory=UrlPolicy)


class ImagePartError(ValueError):
    """An image part refused; ``where`` is its location inside the prompt (e.g. ``[0].content[1]``)."""

    def __init__(self, where: str, reason: ImageRejected | str) -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.too_large = isinstance(reason, ImageRejected) and reason.too_large


def is_image_part(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") in IMAGE_PART_TYPES


def has_images(messages: Sequence[dict[str, Any]]) -> bool:
    """True when any message has an image part (placeholders included)."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, list) and any(is_image_part(part) for part in content):
            return True
    return False


def canonical_messages(messages: list[dict[str, Any]], policy: ImagePolicy) -> list[dict[str, Any]]:
    """``messages`` with every image part resolved, checked and made canonical.

    Returns the same list object when no message has an image part. Raises
    :class:`ImagePartError` naming the part (``[m].content[p]``).
    """
    if not has_images(messages):
        return messages
    count = 0
    out = []
    for m, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list):
            out.append(message)
            continue
        parts = []
        for p, part in enumerate(content):
            if is_image_part(part):
                where = f"[{m}].content[{p}]"
                part = _canonical_part(part, policy, where)
                if "image" in part:
                    count += 1
                    if count > policy.limits.max_images_per_item:
                        raise ImagePartError(
                            where,
                            ImageRejected(
                                f"more than {policy.limits.max_images_per_item} images in one item",
                                too_large=True,
                            ),
                        )
            parts.append(part)
        out.append({**message, "content": parts})
    return out


def canonical_images(sources: Sequence[str], policy: ImagePolicy) -> tuple[str, ...]:
    """Image sources (a response's images) checked and made canonical data URLs.

    Raises :class:`ImagePartError` naming the image (``[k]``)."""
    if len(sources) > policy.limits.max_images_per_item:
        raise ImagePartError(
            f"[{policy.limits.max_images_per_item}]",
            ImageRejected(f"more than {policy.limits.max_images_per_item} images", too_large=True),
        )
    return tuple(
        _canonical_part({"type": "image", "image": source}, policy, f"[{k}]")["image"]
        for k, source in enumerate(sources)
    )


def image_urls(messages: Sequence[dict[str, Any]]) -> Iterator[str]:
    """The data URL of every canonical image part, in order (placeholders skipped)."""
    for message in messages:
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if is_image_part(part) and isinstance(part.get("image"), str):
                    yield part["image"]


def image_data(messages: Sequence[dict[str, Any]]) -> Iterator[bytes]:
    """The bytes of every canonical image part, in order (placeholders skipped)."""
    return (data_url_bytes(url) for url in image_urls(messages))


def data_url_bytes(url: str) -> bytes:
    """The bytes of a canonical ``data:<mime>;base64,...`` URL."""
    return base64.b64decode(url.partition(",")[2])


def _source(part: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, value) of a part's source: kind is ``src`` or ``path``; None for a placeholder."""
    if "path" in part:
        if not isinstance(part["path"], str):
            raise ValueError("'path' must be a string")
        return "path", part["path"]
    for key in ("image_url", "image", "url"):
        if key not in part:
            continue
        value = part[key]
        if isinstance(value, dict):
            value = value.get("url")
        if not isinstance(value, str):
            raise ValueError(f"'{key}' must be a string or {{'url': string}}")
        return "src", value
    if part.get("type") != "image":
        # Only {"type": "image"} is a placeholder (datasets that keep images apart); an
        # image_url part without its URL is a mistake, not a picture to leave out.
        raise ValueError(f"a {part.get('type')} part needs its image ('image_url': {{'url': ...}})")
    return None


def _canonical_part(part: dict[str, Any], policy: ImagePolicy, where: str) -> dict[str, Any]:
    try:
        source = _source(part)
        if source is None:
            return {"type": "image"}
        data, declared = _bytes_of(*source, policy)
        info = inspect(data, policy.limits, declared)
    except ImageRejected as exc:
        raise ImagePartError(where, exc) from None
    except ValueError as exc:
        raise ImagePartError(where, str(exc)) from None
    encoded = base64.b64encode(data).decode("ascii")
    return {"type": "image", "image": f"data:{info.mime};base64,{encoded}"}


def _bytes_of(kind: str, value: str, policy: ImagePolicy) -> tuple[bytes, str]:
    """The raw bytes a source names and the MIME type it declares ('' when none)."""
    if kind == "path":
        return _read_file(value, policy), ""
    scheme = value[:16].partition(":")[0].lower() if ":" in value[:16] else ""
    if scheme == "data":
        return _data_url(value, policy.limits)
    if scheme == "file":
        return _read_file(unquote(urlsplit(value).path), policy), ""
    if scheme in ("http", "https"):
        return fetch_image(value, policy.urls, policy.limits.max_bytes), ""
    if scheme:
        raise ValueError(f"unsupported image source scheme {scheme!r}")
    return _base64(value, policy.limits), ""


def _data_url(value: str, limits: ImageLimits) -> tuple[bytes, str]:
    header, comma, payload = value.partition(",")
    if not comma:
        raise ValueError("a data URL needs a ',' before its payload")
    media = header[len("data:") :].split(";")
    if "base64" not in (token.strip().lower() for token in media[1:]):
        raise ValueError("an image data URL must be base64 (data:<mime>;base64,...)")
    declared = media[0].strip()
    if (
        declared
        and not declared.lower().startswith("image/")
        and declared.lower() != "application/octet-stream"
    ):
        raise ImageRejected(f"declared as {declared!r}, not an image type")
    return _base64(payload, limits), declared


def _base64(payload: str, limits: ImageLimits) -> bytes:
    # Refuse before decoding: base64 is 4/3 of the bytes it carries.
    if len(payload) > (limits.max_bytes * 4) // 3 + 8:
        raise ImageRejected(
            f"the image is over the limit of {limits.max_bytes} bytes ({len(payload)} base64 characters)",
            too_large=True,
        )
    compact = "".join(payload.split())  # line-wrapped base64 (MIME style) is common
    try:
        if "-" in compact or "_" in compact:
            return base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the image is not valid base64") from None


def _read_file(path: str, policy: ImagePolicy) -> bytes:
    if policy.root is None:
        raise ValueError("image paths are not allowed (REWARDGATE_IMAGE_ROOT is unset)")
    root = os.path.realpath(policy.root)
    # realpath resolves '..' and symbolic links, so the check is on the file actually opened.
    resolved = os.path.realpath(os.path.join(root, path.lstrip("/")) if not path.startswith(root) else path)
    if os.path.commonpath([root, resolved]) != root:
        raise ValueError("the image path is outside REWARDGATE_IMAGE_ROOT")
    if not os.path.isfile(resolved):  # a FIFO or device would block or never end
        raise ValueError("the image path is not a regular file")
    try:
        size = os.path.getsize(resolved)
        if size > policy.limits.max_bytes:
            raise ImageRejected(
                f"the image is {size} bytes, over the limit of {policy.limits.max_bytes}", too_large=True
            )
        with open(resolved, "rb") as handle:
            return handle.read(policy.limits.max_bytes + 1)
    except OSError:
        raise ValueError("the image file cannot be read") from None
