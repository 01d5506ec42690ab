"""Mangled images (bytes flipped, cut, spliced) are refused as ImageRejected, never another error."""

import random

import pytest
from PIL import Image

from rewardgate.media.decode import ImageLimits, ImageRejected, inspect
from tests.support.images import encode, gif_frames, jpeg, png

SEEDS = {
    "png": png(),
    "jpeg": jpeg(),
    "gif": gif_frames(2),
    "webp": encode(Image.new("RGB", (16, 16), (1, 2, 3)), "WEBP"),
}


def mangled(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if len(out) < 4:
            break
        choice = rng.random()
        if choice < 0.6:
            out[rng.randrange(len(out))] = rng.randrange(256)
        elif choice < 0.8:
            del out[rng.randrange(len(out)) :]
        else:
            at = rng.randrange(len(out))
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return bytes(out)


@pytest.mark.parametrize("kind", sorted(SEEDS))
def test_mangled_images_are_accepted_or_rejected_never_crash(kind):
    rng = random.Random(kind)
    for _ in range(400):
        data = mangled(SEEDS[kind], rng)
        try:
            info = inspect(data, ImageLimits(max_frames=4))
        except ImageRejected:
            continue
        assert info.width > 0 and info.height > 0  # what is accepted decoded fully
