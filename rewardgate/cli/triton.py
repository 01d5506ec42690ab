"""``rewardgate triton-repo`` and ``rewardgate triton-serve``."""

from __future__ import annotations

import argparse
import signal
import sys

from rewardgate.cli.errors import CliError


def run_triton_command(args: argparse.Namespace) -> int:
    if args.command == "triton-repo":
        from rewardgate.config.problems import model_directory_problem
        from rewardgate.sources.model.triton.repository import TritonModelSettings, write_repository

        problem = model_directory_problem(args.model)
        if problem:
            raise CliError(f"--model: {problem}")

        settings = TritonModelSettings(
            max_batch_size=args.max_batch_size,
            dynamic_batching=args.dynamic_batching,
            max_queue_delay_us=args.max_queue_delay_us,
            max_queue_size=args.max_queue_size,
            queue_timeout_us=args.queue_timeout_ms * 1000,
            instances=args.instances,
            device=args.device,
            dtype=args.dtype,
            torch_threads=args.torch_threads,
        )
        model_dir = write_repository(args.model, args.name, args.out, settings)
        print(f"wrote {model_dir}", file=sys.stderr)
        return 0
    return _serve_locally(args)


def _serve_locally(args: argparse.Namespace) -> int:
    from rewardgate.sources.model.triton.local_server import LocalTritonServer

    server = LocalTritonServer(args.repo).start()
    try:
        server.wait_ready()
        print(
            f"triton ready: grpc {server.grpc_url}, http {server.http_url}, "
            f"metrics :{server.metrics_port} (Ctrl-C stops)",
            file=sys.stderr,
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        server.cleanup()
    return 0
