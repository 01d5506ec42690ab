"""The image policy the service's settings declare (``REWARDGATE_*IMAGE*``)."""

from __future__ import annotations

from rewardgate.config.settings import Settings
from rewardgate.media.decode import ImageLimits
from rewardgate.media.parts import ImagePolicy


def image_policy(settings: Settings) -> ImagePolicy:
    return ImagePolicy(
        ImageLimits(
            max_bytes=settings.max_image_bytes,
            max_pixels=settings.max_image_pixels,
            max_frames=settings.max_image_frames,
            max_images_per_item=settings.max_images_per_item,
        ),
        root=str(settings.image_root) if settings.image_root is not None else None,
        url_hosts=frozenset(h.strip().lower() for h in settings.image_url_hosts.split(",") if h.strip()),
        fetch_timeout_s=settings.image_fetch_timeout_s,
    )
