"""Fetching an image URL, only from the operator's allow-list of hosts.

Contract: :func:`fetch_image` returns the body of a ``200`` reply or raises
``ValueError`` (the request's 422) / :class:`ImageRejected` (413 for a body
over the byte limit) saying why. Off by default (no host allowed). Redirects
are not followed (a redirect could leave the allow-list), the body is read in
chunks and abandoned past ``max_bytes``, and the whole fetch is bounded by
``timeout_s``. The bytes, not the URL, become the item's image, so the cache
key hashes content. The allow-list matches host names as written in the URL;
it is not a defence against a DNS name that resolves to an internal address
(allow only hosts you control).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from rewardgate.media.decode import ImageRejected


def fetch_image(url: str, hosts: frozenset[str], max_bytes: int, timeout_s: float) -> bytes:
    """The bytes at ``url`` (http or https, host in ``hosts``)."""
    host = (urlsplit(url).hostname or "").lower()
    if host not in hosts:
        raise ValueError(
            f"image URLs are not fetched from host {host!r} (REWARDGATE_IMAGE_URL_HOSTS); "
            "send the image as a data URL or bytes"
        )
    try:
        with (
            httpx.Client(timeout=timeout_s, follow_redirects=False) as client,
            client.stream("GET", url) as reply,
        ):
            if reply.status_code != 200:
                raise ValueError(f"fetching the image URL answered HTTP {reply.status_code}")
            chunks, size = [], 0
            for chunk in reply.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ImageRejected(
                        f"the image at the URL is over the limit of {max_bytes} bytes", too_large=True
                    )
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ValueError(f"the image URL could not be fetched: {type(exc).__name__}") from None
    return b"".join(chunks)
