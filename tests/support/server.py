"""Run the real service (``python -m rewardgate serve``) in a subprocess on a free port."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

# free_port is re-exported: the other test servers import it from here.
from rewardgate.sources.model.triton.local_server import free_port as free_port
from rewardgate.sources.model.triton.local_server import free_ports

REPO_ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def uvicorn_in_thread(app, log_level: str = "warning") -> Iterator[int]:
    """``app`` served on a free port by the service's own uvicorn configuration
    (rewardgate/server.py ``server_config``: its protocols), in a thread; yields the port."""
    import uvicorn

    from rewardgate.config.settings import Settings
    from rewardgate.server import server_config

    port = free_port()
    config = server_config(app, Settings(host="127.0.0.1", port=port, grpc_port=0, log_level=log_level))
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        thread.join(0.05)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(30)


def score_ok(service: ServiceProcess, pipeline: str, items: list[dict], **options) -> dict:
    """POST /v1/score and return the reply, which must be a 200."""
    body = {"pipeline": pipeline, "items": items, "options": options}
    response = httpx.post(service.url + "/v1/score", json=body, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()


class ServiceProcess:
    def __init__(
        self,
        config: Path,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        port: int | None = None,
        grpc_port: int | None = None,
    ):
        free_http, free_grpc = free_ports(2)  # distinct: the service needs both
        self.port = port or free_http
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.grpc_port = grpc_port or free_grpc
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"
        full_env = {
            **os.environ,
            "REWARDGATE_VERIFIER_WORKERS": "2",
            "REWARDGATE_GRPC_PORT": str(self.grpc_port),
            **(env or {}),
        }
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rewardgate", "serve", "--config", str(config), "--port", str(self.port)],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait(self, path: str = "/readyz", timeout_s: float = 180) -> ServiceProcess:
        """Wait until ``path`` answers 200 (or fail with the server log)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"service exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{path} not ready after {timeout_s}s: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path else ""

    def metric(self, name: str, **labels: str) -> float:
        """Current value of one sample from /metrics (0 when absent)."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return sample.value
        return 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        if self._log is not subprocess.DEVNULL:
            self._log.close()
