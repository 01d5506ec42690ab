"""Tiny Hugging Face models built locally (no hub downloads).

A byte-level BPE tokenizer trained on a few sentences, with a chat template,
and a 2-layer ``LlamaForSequenceClassification`` with random weights, saved
with ``save_pretrained`` so the service loads them through its real code.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
CORPUS = [
    "The quick brown fox jumps over the lazy dog.",
    "What is two plus two? The answer is four.",
    "Reward models score responses to prompts.",
    "<|user|> <|assistant|> <|end|> 0 1 2 3 4 5 6 7 8 9 \\boxed{42}",
]


def build_tokenizer(directory: Path):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 10, vocab_size=400, min_frequency=1, special_tokens=["<pad>", "<eos>", "<|end|>"]
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    return tokenizer


def build_reward_model(
    directory: Path,
    *,
    num_labels: int = 1,
    seed: int = 0,
    chat_template: bool = True,
    hidden_size: int = 32,
    layers: int = 2,
) -> Path:
    """Save a small random reward model (``num_labels`` heads) in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    if not chat_template:
        tokenizer.chat_template = None
        tokenizer.save_pretrained(directory)
        (directory / "chat_template.jinja").unlink(missing_ok=True)
    from transformers import LlamaForSequenceClassification

    id2label = {i: f"head{i}" for i in range(num_labels)} if num_labels > 1 else None
    return _save_random_llama(
        directory, tokenizer, LlamaForSequenceClassification, seed, num_labels, hidden_size, layers, id2label
    )


def build_causal_lm(directory: Path, *, seed: int = 0) -> Path:
    """Save a small random ``LlamaForCausalLM`` (a policy for a real trainer step) in ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    from transformers import LlamaForCausalLM

    return _save_random_llama(directory, tokenizer, LlamaForCausalLM, seed, 1, 32, 2)


def build_process_reward_model(directory: Path, *, num_labels: int = 2, seed: int = 0) -> Path:
    """Save a small random token-classification PRM (``num_labels`` per token)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    from transformers import LlamaForTokenClassification

    return _save_random_llama(directory, tokenizer, LlamaForTokenClassification, seed, num_labels, 32, 2)


def _save_random_llama(
    directory, tokenizer, model_class, seed, num_labels, hidden_size, layers, id2label=None
):
    """A randomly initialised Llama ``model_class`` with a spread-out score head, saved to ``directory``."""
    import torch
    from transformers import LlamaConfig

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        num_labels=num_labels,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        id2label=id2label,
    )
    model = model_class(config)
    if hasattr(model, "score"):
        with torch.no_grad():  # make scores spread out, so differences are visible
            model.score.weight.normal_(0, 1.0)
    model.save_pretrained(directory)
    return directory
