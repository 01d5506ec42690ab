"""``rewardgate``: the command line (commands and options in rewardgate/cli/parser.py).

Every failure a command can meet is one line on stderr and an exit status
(rewardgate/cli/errors.py): bad input, bad settings, a broken pipeline file, a
busy port, Ctrl-C. An unexpected exception is one line too; its traceback is
logged only with ``REWARDGATE_LOG_LEVEL=debug``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from rewardgate.cli.errors import CliError
from rewardgate.cli.parser import build_parser
from rewardgate.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    command = f"rewardgate {args.command}"
    try:
        return run(args)
    except CliError as exc:
        return _fail(command, exc.message, exc.exit_code)
    except ConfigError as exc:
        return _fail(command, exc.message, 2)
    except KeyboardInterrupt:
        return _fail(command, "interrupted", 130)
    except Exception as exc:
        if os.environ.get("REWARDGATE_LOG_LEVEL", "").lower() == "debug":
            logging.getLogger("rewardgate.cli").exception("unexpected error")
        return _fail(command, f"unexpected error: {type(exc).__name__}: {exc}", 1)


def _fail(command: str, message: str, exit_code: int) -> int:
    print(f"{command}: {message}", file=sys.stderr)
    return exit_code


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; returns its exit status."""
    if args.command == "serve":
        from rewardgate.cli.serve import run_serve

        return run_serve(args)
    if args.command == "api-key":
        return _api_key(args)
    if args.command == "sandbox-serve":
        return _sandbox_serve(args)
    if args.command == "random-model":
        from rewardgate.cli.random_model import run_random_model

        return run_random_model(args)
    if args.command in ("triton-repo", "triton-serve"):
        from rewardgate.cli.triton import run_triton_command

        return run_triton_command(args)
    if args.command == "eval":
        from rewardgate.cli.eval import run_eval

        return run_eval(args)
    if args.command == "audit":
        from rewardgate.cli.audit import run_audit

        return run_audit(args)
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


if __name__ == "__main__":
    sys.exit(main())
