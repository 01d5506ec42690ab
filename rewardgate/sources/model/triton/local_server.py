"""Run the Triton Inference Server shipped in the ``nvidia-pytriton`` wheel.

For development and tests: it serves a model repository on CPU (or GPU) on
free ports. The python backend's stub links the system ``libpython3.11``, so
this must run from a virtualenv made with Debian's ``python3.11``. The stub's
interpreter ignores ``PYTHONPATH``, so this environment's site-packages (and
the repository root) are passed in ``REWARDGATE_SITE_DIRS``, which model.py
adds with ``site.addsitedir``.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import socket
import subprocess
import tempfile
import time
from importlib import util
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (tests and local servers bind it next)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now: all are held until all are
    chosen, so the kernel cannot hand out one twice (Triton refuses equal ports)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def pytriton_dir() -> Path:
    spec = util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("nvidia-pytriton is not installed (pip install -e '.[dev]')")
    return Path(spec.submodule_search_locations[0]) / "tritonserver"


def prepare_backends(target: Path) -> Path:
    """A backend directory with the python backend and the stub for this Python."""
    source = pytriton_dir()
    shutil.copytree(source / "backends", target, dirs_exist_ok=True)
    stub = source / "python_backend_stubs" / "3.11" / "triton_python_backend_stub"
    shutil.copy2(stub, target / "python" / "triton_python_backend_stub")
    return target


class LocalTritonServer:
    """``start()`` / ``wait_ready()`` / ``stop()``; ``kill()`` simulates a crash."""

    def __init__(self, repository: Path, *, log_path: Path | None = None) -> None:
        self.repository = Path(repository)
        self.http_port, self.grpc_port, self.metrics_port = free_ports(3)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self._backends = Path(tempfile.mkdtemp(prefix="triton-backends-"))
        prepare_backends(self._backends)

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> LocalTritonServer:
        binary = pytriton_dir() / "bin" / "tritonserver"
        env = dict(os.environ)
        env["REWARDGATE_SITE_DIRS"] = os.pathsep.join([*site.getsitepackages(), str(REPO_ROOT)])
        # The copied stub's relative RPATH no longer reaches the wheel's bundled
        # CUDA runtime; point the loader at it.
        libs = [str(pytriton_dir().parents[1] / "nvidia_pytriton.libs"), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(binary),
                "--model-repository",
                str(self.repository),
                "--backend-directory",
                str(self._backends),
                "--http-port",
                str(self.http_port),
                "--grpc-port",
                str(self.grpc_port),
                "--metrics-port",
                str(self.metrics_port),
                "--allow-metrics",
                "true",
                "--exit-timeout-secs",
                "5",
                "--log-verbose",
                "0",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout_s: float = 180) -> LocalTritonServer:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"tritonserver exited: {self.log_tail()}")
            try:
                if httpx.get(self.http_url + "/v2/health/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"tritonserver not ready after {timeout_s}s: {self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path else ""

    def metrics(self) -> str:
        return httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text

    def stop(self, timeout_s: float = 30) -> None:
        """Graceful shutdown (Triton finishes in-flight requests), then kill."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None

    def kill(self) -> None:
        """SIGKILL the server and its python-backend stubs (a crash)."""
        if self.process is None:
            return
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self._backends, ignore_errors=True)
