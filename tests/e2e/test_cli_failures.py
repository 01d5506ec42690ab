"""Every way a command can fail is one line on stderr and an exit status, never a traceback:
bad input files, bad settings, busy ports, missing models, Ctrl-C."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from tests.support.server import REPO_ROOT

pytestmark = pytest.mark.slow


def rewardgate(*args, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rewardgate", *map(str, args)],
        cwd=REPO_ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def only_line(result: subprocess.CompletedProcess) -> str:
    """The one line the command printed (the assertion names everything else it printed)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def score(tmp_path, text: str, *options, env=None) -> subprocess.CompletedProcess:
    source = tmp_path / "in.jsonl"
    source.write_text(text)
    return rewardgate("score", source, "-o", tmp_path / "out.jsonl", "--pipeline", "math", *options, env=env)


def test_score_of_a_missing_file_says_so(tmp_path):
    result = rewardgate(
        "score", tmp_path / "absent.jsonl", "-o", tmp_path / "out.jsonl", "--pipeline", "math"
    )
    assert result.returncode == 2
    assert (
        only_line(result)
        == f"rewardgate score: cannot read {tmp_path / 'absent.jsonl'}: No such file or directory"
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '{"response": "a"}\n\n{"response": "b"\n',
            ":3: not valid JSON at column 17: Expecting ',' delimiter",
        ),
        ('{"response": "a"}\n["response"]\n', ":2: expected a JSON object (an item), got list"),
        ('{"id": 7, "response": "a"}\n', ":1: id must be a string, got 7"),
    ],
)
def test_score_names_the_line_that_is_not_an_item(tmp_path, text, problem):
    result = score(tmp_path, text)
    assert result.returncode == 2
    line = only_line(result)
    assert line.startswith(f"rewardgate score: {tmp_path / 'in.jsonl'}{problem}"), line
    assert not (tmp_path / "out.jsonl").exists()  # nothing was sent, no output was started


@pytest.mark.parametrize(
    ("options", "env", "named"),
    [
        ((), {"REWARDGATE_RETRY_ATTEMPTS": "many"}, "REWARDGATE_RETRY_ATTEMPTS='many' is not an integer"),
        (("--url", "localhost:8000"), {}, "url must start with http://, https:// or grpc://"),
    ],
)
def test_score_names_a_bad_client_setting(tmp_path, options, env, named):
    result = score(tmp_path, '{"response": "a"}\n', *options, env=env)
    assert result.returncode == 2
    assert named in only_line(result)


def test_ctrl_c_stops_score_with_one_line_and_keeps_the_output_resumable(tmp_path):
    """A server that accepts and never answers holds the run; SIGINT then ends it."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted = threading.Event()
    connections = []

    def accept() -> None:
        connection, _ = listener.accept()
        connections.append(connection)
        accepted.set()

    threading.Thread(target=accept, daemon=True).start()
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"response": "a"}) + "\n")
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rewardgate",
            "score",
            str(source),
            "-o",
            str(tmp_path / "out.jsonl"),
            "--pipeline",
            "math",
            "--url",
            url,
        ],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert accepted.wait(60), "the command never connected"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
        listener.close()
        for connection in connections:
            connection.close()
    assert process.returncode == 130
    lines = [line for line in stderr.splitlines() if line.startswith("rewardgate")]
    assert lines == [
        f"rewardgate score: interrupted; 0 result lines written to {tmp_path / 'out.jsonl'} "
        "(--resume scores the rest)"
    ]
    assert "Traceback" not in stderr


def test_serve_names_a_bad_environment_value():
    result = rewardgate("serve", env={"REWARDGATE_MAX_INFLIGHT_ITEMS": "lots"})
    assert result.returncode == 2
    assert "REWARDGATE_MAX_INFLIGHT_ITEMS='lots'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("transport", "option", "setting"),
    [("HTTP", "--port", "REWARDGATE_PORT"), ("gRPC", "--grpc-port", "REWARDGATE_GRPC_PORT")],
)
def test_a_busy_port_stops_serve_before_anything_starts(transport, option, setting):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        other = "--grpc-port" if option == "--port" else "--port"
        result = rewardgate("serve", option, port, other, 0, env={"REWARDGATE_REDIS_ULR": "redis://x"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    # Only the misspelled variable's warning came before: no pool, model or server had started.
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert "WARNING" in lines[0] and "did you mean REWARDGATE_REDIS_URL?" in lines[0]
    assert lines[1] == (
        f"rewardgate serve: cannot listen for {transport} on 127.0.0.1:{port}: the port is already in use; "
        f"choose another port with {option} or {setting}"
        + (" (0 turns gRPC off)" if transport == "gRPC" else "")
    )


def test_triton_repo_of_a_missing_model_directory_is_a_config_error(tmp_path):
    result = rewardgate(
        "triton-repo", "--model", tmp_path / "absent", "--name", "rm", "--out", tmp_path / "repo"
    )
    assert result.returncode == 2
    assert only_line(result) == f"rewardgate triton-repo: --model: no such directory: {tmp_path / 'absent'}"


def test_help_lists_every_command():
    """Every command the parser has is in the help's own list (it once missed sandbox-serve)."""
    import argparse

    from rewardgate.cli.parser import build_parser

    (subcommands,) = (a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    commands = list(subcommands.choices)
    assert {"serve", "sandbox-serve", "score", "triton-serve"} <= set(commands)
    result = rewardgate("--help")
    assert result.returncode == 0
    listed = result.stdout.split("commands:", 1)[1].split("Settings come from", 1)[0]
    for command in commands:
        assert f"\n  {command} " in listed, command
        assert rewardgate(command, "--help").returncode == 0
