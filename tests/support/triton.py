"""A real Triton server (from nvidia-pytriton) serving a tiny reward model."""

from __future__ import annotations

from pathlib import Path

from service.sources.model.triton.local_server import LocalTritonServer
from service.sources.model.triton.repository import TritonModelSettings, write_repository

MODEL_NAME = "tiny_rm"


def start_triton(model_dir: Path, workdir: Path, **settings) -> LocalTritonServer:
    repository = workdir / "repository"
    options = {"torch_threads": 1, **settings}
    write_repository(model_dir, MODEL_NAME, repository, TritonModelSettings(**options))
    server = LocalTritonServer(repository, log_path=workdir / "triton.log").start()
    try:
        return server.wait_ready()
    except Exception:
        server.cleanup()
        raise
