"""The command line: every command, its options and their help (``rewardgate --help``)."""

from __future__ import annotations

import argparse
from pathlib import Path

DESCRIPTION = """\
rewardgate: rewards for RL post-training, served from reward models, verifiable rules and
LLM judges combined by declared pipelines.

commands:
  serve         run the service (HTTP and gRPC) on a pipeline file
  sandbox-serve run the code sandbox as its own service, for gateways (docs/deploy.md)
  score         score a JSONL file of items against a running service
  eval          a pipeline's accuracy on preference pairs or best-of-N sets
  audit         how a policy could hack a pipeline; robustness, bias, comparison with another
  api-key       make an API key and the line that configures it
  random-model  write a small random-weight reward model or causal LM (no download), to try model pipelines
  triton-repo   write a Triton model repository for a reward, VLM reward or likelihood model
  triton-serve  run the Triton server shipped in nvidia-pytriton on a repository

Settings come from REWARDGATE_* environment variables (docs/configuration.md).
"""


def port_number(text: str) -> int:
    """A TCP port (0-65535) from the command line."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0-65535")
    return port


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def multiple_of_8(text: str) -> int:
    value = positive_int(text)
    if value % 8:
        raise argparse.ArgumentTypeError(f"must be a multiple of 8 (4 attention heads, even), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewardgate", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _serve(commands)
    _sandbox_serve(commands)
    _score(commands)
    _eval(commands)
    _audit(commands)
    _api_key(commands)
    _random_model(commands)
    _triton_repo(commands)
    _triton_serve(commands)
    return parser


def _serve(commands) -> None:
    serve = commands.add_parser("serve", help="run the service (HTTP and gRPC)")
    serve.add_argument("--config", type=Path, help="pipeline YAML (default: the shipped one)")
    serve.add_argument("--host", help="bind address (default 127.0.0.1; REWARDGATE_HOST)")
    serve.add_argument("--port", type=port_number, help="HTTP port (default 8000; REWARDGATE_PORT)")
    serve.add_argument(
        "--grpc-port", type=port_number, help="gRPC port (default 50051, 0 = no gRPC; REWARDGATE_GRPC_PORT)"
    )


def _sandbox_serve(commands) -> None:
    sandbox = commands.add_parser(
        "sandbox-serve", help="run the code sandbox service (runs code for gateways; docs/deploy.md)"
    )
    sandbox.add_argument("--host", help="bind address (default 127.0.0.1)")
    sandbox.add_argument("--port", type=port_number, help="HTTP port (default 8100)")
    sandbox.add_argument("--workers", type=int, help="runs at a time (default: CPUs)")


def _score(commands) -> None:
    score = commands.add_parser("score", help="score a JSONL file against a running service")
    score.add_argument("input", type=Path, help="JSONL: one item per line (examples/items.jsonl)")
    score.add_argument("-o", "--output", type=Path, required=True, help="JSONL results, one per input line")
    score.add_argument(
        "--url", default="http://127.0.0.1:8000", help="service URL: http://HOST:PORT or grpc://HOST:PORT"
    )
    score.add_argument("--pipeline", required=True)
    score.add_argument("--batch-size", type=positive_int, default=64, help="items per request")
    score.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight")
    score.add_argument("--timeout-s", type=float, default=120.0, help="deadline per chunk, retries included")
    score.add_argument(
        "--resume",
        action="store_true",
        help="keep the output lines that have a reward and score every other item (failed ones again)",
    )


def _eval(commands) -> None:
    eval_command = commands.add_parser(
        "eval", help="accuracy of a pipeline on preference pairs or best-of-N sets (JSONL)"
    )
    eval_command.add_argument(
        "input", type=Path, help="JSONL of pairs or best-of-N sets (docs/monitoring.md)"
    )
    eval_command.add_argument("--pipeline", required=True)
    eval_command.add_argument("--out", type=Path, required=True, help="report directory")
    eval_command.add_argument(
        "--url", help="a running service (http:// or grpc://); default: score in-process"
    )
    eval_command.add_argument(
        "--config", type=Path, help="pipeline YAML for in-process scoring (default: shipped)"
    )
    eval_command.add_argument("--mode", choices=["auto", "pairs", "best-of-n"], default="auto")
    eval_command.add_argument("--batch-size", type=positive_int, default=64, help="items per request")
    eval_command.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight")
    eval_command.add_argument("--timeout-s", type=float, default=120.0, help="deadline per request")
    eval_command.add_argument(
        "--resume", action="store_true", help="keep the scored records of results.jsonl and score the rest"
    )


def _audit(commands) -> None:
    audit = commands.add_parser(
        "audit",
        help="hackability probes, robustness and bias of a pipeline; --against compares two (docs/audit.md)",
    )
    audit.add_argument("--pipeline", required=True)
    audit.add_argument("--against", help="a second pipeline to compare on the same responses")
    audit.add_argument(
        "--data",
        type=Path,
        help="JSONL: prompt, right, wrong[, reference] per line (default: shipped samples)",
    )
    audit.add_argument("--out", type=Path, required=True, help="report directory")
    audit.add_argument(
        "--probes",
        type=Path,
        action="append",
        help="a Python file registering probe families (rewardgate.audit.probes.register); repeatable",
    )
    audit.add_argument("--url", help="a running service (http:// or grpc://); default: score in-process")
    audit.add_argument("--config", type=Path, help="pipeline YAML for in-process scoring (default: shipped)")
    audit.add_argument("--batch-size", type=positive_int, default=64, help="responses per request")
    audit.add_argument("--concurrency", type=positive_int, default=4, help="requests in flight")
    audit.add_argument("--timeout-s", type=float, default=120.0, help="deadline per request")
    audit.add_argument(
        "--resume", action="store_true", help="keep the rewards of OUT/scores.jsonl and score the rest"
    )


def _api_key(commands) -> None:
    key = commands.add_parser("api-key", help="make a new API key and print the line that configures it")
    key.add_argument("name", help="the key's name (shown in logs and metrics instead of the key)")
    key.add_argument("--items-per-s", type=float, help="optional quota: items per second")
    key.add_argument("--burst", type=float, help="optional quota: largest burst of items")


def _random_model(commands) -> None:
    model = commands.add_parser(
        "random-model",
        help="write a small random-weight reward model or causal LM from a local tokenizer (no download)",
        description="Write a Llama sequence classifier (kind: reward_model), causal LM (kind: likelihood) "
        "or tiny vision-language reward model (kind: vision_reward_model) "
        "with random weights, loadable as a pipeline's model. Its scores mean nothing: it is for trying "
        "the serving path, batching and deployment offline. "
        "docs/configuration.md#getting-a-reward-model-offline",
    )
    model.add_argument("--out", type=Path, required=True, help="directory to write (created)")
    model.add_argument(
        "--tokenizer",
        type=Path,
        help="a local tokenizer directory (e.g. your real model's); default: a tiny BPE trained here",
    )
    model.add_argument(
        "--kind",
        choices=["reward_model", "causal_lm", "vision_reward_model"],
        default="reward_model",
        help="reward_model: a sequence classifier (kind: reward_model); causal_lm: a language model "
        "(kind: likelihood); vision_reward_model: a tiny LLaVA with a reward head (images in the "
        "prompt; --tokenizer, --layers and --hidden-size do not apply)",
    )
    model.add_argument("--heads", type=positive_int, default=1, help="output heads (num_labels)")
    model.add_argument("--hidden-size", type=multiple_of_8, default=32, help="a multiple of 8")
    model.add_argument("--layers", type=positive_int, default=2)
    model.add_argument("--seed", type=int, default=0)


def _triton_repo(commands) -> None:
    repo = commands.add_parser(
        "triton-repo",
        help="write a Triton model repository for a reward model, VLM reward model or likelihood model",
    )
    repo.add_argument("--model", type=Path, required=True, help="Hugging Face model directory")
    repo.add_argument("--name", required=True, help="model name in Triton")
    repo.add_argument(
        "--kind",
        choices=["reward_model", "likelihood", "vision_reward_model"],
        default="reward_model",
        help="reward_model: a sequence classifier; likelihood: a causal LM (kind: likelihood); "
        "vision_reward_model: a VLM reward model (processor, backbone, reward_head.safetensors)",
    )
    repo.add_argument(
        "--reference-model",
        type=Path,
        help="--kind likelihood: the reference model of a pair (likelihood.reference_model)",
    )
    repo.add_argument("--out", type=Path, required=True, help="repository directory")
    repo.add_argument("--max-batch-size", type=positive_int, default=64)
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
    repo.add_argument("--instances", type=positive_int, default=1)
    repo.add_argument("--device", choices=["auto", "cpu", "gpu"], default="auto")
    repo.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto")
    repo.add_argument("--torch-threads", type=int, default=0, help="0 = torch default")


def _triton_serve(commands) -> None:
    local = commands.add_parser("triton-serve", help="run the Triton server from nvidia-pytriton locally")
    local.add_argument("--repo", type=Path, required=True, help="model repository (rewardgate triton-repo)")
    local.add_argument("--grpc-port", type=port_number, default=0, help="gRPC port (0 = a free one)")
    local.add_argument("--http-port", type=port_number, default=0, help="HTTP port (0 = a free one)")
    local.add_argument("--metrics-port", type=port_number, default=0, help="metrics port (0 = a free one)")
    local.add_argument("--log", type=Path, help="Triton's log file (default: a temporary file)")
