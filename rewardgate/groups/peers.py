"""Which replica owns a group: rendezvous hashing of the group id over the replicas.

With ``REWARDGATE_GROUP_PEERS`` set, every replica computes the same owner
for a group id from the same peer list, and a sample that reaches another
replica is forwarded there (rewardgate/core/group_forward.py), so a group's
samples meet however the Service spread them. Rendezvous hashing moves only
the groups of a replica that joins or leaves. The peer list is static (a
comma-separated list of base URLs) or a headless Service (``dns://NAME:PORT``)
resolved to its pods' addresses, re-read every few seconds; while the
replicas see different lists (a scale-up in progress) a group may be split,
and its samples then end ``group_incomplete`` (retryable).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import time
from urllib.parse import urlsplit

#: How long a resolved headless Service's addresses are used before resolving again.
DNS_TTL_S = 5.0


def owner_of(group_id: str, peers: list[str]) -> str:
    """The peer with the highest ``blake2b(peer, group id)``: the same on every replica."""

    def weight(peer: str) -> bytes:
        return hashlib.blake2b(f"{peer}\x00{group_id}".encode(), digest_size=8).digest()

    return max(peers, key=weight)


def local_addresses() -> set[str]:
    """This machine's addresses by its host name, and loopback."""
    addresses = {"127.0.0.1", "localhost", "::1", socket.gethostname()}
    with contextlib.suppress(OSError):  # a host name that does not resolve: loopback only
        addresses.update(socket.gethostbyname_ex(socket.gethostname())[2])
    return addresses


class Peers:
    """The replicas a group may belong to, and which one is this process."""

    def __init__(self, spec: str, port: int, self_url: str | None = None) -> None:
        spec = spec.strip()
        self._dns = spec[len("dns://") :] if spec.startswith("dns://") else None
        self._static = [] if self._dns else [_base(url) for url in spec.split(",") if url.strip()]
        if not self._dns and not self._static:
            raise ValueError("REWARDGATE_GROUP_PEERS: no peer URLs")
        self._port = port
        self._self = _base(self_url) if self_url else None
        self._addresses = local_addresses()
        self._resolved: tuple[float, list[str]] = (0.0, [])
        self._refresh: asyncio.Future | None = None

    def urls(self) -> list[str]:
        """The peers' URLs. A headless Service is resolved off the event loop once its list is
        older than :data:`DNS_TTL_S` (the old list serves meanwhile); only the first lookup blocks."""
        if self._dns is None:
            return self._static
        at = self._resolved[0]
        if not at:
            self._resolved = (time.monotonic(), self._resolve())
        elif time.monotonic() - at > DNS_TTL_S and self._refresh is None:
            self._refresh = asyncio.get_running_loop().run_in_executor(None, self._resolve)
            self._refresh.add_done_callback(self._refreshed)
        return self._resolved[1]

    def _resolve(self) -> list[str]:
        host, _, port = self._dns.rpartition(":")
        try:
            infos = socket.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
        except OSError:  # no ready pod yet: nobody to forward to, groups stay here
            return []
        return sorted({f"http://{info[4][0]}:{port}" for info in infos})

    def _refreshed(self, future) -> None:
        self._refresh = None
        if not future.cancelled() and future.exception() is None:
            self._resolved = (time.monotonic(), future.result())

    def owner(self, group_id: str) -> str | None:
        """The owning replica's URL; None while no peer is known (the group stays here)."""
        urls = self.urls()
        return owner_of(group_id, urls) if urls else None

    def is_self(self, url: str) -> bool:
        if self._self is not None:
            return url == self._self
        parts = urlsplit(url)
        return parts.port == self._port and parts.hostname in self._addresses


def _base(url: str) -> str:
    return url.strip().rstrip("/")
