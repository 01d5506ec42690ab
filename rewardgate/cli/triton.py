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
        kind = getattr(args, "kind", "reward_model")
        likelihood = kind == "likelihood"
        reference = getattr(args, "reference_model", None)
        if reference is not None and not likelihood:
            raise CliError("--reference-model applies to --kind likelihood only")
        if reference is not None and (problem := model_directory_problem(reference)):
            raise CliError(f"--reference-model: {problem}")

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
        if likelihood:
            from rewardgate.sources.likelihood import triton_repository

            model_dir = triton_repository.write_repository(
                args.model, args.name, args.out, settings, reference_path=reference
            )
        elif kind == "vision_reward_model":
            from rewardgate.sources.model.triton import vision_repository

            model_dir = vision_repository.write_repository(args.model, args.name, args.out, settings)
        else:
            model_dir = write_repository(args.model, args.name, args.out, settings)
        print(f"wrote {model_dir}", file=sys.stderr)
        return 0
    return _serve_locally(args)


def _serve_locally(args: argparse.Namespace) -> int:
    """Run Triton on ``--repo`` until Ctrl-C; a failed start is a CliError with Triton's causes."""
    from rewardgate.sources.model.triton.local_server import LocalTritonServer, TritonStartError

    try:
        server = LocalTritonServer(
            args.repo,
            log_path=args.log,
            http_port=args.http_port,
            grpc_port=args.grpc_port,
            metrics_port=args.metrics_port,
        )
    except TritonStartError as exc:
        raise CliError(str(exc)) from None
    try:
        server.start().wait_ready()
        print(
            f"triton ready: grpc {server.grpc_url}, http {server.http_url}, "
            f"metrics :{server.metrics_port}, log {server.log_path} (Ctrl-C stops)",
            file=sys.stderr,
        )
        stop = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # delivered to sigwait, not to a handler
        signal.sigwait(stop)
    except TritonStartError as exc:
        raise CliError(str(exc), exit_code=1) from None
    finally:
        server.cleanup()
    return 0
