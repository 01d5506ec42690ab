"""`pip install ./clients` works on its own in a clean virtualenv, with no server dependencies."""

import subprocess
import sys
import venv

from tests.support.server import REPO_ROOT

CHECK = """
import importlib.util, sys
from rewardgate_client import RewardClient
for heavy in ("fastapi", "torch", "transformers", "rewardgate"):
    assert importlib.util.find_spec(heavy) is None, heavy + " is installed in the client venv"
http_url, grpc_target = sys.argv[1], sys.argv[2]
for url in (http_url, "grpc://" + grpc_target):
    with RewardClient(url) as client:
        (result,) = client.score([{"response": "\\\\boxed{2}", "reference": "2"}], pipeline="math")
        assert result.reward == 1.0, result
print("client ok")
"""


def test_client_installs_alone_and_talks_to_the_service(tmp_path, service):
    env_dir = tmp_path / "client-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(REPO_ROOT / "clients"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    run = subprocess.run(
        [str(python), "-c", CHECK, service.url, service.grpc_target],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: nothing importable from the checkout
    )
    assert run.returncode == 0 and "client ok" in run.stdout, run.stderr[-3000:]
    assert sys.prefix != str(env_dir)
