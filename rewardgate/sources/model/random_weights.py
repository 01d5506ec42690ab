"""Small Hugging Face models with random weights, built locally (no hub download).

For trying the model path of a pipeline offline (``rewardgate random-model``)
and for the test suite and benches: a 2-layer Llama (or another decoder
architecture of :data:`ARCHITECTURES`, for the packing tests) with random weights,
saved with ``save_pretrained`` next to a tokenizer, so the service loads it
through exactly the code that loads a real reward model. Its scores mean
nothing.

The tokenizer is either a local one (a real model's directory: its
vocabulary, special tokens and chat template are kept) or a byte-level BPE
trained here on a few sentences, with a small chat template.
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


# Decoder families the builders can make (config class names in transformers).
# opt is here because its attention ignores packed position ids: the padded
# fallback's test model.
ARCHITECTURES = {
    "llama": "LlamaConfig",
    "qwen2": "Qwen2Config",
    "gemma": "GemmaConfig",
    "gemma2": "Gemma2Config",
    "opt": "OPTConfig",
}


class TokenizerNotFound(ValueError):
    """The tokenizer directory does not exist or holds no tokenizer."""


def build_tokenizer(directory: Path):
    """Train a tiny byte-level BPE tokenizer (with pad/eos tokens and a chat template) into ``directory``."""
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


def copy_tokenizer(source: Path, directory: Path):
    """Load the tokenizer of the local directory ``source`` and save it into ``directory``.

    A tokenizer without a padding token pads with its end-of-sequence token
    (batches need one). Raises TokenizerNotFound when ``source`` holds none.
    """
    source = Path(source)
    if not source.is_dir():
        raise TokenizerNotFound(f"tokenizer directory {source} does not exist")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    except (OSError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TokenizerNotFound(f"no tokenizer could be loaded from {source}: {first_line}") from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise TokenizerNotFound(f"the tokenizer in {source} has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token
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
    tokenizer_dir: Path | None = None,
    architecture: str = "llama",
) -> Path:
    """Save a small random sequence classifier (``num_labels`` heads) in ``directory``.

    ``tokenizer_dir``: a local tokenizer to use (default: the tiny BPE above);
    ``chat_template=False`` removes the tokenizer's chat template;
    ``architecture``: a key of :data:`ARCHITECTURES`.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = copy_tokenizer(tokenizer_dir, directory) if tokenizer_dir else build_tokenizer(directory)
    if not chat_template:
        tokenizer.chat_template = None
        tokenizer.save_pretrained(directory)
        (directory / "chat_template.jinja").unlink(missing_ok=True)
    from transformers import AutoModelForSequenceClassification

    id2label = {i: f"head{i}" for i in range(num_labels)} if num_labels > 1 else None
    return _save_random(
        directory,
        tokenizer,
        AutoModelForSequenceClassification,
        seed,
        num_labels,
        hidden_size,
        layers,
        id2label,
        architecture,
    )


def build_causal_lm(
    directory: Path,
    *,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
    tokenizer_dir: Path | None = None,
) -> Path:
    """Save a small random ``LlamaForCausalLM`` in ``directory``: a policy for a real trainer
    step, or a ``kind: likelihood`` model (two seeds make a policy/reference pair with one tokenizer)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = copy_tokenizer(tokenizer_dir, directory) if tokenizer_dir else build_tokenizer(directory)
    from transformers import AutoModelForCausalLM

    return _save_random(directory, tokenizer, AutoModelForCausalLM, seed, 1, hidden_size, layers)


def build_process_reward_model(
    directory: Path, *, num_labels: int = 2, seed: int = 0, architecture: str = "llama"
) -> Path:
    """Save a small random token-classification PRM (``num_labels`` per token)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(directory)
    from transformers import AutoModelForTokenClassification

    return _save_random(
        directory, tokenizer, AutoModelForTokenClassification, seed, num_labels, 32, 2, None, architecture
    )


def _save_random(
    directory,
    tokenizer,
    auto_class,
    seed,
    num_labels,
    hidden_size,
    layers,
    id2label=None,
    architecture="llama",
):
    """A randomly initialised ``auto_class`` model with a spread-out score head, saved to ``directory``."""
    import torch
    import transformers

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; one of {sorted(ARCHITECTURES)}")
    if hidden_size % 8:
        raise ValueError(f"hidden size must be a multiple of 8 (4 attention heads, even): {hidden_size}")
    torch.manual_seed(seed)
    shared = {
        "vocab_size": len(tokenizer),
        "num_labels": num_labels,
        "pad_token_id": tokenizer.pad_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "id2label": id2label,
    }
    if architecture == "opt":
        shape = {
            "hidden_size": hidden_size,
            "word_embed_proj_dim": hidden_size,
            "ffn_dim": 2 * hidden_size,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "max_position_embeddings": 2048,
        }
    else:
        shape = {
            "hidden_size": hidden_size,
            "intermediate_size": 2 * hidden_size,
            "num_hidden_layers": layers,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": hidden_size // 4,
            "max_position_embeddings": 2048,
        }
    config = getattr(transformers, ARCHITECTURES[architecture])(**shape, **shared)
    model = auto_class.from_config(config)
    if hasattr(model, "score"):
        with torch.no_grad():  # make scores spread out, so differences are visible
            model.score.weight.normal_(0, 1.0)
    model.save_pretrained(directory)
    return directory
