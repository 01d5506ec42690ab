"""LocalTritonServer's set-up without starting Triton: the stub for this Python (and a clear
error for a Python the wheel has none for), fixed or free ports, where the backend finds the
project's packages, and the causes read from Triton's log when a start fails."""

import sys
from pathlib import Path

import pytest
import rewardgate_client

import rewardgate
from rewardgate.sources.model.triton.local_server import (
    LocalTritonServer,
    TritonStartError,
    backend_stub,
    pytriton_dir,
    site_dirs,
)
from rewardgate.sources.model.triton.triton_log import failure_causes


@pytest.mark.parametrize("version", [(3, 11), (3, 12), (3, 13)])
def test_the_wheel_has_a_stub_for_each_supported_python(version):
    stub = backend_stub(version)
    assert stub.is_file() and stub.parent.name == f"{version[0]}.{version[1]}"


def test_the_stub_follows_the_running_interpreter():
    assert backend_stub().parent.name == f"{sys.version_info[0]}.{sys.version_info[1]}"


def test_a_python_without_a_stub_is_named_with_those_that_have_one(tmp_path):
    for version in ("3.9", "3.11", "3.10"):
        (tmp_path / "python_backend_stubs" / version).mkdir(parents=True)
        (tmp_path / "python_backend_stubs" / version / "triton_python_backend_stub").write_text("")
    with pytest.raises(TritonStartError) as caught:
        backend_stub((3, 14), root=tmp_path)
    assert str(caught.value).startswith(
        "nvidia-pytriton has no python-backend stub for Python 3.14 (it ships 3.9, 3.10, 3.11)"
    )


def test_fixed_ports_are_kept_and_zero_means_a_free_one(tmp_path):
    server = LocalTritonServer(tmp_path, http_port=18000, grpc_port=0, metrics_port=18002)
    try:
        assert (server.http_port, server.metrics_port) == (18000, 18002)
        assert server.grpc_port not in (0, 18000, 18002)
        assert server.grpc_url == f"127.0.0.1:{server.grpc_port}"
    finally:
        server.cleanup()


def test_a_missing_repository_is_refused_before_anything_is_copied(tmp_path):
    with pytest.raises(TritonStartError, match="is not a directory"):
        LocalTritonServer(tmp_path / "absent")


def test_the_backend_finds_the_packages_wherever_they_are_installed():
    dirs = site_dirs()
    for package in (rewardgate, rewardgate_client):
        assert str(Path(package.__file__).resolve().parents[1]) in dirs
    assert pytriton_dir().is_dir()


#: Lines as Triton 2.51 writes them (glog format; newlines inside a message escaped as \n).
LOG = "\n".join(
    [
        'I1204 21:00:35.100000 2505 server.cc:100] "Started"',
        'E1204 21:00:35.272177 2505 server.cc:241] "CudaDriverHelper has not been initialized."',
        "E1204 21:00:35.308547 2505 model_lifecycle.cc:642] \"failed to load 'rm' version 1: Internal: "
        + r'SafeTensorError: invalid header\n\nAt:\n  /srv/model.py(30): initialize\n"',
        "| rm | 1 | UNAVAILABLE: Internal: SafeTensorError: invalid header |",
        "error: creating server: Internal - failed to load all models",
    ]
)


def test_the_causes_of_a_failed_start_are_read_from_the_log():
    assert failure_causes(LOG) == [
        "failed to load 'rm' version 1: Internal: SafeTensorError: invalid header",
        "error: creating server: Internal - failed to load all models",
    ]
