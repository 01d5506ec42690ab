"""A small random-weight vision-language reward model, built locally (no hub download).

A LLaVA backbone (a one-layer CLIP vision tower and a one-layer Llama), a
LLaVA processor (a byte-level BPE tokenizer trained here with an ``<image>``
token and a chat template that places images, a PIL-backed CLIP image
processor at 56x56 pixels: 16 image tokens per image) and a random
``reward_head.safetensors``: the layout
rewardgate/sources/model/runners/vision_reward_model.py loads. Its scores
mean nothing, but they depend on the pixels, so a test can see an image
change a reward.
"""

from __future__ import annotations

import json
from pathlib import Path

from rewardgate.sources.model.random_weights import CORPUS

IMAGE_TOKEN = "<image>"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for p in m['content'] %}{% if p['type'] == 'image' %}<image>{% else %}{{ p['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|end|>{% endfor %}"
)


def build_vision_reward_model(
    directory: Path, *, num_labels: int = 1, seed: int = 0, image_size: int = 56, hidden_size: int = 32
) -> Path:
    """Save the tiny VLM reward model into ``directory`` (``image_size``/14 squared image tokens)."""
    import torch
    from safetensors.torch import save_file
    from tokenizers import ByteLevelBPETokenizer
    from transformers import (
        CLIPVisionConfig,
        LlamaConfig,
        LlavaConfig,
        LlavaModel,
        LlavaProcessor,
        PreTrainedTokenizerFast,
    )
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        CORPUS * 10,
        vocab_size=400,
        min_frequency=1,
        special_tokens=["<pad>", "<eos>", "<|end|>", IMAGE_TOKEN],
    )
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>", eos_token="<eos>")
    tokenizer.chat_template = CHAT_TEMPLATE
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=14,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        image_token=IMAGE_TOKEN,
        num_additional_image_tokens=1,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=image_size,
            patch_size=14,
            projection_dim=hidden_size,
        ),
        text_config=LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=hidden_size,
            intermediate_size=2 * hidden_size,
            num_hidden_layers=1,
            num_attention_heads=4,
            num_key_value_heads=2,
            pad_token_id=tokenizer.pad_token_id,
        ),
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(seed)
    model = LlavaModel(config)
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    save_file({"weight": torch.randn(num_labels, hidden_size)}, str(directory / "reward_head.safetensors"))
    labels = [f"head{i}" for i in range(num_labels)]
    (directory / "reward_head.json").write_text(json.dumps({"labels": labels}))
    return directory
