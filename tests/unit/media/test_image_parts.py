"""Image parts: decoded under limits, refused with the part named, made canonical by content."""

import base64
import os

import pytest
from PIL import Image

from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.errors import InvalidInput, PayloadTooLarge
from rewardgate.items import ScoringItem
from rewardgate.media.decode import ImageLimits, ImageRejected, inspect
from rewardgate.media.parts import ImagePartError, ImagePolicy, canonical_messages
from rewardgate.store.cache import cache_key
from tests.support.images import data_url, encode, gif_frames, image_message, jpeg, png, png_bomb

PNG = png()
B64 = base64.b64encode(PNG).decode()


DATA_ONLY = ImagePolicy()


def canonical(part, policy=DATA_ONLY):
    (message,) = canonical_messages([{"role": "user", "content": [part]}], policy)
    return message["content"][0]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": data_url(PNG), "detail": "low"}},
        {"type": "image_url", "image_url": data_url(PNG)},
        {"type": "input_image", "image_url": data_url(PNG)},
        {"type": "image", "image": data_url(PNG)},
        {"type": "image", "image": B64},
        {"type": "image", "url": "data:application/octet-stream;base64," + B64},
        {"type": "image", "image": "\n".join(B64[i : i + 60] for i in range(0, len(B64), 60))},
        {"type": "image", "image": base64.urlsafe_b64encode(PNG).decode().rstrip("=")},
    ],
    ids=["openai", "openai-str", "input-image", "hf", "bare-b64", "octet", "wrapped", "urlsafe"],
)
def test_every_spelling_of_the_same_bytes_is_one_canonical_part(part):
    assert canonical(part) == {"type": "image", "image": data_url(PNG)}


def test_the_detected_format_is_recorded_not_the_declared_one():
    assert canonical({"type": "image", "image": data_url(jpeg(), "image/jpg")})["image"].startswith(
        "data:image/jpeg;base64,"
    )


def test_a_placeholder_stays_a_placeholder():
    assert canonical({"type": "image"}) == {"type": "image"}


