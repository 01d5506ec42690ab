"""The Makefile's commands take what the docs say they take (dry runs: nothing is executed)."""

import os
import subprocess

import pytest

from tests.support.server import REPO_ROOT


def dry_run(*args: str) -> str:
    # Under `make test` these runs are sub-makes: MAKELEVEL/MAKEFLAGS from the parent would make
    # them print "Entering/Leaving directory" lines around the commands, so they start clean.
    env = {k: v for k, v in os.environ.items() if k not in {"MAKELEVEL", "MAKEFLAGS", "MFLAGS"}}
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ((), ".venv/bin/rewardgate serve"),
        (("PORT=9001", "GRPC_PORT=9002"), ".venv/bin/rewardgate serve --port 9001 --grpc-port 9002"),
    ],
)
def test_make_serve_takes_its_ports(variables, expected):
    assert dry_run("serve", *variables).splitlines()[-1].rstrip() == expected


def test_make_loadtest_takes_a_grpc_host():
    command = dry_run("loadtest", "HOST=http://rg:8000", "GRPC_HOST=rg-grpc:50051", "SCENARIO=GrpcUnaryUser")
    assert "--host http://rg:8000" in command and "--grpc-host rg-grpc:50051" in command


def test_the_first_setup_says_what_it_is_doing():
    """A fresh clone's first `make serve` installs for minutes: it must say so before it starts."""
    command = dry_run("serve", "-W", "pyproject.toml")  # as if pyproject.toml were newer than the venv
    assert "rewardgate: setting up .venv" in command and "a few minutes the first time" in command
    assert "--quiet" not in command  # pip's own progress lines stay visible
    assert '--upgrade "pip>=23.3"' in command  # an older pip warns about (and skips) extras
