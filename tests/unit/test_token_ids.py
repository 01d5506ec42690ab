"""The direct Rust ids equal ``transformers``' wrapper ids (rewardgate/sources/model/runners/token_ids.py).

Each comparison loads the tokenizer twice from disk, so the wrapper's answer
comes from an instance the direct road never touched (they share no Rust
state). Tokenizers: the package's byte-level BPE with its chat template (what
every model test uses), the shipped MiniLM (WordPiece, lower-casing, [CLS] /
[SEP] added), a sentencepiece-style BPE with a BOS post-processor, and
variants saved with truncation and padding switched on, with
``split_special_tokens`` and with added tokens.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from tokenizers import SentencePieceBPETokenizer, processors
from transformers import AutoTokenizer, PreTrainedTokenizerFast

from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.reward_model import RewardModelEncoder
from rewardgate.sources.model.runners.similarity import packaged_minilm_path
from rewardgate.sources.model.runners.token_ids import TokenIds
from tests.support.tiny_models import CORPUS, build_reward_model, build_tokenizer

# transformers 4 (allowed by pyproject) has no TokenizersBackend: every call keeps the wrapper there.
DIRECT = importlib.util.find_spec("transformers.tokenization_utils_tokenizers") is not None

TEXTS = [
    *CORPUS,
    "",
    "   ",
    "<pad><eos><|end|> glued<eos>to words <|user|>hi<|end|>",
    "[CLS] [SEP] [PAD] [UNK] <s> </s> <unk>",
    "Ünïcödé, emoji 🦊, CJK 狐狸, RTL שלום, tabs\tand\nnewlines\r\n",
    "the quick brown fox " * 300,  # longer than any truncation a file below carries
]


def assert_same_ids(directory: Path, *, expect_direct: bool = True) -> None:
    fresh = AutoTokenizer.from_pretrained(directory)
    ids = TokenIds(AutoTokenizer.from_pretrained(directory))
    assert ids.direct is (expect_direct and DIRECT), ids.reason
    for add_special_tokens in (False, True):
        wrapped = fresh(TEXTS, add_special_tokens=add_special_tokens)["input_ids"]
        assert ids(TEXTS, add_special_tokens=add_special_tokens) == wrapped
        for text, row in zip(TEXTS, wrapped, strict=True):  # one text at a time, as token_ids calls
            assert ids([text], add_special_tokens=add_special_tokens) == [row]


def test_the_package_tokenizer_gives_the_wrappers_ids(tmp_path):
    build_tokenizer(tmp_path)
    assert_same_ids(tmp_path)


def test_the_shipped_minilm_gives_the_wrappers_ids():
    assert_same_ids(packaged_minilm_path())


def sentencepiece_tokenizer(directory: Path, **kwargs) -> PreTrainedTokenizerFast:
    bpe = SentencePieceBPETokenizer()
    bpe.train_from_iterator(CORPUS * 10, vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"])
    bpe._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bpe.token_to_id("<s>"))]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>", **kwargs
    )
    tokenizer.save_pretrained(directory)
    return tokenizer


def test_a_sentencepiece_style_tokenizer_with_a_bos_gives_the_wrappers_ids(tmp_path):
    sentencepiece_tokenizer(tmp_path)
    assert AutoTokenizer.from_pretrained(tmp_path)("fox")["input_ids"][0] == 1  # the BOS is added
    assert_same_ids(tmp_path)


def test_truncation_and_padding_saved_in_the_file_are_ignored_as_the_wrapper_does(tmp_path):
    tokenizer = build_tokenizer(tmp_path)
    tokenizer._tokenizer.enable_truncation(max_length=8)
    tokenizer._tokenizer.enable_padding(length=64, pad_id=0, pad_token="<pad>")
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path)
    assert loaded._tokenizer.truncation is not None and loaded._tokenizer.padding is not None
    assert len(loaded._tokenizer.encode(TEXTS[-1]).ids) == 64  # the file truncates and pads...
    assert_same_ids(tmp_path)  # ...the wrapper and the direct road do neither
    ids = TokenIds(AutoTokenizer.from_pretrained(tmp_path))
    assert len(ids([TEXTS[-1]], add_special_tokens=False)[0]) > 1000


def test_split_special_tokens_and_added_tokens_give_the_wrappers_ids(tmp_path):
    sentencepiece_tokenizer(tmp_path / "split", split_special_tokens=True)
    assert AutoTokenizer.from_pretrained(tmp_path / "split").split_special_tokens
    assert_same_ids(tmp_path / "split")
    # A wrapper call that asks otherwise leaves the shared Rust flag flipped; the direct road resets it.
    shared = AutoTokenizer.from_pretrained(tmp_path / "split")
    ids = TokenIds(shared)
    shared("<s> fox", split_special_tokens=False)
    assert not shared._tokenizer.encode_special_tokens
    fresh = AutoTokenizer.from_pretrained(tmp_path / "split")
    assert ids(TEXTS, add_special_tokens=True) == fresh(TEXTS, add_special_tokens=True)["input_ids"]
    tokenizer = build_tokenizer(tmp_path / "added")
    tokenizer.add_tokens(["glued", "狐狸"])
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|tool|>"]})
    tokenizer.save_pretrained(tmp_path / "added")
    assert_same_ids(tmp_path / "added")


def test_a_tokenizer_that_overrides_the_wrapper_keeps_the_wrapper(tmp_path):
    class Lowered(PreTrainedTokenizerFast):
        def _encode_plus(self, text, *args, **kwargs):
            return super()._encode_plus([t.lower() for t in text], *args, **kwargs)

    build_tokenizer(tmp_path)
    tokenizer = Lowered.from_pretrained(tmp_path)
    ids = TokenIds(tokenizer)
    assert not ids.direct and ("_encode_plus" in ids.reason or not DIRECT)
    assert (
        ids(["The FOX"], add_special_tokens=False)
        == tokenizer(["the fox"], add_special_tokens=False)["input_ids"]
    )


@pytest.mark.parametrize("use_chat_template", [True, False])
def test_the_reward_model_encoder_gives_the_wrappers_ids(tmp_path, use_chat_template):
    build_reward_model(tmp_path)
    encoder = RewardModelEncoder(tmp_path, use_chat_template=use_chat_template)
    assert encoder._ids.direct is DIRECT
    fresh = AutoTokenizer.from_pretrained(tmp_path)
    items = [ScoringItem(text, CORPUS[index % len(CORPUS)]) for index, text in enumerate(TEXTS[:-1])]
    for item, work in zip(items, encoder.encode_many(items), strict=True):
        if use_chat_template:
            text = fresh.apply_chat_template(item.messages(), tokenize=False)
            expected = fresh(text, add_special_tokens=False)["input_ids"]
        else:
            expected = fresh(item.prompt_text() + item.response)["input_ids"]
        assert work.payload == expected == encoder.token_ids(item)