@pytest.mark.parametrize(
    ("part", "words", "too_large"),
    [
        ({"type": "image", "image": data_url(PNG[:60])}, "cannot be decoded", False),
        ({"type": "image", "image": data_url(PNG[: len(PNG) // 2])}, "cannot be decoded", False),
        ({"type": "image", "image": data_url(b"GIF89a not really")}, "accepted format", False),
        ({"type": "image", "image": data_url(b"hello world, not an image")}, "accepted format", False),
        ({"type": "image", "image": data_url(PNG, "image/jpeg")}, "declared as 'image/jpeg'", False),
        ({"type": "image", "image": data_url(PNG, "text/html")}, "not an image type", False),
        ({"type": "image", "image": "data:image/png," + B64}, "must be base64", False),
        ({"type": "image", "image": "data:image/png;base64,@@@@"}, "not valid base64", False),
        ({"type": "image", "image": ""}, "empty", False),
        ({"type": "image", "image": 7}, "must be a string", False),
        ({"type": "image_url", "image_url": {}}, "must be a string", False),
        ({"type": "image_url", "image_url": {"detail": "low"}}, "must be a string", False),
        ({"type": "image_url"}, "needs its image", False),
        ({"type": "image", "path": ["a"]}, "'path' must be a string", False),
        ({"type": "image", "image": data_url(png_bomb())}, "pixels", True),
        ({"type": "image", "image": data_url(gif_frames(5), "image/gif")}, "5 frames", True),
        ({"type": "image", "image": "https://example.org/cat.png"}, "not fetched", False),
        ({"type": "image", "image": "ftp://example.org/cat.png"}, "unsupported", False),
        ({"type": "image", "path": "cat.png"}, "REWARDGATE_IMAGE_ROOT is unset", False),
        ({"type": "image", "image": "file:///etc/passwd"}, "REWARDGATE_IMAGE_ROOT is unset", False),
    ],
    ids=[
        "header-only", "truncated", "broken-gif", "not-image", "wrong-mime", "text-mime", "not-base64-url",
        "bad-base64", "empty", "number", "empty-url", "url-detail-only", "no-url", "path-list", "bomb",
        "frames", "url", "scheme", "path", "file-url",
    ],
)  # fmt: skip
def test_bad_images_are_refused_naming_the_part(part, words, too_large):
    with pytest.raises(ImagePartError) as caught:
        canonical_messages(
            [{"role": "user", "content": [{"type": "text", "text": "hi"}, part]}], ImagePolicy()
        )
    assert caught.value.where == "[0].content[1]"
    assert words in str(caught.value)
    assert caught.value.too_large is too_large


def test_byte_limit_is_checked_before_decoding():
    policy = ImagePolicy(ImageLimits(max_bytes=100))
    with pytest.raises(ImagePartError, match="over the limit of 100 bytes") as caught:
        canonical({"type": "image", "image": data_url(png(64, 64, box=(3, 3, 40, 40)) * 3)}, policy)
    assert caught.value.too_large


@pytest.mark.parametrize(("side", "words"), [(5000, "5000x5000"), (60_000, "decompression bomb")])
def test_a_bomb_is_refused_from_its_header_without_decoding(side, words):
    # 5000^2 is over our limit, refused by our header check; 60000^2 already by Pillow's own.
    with pytest.raises(ImageRejected, match=words) as caught:
        inspect(png_bomb(side, side), ImageLimits())
    assert caught.value.too_large


def test_frames_within_the_limit_are_accepted():
    assert inspect(gif_frames(3), ImageLimits(max_frames=3)).frames == 3


def test_too_many_images_in_one_item():
    parts = [{"type": "image", "image": data_url(PNG)}] * 3
    with pytest.raises(ImagePartError, match="more than 2 images") as caught:
        canonical_messages(
            [{"role": "user", "content": parts}], ImagePolicy(ImageLimits(max_images_per_item=2))
        )
    assert caught.value.where == "[0].content[2]"


def test_files_are_read_only_under_the_root(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    (root / "cat.png").write_bytes(PNG)
    (tmp_path / "secret.png").write_bytes(PNG)
    os.symlink(tmp_path / "secret.png", root / "link.png")
    os.mkfifo(root / "fifo.png")
    policy = ImagePolicy(root=str(root))
    expected = {"type": "image", "image": data_url(PNG)}
    assert canonical({"type": "image", "path": "cat.png"}, policy) == expected
    assert canonical({"type": "image", "image": f"file://{root}/cat.png"}, policy) == expected
    for path, words in [
        ("../secret.png", "outside"),
        ("link.png", "outside"),
        (str(tmp_path / "secret.png"), "not a regular file"),  # read as <root>/<path>: absent
        ("fifo.png", "not a regular file"),
        ("missing.png", "not a regular file"),
    ]:
        with pytest.raises(ImagePartError, match=words):
            canonical({"type": "image", "path": path}, policy)


def call(*prompts, limits_images=DATA_ONLY):
    items = [CallItem(None, ScoringItem(prompt, "r"), None) for prompt in prompts]
    limits = Limits(10, 1000, 1000, 10_000, images=limits_images)
    return validate_call(ScoreCall("p", items, CallOptions()), limits)


def test_validation_names_the_item_and_part_with_a_typed_error():
    good = [image_message(PNG)]
    with pytest.raises(InvalidInput, match=r"items\[1\]\.prompt\[0\]\.content\[0\]: .*cannot be decoded"):
        call(good, [image_message(PNG[: len(PNG) // 2])])
    with pytest.raises(PayloadTooLarge, match=r"items\[0\]\.prompt\[0\]\.content\[0\]: .*pixels"):
        call([image_message(png_bomb())])


def test_an_image_does_not_count_against_the_text_limit_but_text_still_does():
    big = encode(Image.effect_noise((64, 64), 80).convert("RGB"), "PNG")
    assert len(data_url(big)) > 1000  # over the 1000-character text limit of call()
    (item,) = call([image_message(big)]).items
    assert item.images() == (big,)
    with pytest.raises(PayloadTooLarge, match=r"items\[0\]\.prompt"):
        call([image_message(big, text="x" * 1001)])


def test_the_cache_key_hashes_the_content_not_the_spelling():
    spelled = [
        [image_message(PNG)],
        [
            {
                "role": "user",
                "content": [{"type": "image", "image": B64}, {"type": "text", "text": "What is shown?"}],
            }
        ],
    ]
    keys = {cache_key("f", ("prompt", "response"), item) for item in call(*spelled).items}
    assert len(keys) == 1
    other = call([image_message(png(color=(1, 2, 3)))]).items[0]
    assert cache_key("f", ("prompt", "response"), other) not in keys
