"""Starting a server process for a benchmark and waiting until it answers; baseline trees."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx


def start_answering(
    command: list[str], probe: Callable[[], bool], timeout_s: float = 180, **popen
) -> subprocess.Popen:
    """Start ``command`` (output discarded) and return it once ``probe()`` is true.

    ``probe`` may raise httpx errors while the server starts. Raises RuntimeError
    (after killing the process) if it never answers within ``timeout_s``.
    """
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **popen)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if probe():
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"{' '.join(command)} did not answer within {timeout_s} s")


def export(revision: str, into: Path) -> Path:
    """``revision`` of this repository, exported into ``into`` (to run side by side with this tree)."""
    root = Path(__file__).resolve().parents[1]
    archive = subprocess.run(["git", "archive", revision], cwd=root, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into)  # our own repository's archive
    return into


def start_tree_service(tree: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, str, int]:
    """``tree``'s own service (its code, its default pipeline file), ready: the process, its
    HTTP base URL and its gRPC port. ``env``: more environment (settings) for it."""
    import sys

    from tests.support.server import free_ports

    port, grpc_port = free_ports(2)
    url = f"http://127.0.0.1:{port}"
    process = start_answering(
        [sys.executable, "-m", "rewardgate", "serve", "--port", str(port)],
        lambda: httpx.get(url + "/readyz", timeout=2).status_code == 200,
        cwd=tree,
        env={**tree_env(tree), "REWARDGATE_GRPC_PORT": str(grpc_port), **(env or {})},
    )
    return process, url, grpc_port


def tree_env(tree: Path) -> dict[str, str]:
    """Environment whose imports of ``service`` and ``rewardgate_client`` resolve to ``tree``
    (run with ``cwd=tree``: ``python -m`` puts the working directory first)."""
    return {**os.environ, "PYTHONPATH": f"{tree}:{tree / 'clients'}", "REWARDGATE_VERIFIER_WORKERS": "2"}
