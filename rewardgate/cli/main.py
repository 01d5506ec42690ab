"""``rewardgate serve``, ``rewardgate sandbox-serve``, ``rewardgate score`` and the other commands."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rewardgate.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rewardgate", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--config", type=Path, help="pipeline YAML (default: the shipped one)")
    serve.add_argument("--host", help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="HTTP port (default 8000)")

    sandbox = commands.add_parser(
        "sandbox-serve", help="run the code sandbox service (runs code for gateways; docs/deploy.md)"
    )
    sandbox.add_argument("--host", help="bind address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=int, help="HTTP port (default 8100)")
    sandbox.add_argument("--workers", type=int, help="runs at a time (default: CPUs)")

    score = commands.add_parser("score", help="score a JSONL file against a running service")
    score.add_argument("input", type=Path, help="JSONL: one item per line")
    score.add_argument("-o", "--output", type=Path, required=True, help="JSONL results")
    score.add_argument(
        "--url", default="http://127.0.0.1:8000", help="service URL: http://HOST:PORT or grpc://HOST:PORT"
    )
    score.add_argument("--pipeline", required=True)
    score.add_argument("--batch-size", type=int, default=64, help="items per request")
    score.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    score.add_argument("--timeout-s", type=float, default=120.0, help="deadline per chunk, retries included")
    score.add_argument(
        "--resume", action="store_true", help="skip ids already in the output file and append the rest"
    )

    evaluate = commands.add_parser(
        "eval", help="accuracy of a pipeline on preference pairs or best-of-N sets (JSONL)"
    )
    evaluate.add_argument("input", type=Path, help="JSONL of pairs or best-of-N sets (docs/monitoring.md)")
    evaluate.add_argument("--pipeline", required=True)
    evaluate.add_argument("--out", type=Path, required=True, help="report directory")
    evaluate.add_argument("--url", help="a running service (http:// or grpc://); default: score in-process")
    evaluate.add_argument(
        "--config", type=Path, help="pipeline YAML for in-process scoring (default: shipped)"
    )
    evaluate.add_argument("--mode", choices=["auto", "pairs", "best-of-n"], default="auto")
    evaluate.add_argument("--batch-size", type=int, default=64, help="items per request")
    evaluate.add_argument("--concurrency", type=int, default=4, help="requests in flight")
    evaluate.add_argument("--timeout-s", type=float, default=120.0, help="deadline per request")
    evaluate.add_argument("--resume", action="store_true", help="keep results.jsonl and score only the rest")

    repo = commands.add_parser("triton-repo", help="write a Triton model repository for a reward model")
    repo.add_argument("--model", type=Path, required=True, help="Hugging Face model directory")
    repo.add_argument("--name", required=True, help="model name in Triton")
    repo.add_argument("--out", type=Path, required=True, help="repository directory")
    repo.add_argument("--max-batch-size", type=int, default=64)
    repo.add_argument(
        "--dynamic-batching",
        action="store_true",
        help="put Triton's own batcher and queue policy in front (for direct callers besides the gateway)",
    )
    repo.add_argument("--max-queue-delay-us", type=int, default=2000, help="with --dynamic-batching")
    repo.add_argument(
        "--max-queue-size",
        type=int,
        default=256,
        help="with --dynamic-batching: queued requests before UNAVAILABLE",
    )
    repo.add_argument("--queue-timeout-ms", type=int, default=30_000, help="with --dynamic-batching")
    repo.add_argument("--instances", type=int, default=1)
    repo.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    repo.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto")
    repo.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")

    key = commands.add_parser("api-key", help="make a new API key and print the line that configures it")
    key.add_argument("name", help="the key's name (shown in logs and metrics instead of the key)")
    key.add_argument("--items-per-s", type=float, help="optional quota: items per second")
    key.add_argument("--burst", type=float, help="optional quota: largest burst of items")

    local = commands.add_parser("triton-serve", help="run the Triton server from nvidia-pytriton locally")
    local.add_argument("--repo", type=Path, required=True, help="model repository")

    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "api-key":
        return _api_key(args)
    if args.command == "sandbox-serve":
        return _sandbox_serve(args)
    if args.command in ("triton-repo", "triton-serve"):
        from rewardgate.cli.triton import run_triton_command

        return run_triton_command(args)
    if args.command == "eval":
        from rewardgate.cli.eval import run_eval

        return run_eval(args)
    from rewardgate.cli.score import run_score

    return run_score(args)


def _api_key(args: argparse.Namespace) -> int:
    from rewardgate.auth.keys import digest, new_key

    key = new_key()
    quota = " ".join(f"{value:g}" for value in (args.items_per_s, args.burst) if value is not None)
    print(f"key (give it to the caller; it is not stored anywhere): {key}")
    print("line for REWARDGATE_API_KEYS or the api_keys_file:")
    print(f"{args.name} {digest(key)} {quota}".rstrip())
    return 0


def _sandbox_serve(args: argparse.Namespace) -> int:
    from rewardgate.observability.logging import configure_logging
    from rewardgate.sandbox_service.server import serve
    from rewardgate.sandbox_service.settings import SandboxServiceSettings

    given = {"host": args.host, "port": args.port, "workers": args.workers}
    settings = SandboxServiceSettings(**{key: value for key, value in given.items() if value is not None})
    configure_logging(settings.log_level)
    serve(settings)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from rewardgate.api.http.app import create_app
    from rewardgate.config.settings import Settings
    from rewardgate.observability.logging import configure_logging
    from rewardgate.server import serve

    overrides = {
        key: value
        for key, value in {"config_path": args.config, "host": args.host, "port": args.port}.items()
        if value is not None
    }
    settings = Settings(**overrides)
    configure_logging(settings.log_level)
    try:
        app = create_app(settings)
    except ConfigError as exc:
        print(f"rewardgate: {exc.message}", file=sys.stderr)
        return 2
    serve(app, settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
