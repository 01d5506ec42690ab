"""Decoding one image under limits, with Pillow.

Contract: :func:`inspect` takes the raw bytes of an image and either returns
what it is (:class:`ImageInfo`) or raises :class:`ImageRejected` saying why,
in words fit for the caller. Nothing else escapes: every Pillow error
(unknown format, truncated file, broken header, decompression bomb) becomes
an ``ImageRejected``.

Order matters for safety: the byte size is checked first, then the header is
read (``Image.open`` is lazy: it parses size, mode and format only), the pixel
count and frame count are checked from the header, and only then are the
pixels decoded. A decompression bomb (a few KB declaring 50 000 x 50 000
pixels) is refused before any pixel is allocated, so decode time is bounded by
``max_pixels * max_frames``; Pillow offers no way to interrupt a decode, so
that bound is the decode-time limit.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

#: Formats accepted, by Pillow's name -> the MIME type a data URL must declare for it.
FORMATS: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}
#: MIME types that mean "not declared": the format is detected from the bytes.
UNDECLARED_MIME = frozenset({"", "application/octet-stream", "image/*"})
_MIME_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


class ImageRejected(ValueError):
    """An image that is not accepted; the message says why (no location)."""

    def __init__(self, message: str, *, too_large: bool = False) -> None:
        super().__init__(message)
        #: True for a size limit (bytes, pixels, frames): the caller maps it to 413, not 422.
        self.too_large = too_large


@dataclass(frozen=True, slots=True)
class ImageLimits:
    """Limits on one image; see docs/configuration.md (``REWARDGATE_MAX_IMAGE_*``)."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 4096 * 4096
    max_frames: int = 1
    max_images_per_item: int = 16


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An accepted image: its format's MIME type, size and frame count."""

    mime: str
    width: int
    height: int
    frames: int


def inspect(data: bytes, limits: ImageLimits, declared_mime: str = "") -> ImageInfo:
    """Check ``data`` is one acceptable image within ``limits``; decode it fully once.

    ``declared_mime`` (from a data URL) must name the format the bytes really
    are, unless it is undeclared (:data:`UNDECLARED_MIME`).
    """
    if not data:
        raise ImageRejected("the image is empty")
    if len(data) > limits.max_bytes:
        raise ImageRejected(
            f"the image is {len(data)} bytes, over the limit of {limits.max_bytes}", too_large=True
        )
    try:
        with warnings.catch_warnings():
            # Pillow warns (then errors) on its own bomb threshold; ours is checked below, first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
                info = _header(image, limits, declared_mime)
                image.load()
                for frame in range(1, info.frames):
                    image.seek(frame)
                    image.load()
    except ImageRejected:
        raise
    except UnidentifiedImageError:
        raise ImageRejected(f"not an image in an accepted format ({', '.join(FORMATS.values())})") from None
    except Image.DecompressionBombError as exc:
        raise ImageRejected(f"decompression bomb refused: {exc}", too_large=True) from None
    except Exception as exc:
        # Truncated data, corrupt chunks and broken headers: Pillow's plugins raise OSError,
        # SyntaxError, ValueError, EOFError, but also struct.error and IndexError on
        # mangled bytes (found by fuzzing, tests/unit/media/test_image_fuzz.py). Any of
        # them is the caller's broken image, never a server error.
        raise ImageRejected(f"the image cannot be decoded: {type(exc).__name__}: {exc}") from None
    return info


def _header(image: Image.Image, limits: ImageLimits, declared_mime: str) -> ImageInfo:
    mime = FORMATS[image.format or ""]
    declared = _MIME_ALIASES.get(declared_mime.lower(), declared_mime.lower())
    if declared not in UNDECLARED_MIME and declared != mime:
        raise ImageRejected(f"declared as {declared_mime!r} but the bytes are {mime}")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ImageRejected(f"the image has no pixels ({width}x{height})")
    if width * height > limits.max_pixels:
        raise ImageRejected(
            f"the image is {width}x{height} = {width * height} pixels, over the limit of {limits.max_pixels}",
            too_large=True,
        )
    frames = int(getattr(image, "n_frames", 1))
    if frames > limits.max_frames:
        raise ImageRejected(
            f"the image has {frames} frames, over the limit of {limits.max_frames}", too_large=True
        )
    return ImageInfo(mime, width, height, frames)


def open_image(data: bytes) -> Image.Image:
    """The RGB pixels of an image already accepted by :func:`inspect` (its first frame)."""
    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
        return image.convert("RGB")


def image_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the header only (no pixel is decoded)."""
    with Image.open(io.BytesIO(data), formats=list(FORMATS)) as image:
        return image.size
