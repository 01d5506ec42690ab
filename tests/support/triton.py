"""A real Triton server (from nvidia-pytriton) serving a tiny reward model."""

from __future__ import annotations

from pathlib import Path

from rewardgate.sources.model.triton.local_server import LocalTritonServer
from rewardgate.sources.model.triton.repository import TritonModelSettings, write_repository

MODEL_NAME = "tiny_rm"


def start_triton(model_dir: Path, workdir: Path, **settings) -> LocalTritonServer:
    """Triton serving ``model_dir`` as ``MODEL_NAME`` with ``settings`` (TritonModelSettings fields)."""
    return start_triton_models(model_dir, workdir, {MODEL_NAME: settings})


def start_triton_models(model_dir: Path, workdir: Path, models: dict[str, dict]) -> LocalTritonServer:
    """One Triton serving ``model_dir`` under each name of ``models``, each with its own settings
    (one torch thread per instance unless a setting says otherwise)."""
    repository = workdir / "repository"
    for name, settings in models.items():
        write_repository(model_dir, name, repository, TritonModelSettings(**{"torch_threads": 1, **settings}))
    server = LocalTritonServer(repository, log_path=workdir / "triton.log").start()
    try:
        return server.wait_ready()
    except Exception:
        server.cleanup()
        raise
