"""API keys: loading the key ring and checking a presented key.

Only SHA-256 digests of keys are configured (a file, ``REWARDGATE_API_KEYS_FILE``,
and/or the ``REWARDGATE_API_KEYS`` variable), one key per line::

    # NAME  SHA256-HEX-OF-KEY  [ITEMS_PER_S [BURST]]
    trainer-a  9f86d08...  2000  8192

Keys are random tokens (``rewardgate api-key NAME`` makes one), so a fast hash
is enough: nothing about a key can be learnt from its digest. A presented key
is hashed and compared with every configured digest in constant time; the
key's *name* is what logs and metrics show, never the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from rewardgate.auth.quota import TokenBucket
from rewardgate.errors import ConfigError

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return "rg_" + secrets.token_urlsafe(32)


@dataclass
class ApiKey:
    name: str
    digest: str
    quota: TokenBucket | None = field(default=None, compare=False)


class KeyRing:
    """The configured keys; empty means authentication is off."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def authenticate(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` belongs to, or None. Time does not depend on which key matched."""
        if not presented:
            return None
        candidate = digest(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(candidate, key.digest):
                found = key
        return found

    @classmethod
    def load(cls, text: str | None, path: Path | None) -> KeyRing:
        """Parse the inline text and the file (either may be absent).

        Raises:
            ConfigError: a malformed line (its number is named, never its content).
        """
        sources = []
        if path is not None:
            try:
                sources.append((str(path), path.read_text()))
            except OSError as exc:
                raise ConfigError(f"api_keys_file: cannot read {path}: {exc.strerror}") from None
        if text:
            sources.append(("REWARDGATE_API_KEYS", text.replace(";", "\n")))
        keys = [key for origin, body in sources for key in _parse(origin, body)]
        names = [key.name for key in keys]
        if len(set(names)) != len(names):
            raise ConfigError("api keys: key names must be unique")
        return cls(keys)


def _parse(origin: str, body: str) -> list[ApiKey]:
    keys = []
    for number, raw in enumerate(body.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        try:
            name, hex_digest, *quota = parts
            if not _NAME.match(name) or not _DIGEST.match(hex_digest.lower()) or len(quota) > 2:
                raise ValueError
            burst = float(quota[1]) if len(quota) > 1 else None
            bucket = TokenBucket(float(quota[0]), burst) if quota else None
        except ValueError:
            raise ConfigError(
                f"{origin} line {number}: expected 'NAME SHA256-HEX [ITEMS_PER_S [BURST]]'"
            ) from None
        keys.append(ApiKey(name, hex_digest.lower(), bucket))
    return keys
