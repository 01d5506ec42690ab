"""``rewardgate random-model``: a small random-weight reward model, written without any download."""

from __future__ import annotations

import argparse
import sys

from rewardgate.cli.errors import CliError


def run_random_model(args: argparse.Namespace) -> int:
    from rewardgate.sources.model.random_weights import TokenizerNotFound, build_causal_lm, build_reward_model

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
    causal = getattr(args, "kind", "reward_model") == "causal_lm"
    if causal and args.heads != 1:
        raise CliError("--heads applies to --kind reward_model only")
    try:
        size = {"seed": args.seed, "hidden_size": args.hidden_size, "layers": args.layers}
        if causal:
            path = build_causal_lm(args.out, tokenizer_dir=args.tokenizer, **size)
        else:
            path = build_reward_model(args.out, num_labels=args.heads, tokenizer_dir=args.tokenizer, **size)
    except (TokenizerNotFound, ValueError) as exc:
        raise CliError(str(exc)) from None
    if causal:
        print(
            f"wrote a random-weight causal LM ({args.layers} layers, hidden size {args.hidden_size}) to "
            f"{path}\nuse it in a pipeline file:  "
            f"models: {{my_lm: {{kind: likelihood, path: {path.resolve()}}}}}",
            file=sys.stderr,
        )
        return 0
    print(
        f"wrote a random-weight reward model ({args.heads} head(s), {args.layers} layers, hidden size "
        f"{args.hidden_size}) to {path}\n"
        f"use it in a pipeline file:  models: {{my_rm: {{kind: reward_model, path: {path.resolve()}}}}}",
        file=sys.stderr,
    )
    return 0
