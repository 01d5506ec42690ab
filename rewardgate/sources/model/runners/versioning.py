"""Model identity: a content hash of the files a model is loaded from, hashed once per artefact.

Hashing every weight file costs seconds per process at 8B (the gateway, each
Triton instance, each restart). So every file's sha256 is recorded with its
size and modification time in a manifest: next to the model
(``rewardgate-manifest.json``) when the directory is writable, else in the
user's cache (``$XDG_CACHE_HOME/rewardgate/fingerprints/``, keyed by the
directory's absolute path). A file whose size and mtime (ns) match its entry
is not read again; any other file is hashed and the manifest rewritten. The
version itself is computed from the per-file hashes exactly as before, so it
does not depend on whether a manifest existed.

Trust boundary: a file rewritten in place with the same size and the same
nanosecond mtime (deliberately reset) keeps its recorded hash; delete the
manifest to force a full re-hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

MANIFEST = "rewardgate-manifest.json"
# Files that never change a model's outputs (and the manifest itself).
_IGNORED = {"README.md", ".gitattributes", "LICENSE", "LICENSE.txt", MANIFEST}
# Another process's manifest being written (rewardgate-manifest.json.XXXX.tmp) is not the model's.
_TEMPORARY = MANIFEST + "."
_FORMAT = 1


def directory_version(path: Path) -> str:
    """``sha256:<hex>`` over every file's relative path and content hash, in sorted order.

    Weights, config, tokenizer and chat template all enter the hash, because
    each of them changes the score. Content hashes come from the manifest
    where a file is unchanged (module docstring).
    """
    root = Path(path)
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.name not in _IGNORED and not p.name.startswith(_TEMPORARY)
    )
    recorded = _read_manifest(root)
    entries: dict[str, dict] = {}
    changed = False
    for file in files:
        relative = str(file.relative_to(root))
        stat = file.stat()
        entry = recorded.get(relative)
        if not (entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns):
            with file.open("rb") as handle:
                entry = {
                    "size": stat.st_size,
                    "mtime_ns": stat.st_mtime_ns,
                    "sha256": hashlib.file_digest(handle, "sha256").hexdigest(),
                }
            changed = True
        entries[relative] = entry
    if changed or set(recorded) != set(entries):
        _write_manifest(root, entries)
    digest = hashlib.sha256()
    for relative, entry in entries.items():
        digest.update(relative.encode() + b"\0")
        digest.update(bytes.fromhex(entry["sha256"]))
    return "sha256:" + digest.hexdigest()


def _cache_manifest(root: Path) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
    return base / "rewardgate" / "fingerprints" / f"{key}.json"


def _read_manifest(root: Path) -> dict[str, dict]:
    """The first readable manifest of this directory (next to it, then the cache); {} if none."""
    for candidate in (root / MANIFEST, _cache_manifest(root)):
        try:
            data = json.loads(candidate.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and data.get("format") == _FORMAT and isinstance(data.get("files"), dict):
            return {k: v for k, v in data["files"].items() if isinstance(v, dict)}
    return {}


def _write_manifest(root: Path, entries: dict[str, dict]) -> None:
    """Atomically write the manifest next to the model, else into the cache; silently neither.

    A read-only model directory and a read-only home are both normal in
    containers: the hash is then recomputed next time, nothing fails.
    """
    body = json.dumps({"format": _FORMAT, "files": entries}, indent=1, sort_keys=True)
    for target in (root / MANIFEST, _cache_manifest(root)):
        temporary: str | None = None
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=_TEMPORARY, suffix=".tmp")
            with os.fdopen(handle, "w") as out:
                out.write(body)
            os.replace(temporary, target)
            return
        except OSError:
            if temporary is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
