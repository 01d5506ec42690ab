"""Run the Triton Inference Server shipped in the ``nvidia-pytriton`` wheel.

For development and tests: it serves a model repository on CPU (or GPU), on
free ports or fixed ones. The python backend runs models through a stub
built for one Python version; the wheel ships one per version (3.8-3.13) and
the one matching this interpreter is used (each links its system
``libpython3.X``, e.g. Debian's ``python3.11``). The stub's interpreter
ignores ``PYTHONPATH``, so this environment's site-packages and the
directories holding ``rewardgate`` and ``rewardgate_client`` (wherever and
however they are installed) are passed in ``REWARDGATE_SITE_DIRS``, which
model.py adds with ``site.addsitedir``.

A start that fails raises :class:`TritonStartError` with the causes read
from Triton's log (rewardgate/sources/model/triton/triton_log.py), not only
Triton's last line ("failed to load all models").
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import socket
import subprocess
import sys
import tempfile
import time
from importlib import util
from pathlib import Path

import httpx

from rewardgate.sources.model.triton.stub_numpy import installed_numpy_problem
from rewardgate.sources.model.triton.triton_log import failure_causes


class TritonStartError(RuntimeError):
    """The local Triton server could not start or serve its repository; the message says why."""


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
        raise TritonStartError("nvidia-pytriton is not installed (pip install -e '.[dev]')")
    return Path(spec.submodule_search_locations[0]) / "tritonserver"


def backend_stub(version: tuple[int, int] = sys.version_info[:2], root: Path | None = None) -> Path:
    """The python-backend stub built for Python ``version`` (default: this interpreter's).

    Raises:
        TritonStartError: the wheel ships no stub for that version (naming those it has).
    """
    stubs = (root or pytriton_dir()) / "python_backend_stubs"
    stub = stubs / f"{version[0]}.{version[1]}" / "triton_python_backend_stub"
    if not stub.is_file():
        shipped = sorted(
            (path.parent.name for path in stubs.glob("*/triton_python_backend_stub")),
            key=lambda name: tuple(int(part) for part in name.split(".")),
        )
        raise TritonStartError(
            f"nvidia-pytriton has no python-backend stub for Python {version[0]}.{version[1]} "
            f"(it ships {', '.join(shipped) or 'none'}); run Triton from a virtualenv of one of those"
        )
    return stub


def prepare_backends(target: Path) -> Path:
    """A backend directory with the python backend and the stub for this Python."""
    source = pytriton_dir()
    stub = backend_stub()
    shutil.copytree(source / "backends", target, dirs_exist_ok=True)
    shutil.copy2(stub, target / "python" / "triton_python_backend_stub")
    return target


def site_dirs() -> list[str]:
    """Where the Triton python backend finds this environment's packages: its site-packages and
    the directories that hold ``rewardgate`` and ``rewardgate_client`` (a source checkout, an
    editable or a regular install alike)."""
    import rewardgate_client

    import rewardgate

    holders = [Path(module.__file__).resolve().parents[1] for module in (rewardgate, rewardgate_client)]
    return list(dict.fromkeys([*site.getsitepackages(), *map(str, holders)]))


class LocalTritonServer:
    """``start()`` / ``wait_ready()`` / ``stop()``; ``kill()`` simulates a crash.

    A port given as 0 is a free one, chosen now. Triton's log goes to
    ``log_path`` (default: a file in the server's temporary directory, removed
    by ``cleanup()``)."""

    def __init__(
        self,
        repository: Path,
        *,
        log_path: Path | None = None,
        http_port: int = 0,
        grpc_port: int = 0,
        metrics_port: int = 0,
    ) -> None:
        self.repository = Path(repository)
        if not self.repository.is_dir():
            raise TritonStartError(f"model repository {self.repository} is not a directory")
        free = iter(free_ports(3))
        self.http_port, self.grpc_port, self.metrics_port = (
            port or next(free) for port in (http_port, grpc_port, metrics_port)
        )
        self.process: subprocess.Popen | None = None
        self._workdir = Path(tempfile.mkdtemp(prefix="triton-"))
        self._backends = prepare_backends(self._workdir / "backends")
        self.log_path = Path(log_path) if log_path else self._workdir / "triton.log"
        self._log_start = 0

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> LocalTritonServer:
        """Start tritonserver (returns at once; :meth:`wait_ready` waits).

        Raises:
            TritonStartError: this environment's numpy is one the stub cannot use.
        """
        problem = installed_numpy_problem()
        if problem is not None:
            raise TritonStartError(problem)
        binary = pytriton_dir() / "bin" / "tritonserver"
        env = dict(os.environ)
        env["REWARDGATE_SITE_DIRS"] = os.pathsep.join(site_dirs())
        # The copied stub's relative RPATH no longer reaches the wheel's bundled
        # CUDA runtime; point the loader at it.
        libs = [str(pytriton_dir().parents[1] / "nvidia_pytriton.libs"), env.get("LD_LIBRARY_PATH", "")]
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libs if p)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child holds it; closed below
        self._log_start = log.tell()  # this start's part of a log kept across restarts
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
        log.close()
        return self

    def wait_ready(self, timeout_s: float = 180) -> LocalTritonServer:
        """Wait until Triton says it is ready.

        Raises:
            TritonStartError: Triton exited, or was not ready within ``timeout_s``; the
                message holds the causes from its log.
        """
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                status = self.process.returncode if self.process else None
                raise TritonStartError(self.describe_failure(f"tritonserver exited (status {status})"))
            try:
                if httpx.get(self.http_url + "/v2/health/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TritonStartError(self.describe_failure(f"tritonserver not ready after {timeout_s:g} s"))

    def describe_failure(self, what: str) -> str:
        """``what``, then the causes Triton logged (or the end of its log when it named none)."""
        log = ""
        if self.log_path.exists():
            with self.log_path.open("rb") as handle:
                handle.seek(self._log_start)
                log = handle.read().decode(errors="replace")
        causes = failure_causes(log) or [line for line in log.splitlines()[-5:] if line.strip()]
        return "\n  ".join([f"{what}:", *causes]) if causes else f"{what} (its log is empty)"

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""

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
        shutil.rmtree(self._workdir, ignore_errors=True)
