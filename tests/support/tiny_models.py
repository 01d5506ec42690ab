"""Tiny Hugging Face models built locally (no hub downloads): the package's own builder.

The builders live in rewardgate/sources/model/random_weights.py, shared with
``rewardgate random-model``; they are re-exported here for the tests and benches.
"""

from rewardgate.sources.model.random_weights import (
    CHAT_TEMPLATE,
    CORPUS,
    build_causal_lm,
    build_process_reward_model,
    build_reward_model,
    build_tokenizer,
)

__all__ = [
    "CHAT_TEMPLATE",
    "CORPUS",
    "build_causal_lm",
    "build_process_reward_model",
    "build_reward_model",
    "build_tokenizer",
]
