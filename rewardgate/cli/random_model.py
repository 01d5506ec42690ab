"""``rewardgate random-model``: a small random-weight reward model, written without any download."""

from __future__ import annotations

import argparse
import sys

from rewardgate.cli.errors import CliError


def run_random_model(args: argparse.Namespace) -> int:
    from rewardgate.sources.model.random_weights import TokenizerNotFound, build_reward_model

    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        raise CliError(f"{args.out} exists and is not empty; choose a new directory")
    if getattr(args, "kind", "reward_model") == "vision_reward_model":
        from rewardgate.sources.model.random_vision import build_vision_reward_model

        path = build_vision_reward_model(args.out, num_labels=args.heads, seed=args.seed)
        print(
            f"wrote a random-weight vision-language reward model ({args.heads} head(s)) to {path}\n"
            "use it in a pipeline file:  models: "
            f"{{my_vlm: {{kind: vision_reward_model, path: {path.resolve()}}}}}",
            file=sys.stderr,
        )
        return 0
    try:
        path = build_reward_model(
            args.out,
            num_labels=args.heads,
            seed=args.seed,
            hidden_size=args.hidden_size,
            layers=args.layers,
            tokenizer_dir=args.tokenizer,
        )
    except (TokenizerNotFound, ValueError) as exc:
        raise CliError(str(exc)) from None
    print(
        f"wrote a random-weight reward model ({args.heads} head(s), {args.layers} layers, hidden size "
        f"{args.hidden_size}) to {path}\n"
        f"use it in a pipeline file:  models: {{my_rm: {{kind: reward_model, path: {path.resolve()}}}}}",
        file=sys.stderr,
    )
    return 0
