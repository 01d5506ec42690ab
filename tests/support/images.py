"""Images drawn in code for the multimodal tests (no files, no downloads)."""

from __future__ import annotations

import base64
import io
import struct
import zlib

from PIL import Image, ImageDraw


def png(width: int = 32, height: int = 24, color=(200, 30, 30), box=None) -> bytes:
    """A PNG of ``color`` with an optional black rectangle ``box`` (x0, y0, x1, y1)."""
    image = Image.new("RGB", (width, height), color)
    if box is not None:
        ImageDraw.Draw(image).rectangle(box, fill=(0, 0, 0))
    return encode(image, "PNG")


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def jpeg(width: int = 32, height: int = 24) -> bytes:
    return encode(Image.new("RGB", (width, height), (10, 120, 200)), "JPEG")


def gif_frames(count: int) -> bytes:
    frames = [Image.new("RGB", (8, 8), (40 * index % 256, 0, 255 - index)) for index in range(count)]
    buffer = io.BytesIO()
    frames[0].save(
        buffer, format="GIF", save_all=True, append_images=frames[1:], duration=10, loop=0, optimize=False
    )
    return buffer.getvalue()


def png_bomb(width: int = 60_000, height: int = 60_000) -> bytes:
    """A tiny valid-looking PNG whose header declares ``width`` x ``height`` pixels."""
    small = png(1, 1)
    ihdr_data = struct.pack(">II", width, height) + small[24:29]
    chunk = b"IHDR" + ihdr_data
    ihdr = struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk))
    return small[:8] + ihdr + small[33:]


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def image_message(data: bytes, text: str = "What is shown?", mime: str = "image/png") -> dict:
    """A user turn with one image (as a data URL, OpenAI's spelling) and a question."""
    return {
        "role": "user",
        "content": [
            {"type": "image_url", "image_url": {"url": data_url(data, mime)}},
            {"type": "text", "text": text},
        ],
    }
