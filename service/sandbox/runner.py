"""Runs a solution against tests in the sandbox and reports a verdict.

Enforced (see launcher.py): as root — no network (own network namespace), a
private tmpfs as the only writable place, a per-sandbox unprivileged uid
(RLIMIT_NPROC binds, other processes cannot be signalled); always — limits on
CPU time, address space, file size (which caps output) and processes; a
wall-clock timeout after which the process group and every process of the
sandbox uid are killed (catching children that left the group with setsid).
Without root only the limits and the wall clock apply; ``protections`` says
which applied.

The code under test runs in the harness's interpreter, so a response written
to forge the harness's result records could fake passes: the sandbox contains
damage, it does not make the verdict tamper-proof.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from service.errors import ComponentError

LAUNCHER = Path(__file__).with_name("launcher.py")
_BASE_UID = 61_000


class SandboxError(ComponentError):
    """The sandbox itself failed (set-up, launcher crash): not the code's fault."""

    error_type = "sandbox_error"


@dataclass(frozen=True)
class SandboxLimits:
    timeout_s: float = 10.0
    memory_mb: int = 512
    output_kb: int = 64
    processes: int = 32


@dataclass(frozen=True)
class SandboxResult:
    """``verdict``: ok, timeout, cpu_limit, output_limit, crashed."""

    verdict: str
    passed: int
    total: int
    protections: str
    stderr_tail: str

    @property
    def pass_fraction(self) -> float:
        return self.passed / self.total if self.total else 0.0


def sandbox_uid() -> int:
    """Unique per concurrently running sandbox: one sandbox per verifier process at a time."""
    return _BASE_UID + os.getpid() % 3000


def run_tests(solution: str, tests: str, limits: SandboxLimits) -> SandboxResult:
    """Run ``solution`` then ``tests`` (asserts or unittest) under ``limits``.

    Raises:
        SandboxError: the sandbox could not be set up or produced no record.
    """
    uid = sandbox_uid()
    python = getattr(sys, "_base_executable", sys.executable)
    with tempfile.TemporaryDirectory(prefix="rewardgate-sandbox-") as tmp:
        results = open(Path(tmp) / "results", "w+b")  # noqa: SIM115 - closed below
        stdout, stderr = open(Path(tmp) / "stdout", "w+b"), open(Path(tmp) / "stderr", "w+b")  # noqa: SIM115
        spec = {
            "uid": uid,
            "solution": solution,
            "tests": tests,
            "result_fd": results.fileno(),
            "cpu_s": max(1, int(limits.timeout_s) + 1),
            "memory_mb": limits.memory_mb,
            "file_kb": limits.output_kb,
            "processes": limits.processes,
        }
        try:
            process = subprocess.Popen(
                [python, "-I", "-S", str(LAUNCHER)],
                stdin=subprocess.PIPE,
                stdout=stdout,
                stderr=stderr,
                pass_fds=(results.fileno(),),
                start_new_session=True,
                cwd=tmp,
                env={"PATH": "/usr/bin:/bin", "SANDBOX_WORKDIR": str(Path(tmp) / "work")},
            )
            timed_out = _run(process, json.dumps(spec).encode(), limits.timeout_s)
            _kill_everything(process, uid)
            return _verdict(process.returncode, timed_out, _read(results), _tail(stderr))
        finally:
            for handle in (results, stdout, stderr):
                handle.close()


def _run(process: subprocess.Popen, spec: bytes, timeout_s: float) -> bool:
    try:
        process.communicate(spec, timeout=timeout_s)
        return False
    except subprocess.TimeoutExpired:
        return True


def _kill_everything(process: subprocess.Popen, uid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    if os.geteuid() == 0:
        # As the sandbox uid, kill(-1) reaches every process of that uid, even
        # ones that left the process group with setsid(). Repeated because a
        # fork bomb can fork while a sweep runs.
        for _ in range(20):
            subprocess.run(
                ["kill", "-9", "-1"],
                user=uid,
                check=False,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            if not live_processes(uid):
                break
            time.sleep(0.05)
    process.wait()


def live_processes(uid: int) -> list[int]:
    """Pids of the processes of ``uid`` that are not zombies."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        if fields.get("Uid", "").split("\t")[0] == str(uid) and not fields.get("State", "").startswith("Z"):
            found.append(int(status.parent.name))
    return found


def _read(results) -> list[dict]:
    results.seek(0)
    records = []
    for line in results.read().decode(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:
            break  # a truncated last record
    return records


def _tail(handle) -> str:
    handle.seek(0)
    return handle.read().decode(errors="replace")[-2000:]


def _verdict(returncode: int, timed_out: bool, records: list[dict], stderr: str) -> SandboxResult:
    protections = next(
        (line.split(": ", 1)[1] for line in stderr.splitlines() if line.startswith("protections: ")), ""
    )
    totals = [r["total"] for r in records if "total" in r]
    if not protections or (not totals and not timed_out and returncode not in _SIGNALS):
        raise SandboxError(f"the sandbox failed (exit {returncode}): {stderr[-500:]}")
    passed = sum(1 for r in records if r.get("passed") is True)
    if timed_out:
        verdict = "timeout"
    elif any(r.get("done") for r in records):
        verdict = "ok"
    else:
        verdict = _SIGNALS.get(returncode, "crashed")
    return SandboxResult(verdict, passed, totals[0] if totals else 0, protections, stderr)


_SIGNALS = {-signal.SIGXCPU: "cpu_limit", -signal.SIGXFSZ: "output_limit", -signal.SIGKILL: "crashed"}
