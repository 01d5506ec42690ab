"""``rewardgate serve``: everything that can be wrong is found before anything starts.

In order, each a one-line error (exit 2) or a WARNING, before the heavy
imports (torch, transformers, grpc) and before the verifier pool or any model
starts:

1. settings from the environment and options (a bad value names its variable);
2. the pipeline file, every problem in one pass (rewardgate/config/pipeline_file.py);
3. ``REWARDGATE_*`` variables nothing reads: a WARNING each, with a did-you-mean;
4. the HTTP and gRPC ports: taken ones are named with the setting that moves them.
"""

from __future__ import annotations

import argparse
import errno
import logging
import socket

from rewardgate.cli.errors import CliError
from rewardgate.config.environment import load_settings, unknown_variables
from rewardgate.config.pipeline_file import PipelineConfig, load_config
from rewardgate.config.settings import Settings

log = logging.getLogger("rewardgate.serve")

OPTIONS = {"config_path": "--config", "host": "--host", "port": "--port", "grpc_port": "--grpc-port"}


def run_serve(args: argparse.Namespace) -> int:
    overrides = {
        "config_path": args.config,
        "host": args.host,
        "port": args.port,
        "grpc_port": args.grpc_port,
    }
    settings = load_settings({k: v for k, v in overrides.items() if v is not None}, OPTIONS)
    from rewardgate.observability.logging import configure_logging

    configure_logging(settings.log_level)
    config = load_config(settings.config_path)
    warn_about_environment(config)
    check_ports_free(settings)
    log.info("pipeline file %s: %d pipelines; starting", settings.config_path, len(config.pipelines))
    from rewardgate.api.http.app import create_app
    from rewardgate.server import serve

    serve(create_app(settings, config), settings)
    return 0


def warn_about_environment(config: PipelineConfig) -> None:
    """A WARNING per ``REWARDGATE_*`` variable that nothing reads (judges' key variables count as read)."""
    judge_keys = {judge.api_key_env for judge in config.judges.values() if judge.api_key_env}
    for message in unknown_variables(also_known=judge_keys):
        log.warning(message)


def check_ports_free(settings: Settings) -> None:
    """Bind and release each configured port, so a taken one stops start-up before anything runs.

    Raises:
        CliError: naming the port, why it cannot be bound, and the setting that moves it.
    """
    wanted = [("HTTP", settings.port, "--port or REWARDGATE_PORT")]
    if settings.grpc_port:
        wanted.append(("gRPC", settings.grpc_port, "--grpc-port or REWARDGATE_GRPC_PORT (0 turns gRPC off)"))
    for transport, port, setting in wanted:
        if port == 0:
            continue  # any free port
        problem = bind_problem(settings.host, port)
        if problem:
            raise CliError(
                f"cannot listen for {transport} on {settings.host}:{port}: {problem}; choose another port "
                f"with {setting}"
            )


def bind_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be bound for listening now, or None.

    Binds as the servers do (SO_REUSEADDR: a port held only by closing connections is free;
    one a socket listens on is not). It does not listen itself, so no client retrying to
    connect meanwhile can reach this probe.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        return f"unknown host ({exc.strerror})"
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            in_use = exc.errno == errno.EADDRINUSE
            return "the port is already in use" if in_use else (exc.strerror or str(exc))
    return None
