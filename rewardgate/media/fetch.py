"""Fetching an image URL, only from the operator's allow-list of hosts, never from inside the network.

Contract: :func:`fetch_image` returns the body of a ``200`` reply or raises
``ValueError`` (the request's 422, naming the item and part upstream) /
:class:`ImageRejected` (413 for a body over the byte limit) saying why. Off by
default (no host allowed). The bytes, not the URL, become the item's image, so
the cache key hashes content.

Server-side request forgery: the allow-list matches host names as written in
the URL, and a name is only as trustworthy as whoever answers its DNS. So the
fetcher

* resolves the host **once** (:class:`UrlPolicy.resolve`, the system resolver
  by default; the seam tests control) and refuses it when any address it
  resolves to is not public (loopback, private, link-local such as the cloud
  metadata address 169.254.169.254, multicast, reserved, unspecified, shared
  100.64/10, and the same inside IPv4-mapped IPv6), unless the operator allows
  private addresses (``REWARDGATE_IMAGE_URL_ALLOW_PRIVATE``, for image hosts on
  the cluster's own network);
* connects to those resolved addresses itself (the next one only when one
  refuses the connection): the URL's host is replaced by the address, the
  ``Host`` header and the TLS server name (SNI, and so certificate
  verification) keep the name. No second lookup happens, so a name cannot
  answer a public address for the check and an internal one for the
  connection (DNS rebinding);
* never follows a redirect (a ``Location`` could point anywhere: a 3xx is
  refused), ignores proxy and netrc settings of the environment (a proxy would
  resolve the name again), and refuses URLs with credentials;
* reads the body in chunks, abandoned past ``max_bytes``, within ``timeout_s``
  (name resolution is the system's and is not bounded by it).
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from rewardgate.media.decode import ImageRejected

#: ``resolve(host, port)``: the IP addresses (as strings) a connection to ``host`` may use.
Resolver = Callable[[str, int], list[str]]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def system_resolve(host: str, port: int) -> list[str]:
    """The addresses the system resolver gives ``host`` (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValueError(f"the image URL's host {host!r} does not resolve ({exc})") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True, slots=True)
class UrlPolicy:
    """Where image URLs may be fetched from (part of the request's image policy)."""

    #: Host names (as written in URLs, lower case) whose images are fetched; empty: none.
    hosts: frozenset[str] = frozenset()
    #: Also fetch from hosts that resolve to non-public addresses (the operator's own network).
    allow_private: bool = False
    #: Longest fetch of one image, in seconds.
    timeout_s: float = 5.0
    #: How host names become addresses; resolved once per fetch.
    resolve: Resolver = field(default=system_resolve, compare=False)


def non_public(address: Address) -> str | None:
    """Why a connection to ``address`` could reach inside the network, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return non_public(address.ipv4_mapped)
    # Most specific first: Python counts link-local and reserved ranges as private too.
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(address, f"is_{kind}"):
            return kind.replace("_", "-")
    if not address.is_global:  # shared address space 100.64/10, other special ranges
        return "not globally routable"
    return None


def checked_addresses(host: str, port: int, policy: UrlPolicy) -> list[Address]:
    """The addresses the fetch may connect to, in the resolver's order: ``host`` resolved once,
    every answer checked.

    Raises ``ValueError`` when the host does not resolve or, unless private
    addresses are allowed, when any of its addresses is not public (one bad
    answer among good ones would let a round-robin name reach inside).
    """
    answers = policy.resolve(host, port)
    if not answers:
        raise ValueError(f"the image URL's host {host!r} does not resolve")
    addresses = []
    for answer in answers:
        try:
            addresses.append(ipaddress.ip_address(answer.split("%", 1)[0]))
        except ValueError:
            raise ValueError(f"the image URL's host {host!r} resolved to {answer!r}: no address") from None
    if not policy.allow_private:
        for address in addresses:
            reason = non_public(address)
            if reason is not None:
                raise ValueError(
                    f"the image URL's host {host!r} resolves to {address}, a {reason} address; image URLs "
                    "are fetched from public addresses only (REWARDGATE_IMAGE_URL_ALLOW_PRIVATE)"
                )
    return addresses


def fetch_image(url: str, policy: UrlPolicy, max_bytes: int) -> bytes:
    """The bytes at ``url`` (http or https, host in ``policy.hosts``, at a permitted address)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host not in policy.hosts:
        raise ValueError(
            f"image URLs are not fetched from host {host!r} (REWARDGATE_IMAGE_URL_HOSTS); "
            "send the image as a data URL or bytes"
        )
    if parts.username is not None or parts.password is not None:
        raise ValueError("an image URL must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise ValueError("the image URL's port is not a number in 0..65535") from None
    # Each checked address in turn when one refuses the connection (a name with an unreachable
    # IPv6 answer first): all were checked, none is looked up again. One timeout bounds them all.
    addresses = checked_addresses(host, port, policy)
    deadline = time.monotonic() + policy.timeout_s
    for attempt, address in enumerate(addresses, 1):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return _get(parts, host, address, port, remaining, max_bytes)
        except httpx.ConnectError:
            if attempt == len(addresses):
                raise ValueError("the image URL could not be fetched: ConnectError") from None
        except httpx.HTTPError as exc:
            raise ValueError(f"the image URL could not be fetched: {type(exc).__name__}") from None
    raise ValueError("the image URL could not be fetched: ConnectTimeout")


def _get(
    parts: SplitResult, host: str, address: Address, port: int, timeout_s: float, max_bytes: int
) -> bytes:
    """GET ``parts`` from ``address``; the Host header and the TLS server name keep the name
    (virtual hosts and certificates see it). Raises httpx errors as they come."""
    literal = f"[{address}]" if address.version == 6 else str(address)
    pinned = urlunsplit((parts.scheme, f"{literal}:{port}", parts.path or "/", parts.query, ""))
    headers = {"Host": parts.netloc.rpartition("@")[2]}
    with (
        httpx.Client(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
        client.stream("GET", pinned, headers=headers, extensions={"sni_hostname": host}) as reply,
    ):
        if reply.is_redirect:
            raise ValueError(
                f"fetching the image URL answered HTTP {reply.status_code}: redirects are not followed"
            )
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
    return b"".join(chunks)
