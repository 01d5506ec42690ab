"""Token ids of many texts from the Rust tokenizer, without ``transformers``' wrapper.

``tokenizer(texts, add_special_tokens=...)["input_ids"]`` on a fast tokenizer
(``transformers`` 5: ``TokenizersBackend._encode_plus``) does, for plain
strings with no padding or truncation asked for: switch the Rust tokenizer's
truncation and padding off if set, set its ``encode_special_tokens`` to the
tokenizer's ``split_special_tokens``, call ``encode_batch(texts,
add_special_tokens, is_pretokenized=False)``, then convert every encoding into
dicts of lists (ids, attention mask, type ids) and a ``BatchEncoding``. The
reward model's encoder reads only the ids, so :class:`TokenIds` does the first
three steps itself and reads ``encoding.ids``, through ``encode_batch_fast``
where the installed ``tokenizers`` has it (the same pipeline without the
character offsets nobody reads here): about a quarter of the tokeniser
thread's CPU per item (docs/benchmarks.md, "Model path per-item host cost").

Contract: :meth:`TokenIds.__call__` returns exactly the wrapper's ids. It only
takes the direct road when the tokenizer is one whose wrapper path is the one
above (a ``TokenizersBackend`` that overrides none of ``__call__``,
``_encode_plus``, ``set_truncation_and_padding`` and has no input/target mode
switch), and when the direct ids equal the wrapper's on probe texts at
construction (the tokenizer's own special tokens, a chat-template rendering,
text longer than any truncation it was saved with); otherwise every call goes
through the wrapper. tests/unit/test_token_ids.py holds it to that on the
shipped and tested tokenizers.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

PROBE_TEXT = "The quick brown fox: 0 1 2 3 \\boxed{42}  ünïcödé  tabs\tand\nnewlines. "


def direct_road(tokenizer) -> str | None:
    """Why the wrapper is needed for ``tokenizer`` (a sentence), or None if the direct road fits."""
    try:
        from transformers.tokenization_utils_base import PreTrainedTokenizerBase
        from transformers.tokenization_utils_tokenizers import TokenizersBackend
    except ImportError:  # transformers 4: its fast tokenizer's path was not checked here
        return "this transformers has no TokenizersBackend"
    cls = type(tokenizer)
    if not isinstance(tokenizer, TokenizersBackend):
        return f"{cls.__name__} is not a Rust-backed tokenizer"
    overridden = [
        name
        for name, owner in (
            ("__call__", PreTrainedTokenizerBase),
            ("_encode_plus", TokenizersBackend),
            ("set_truncation_and_padding", TokenizersBackend),
        )
        if getattr(cls, name) is not getattr(owner, name)
    ]
    if overridden:
        return f"{cls.__name__} overrides {', '.join(overridden)}"
    if hasattr(tokenizer, "_switch_to_input_mode"):
        return f"{cls.__name__} switches input/target modes"
    return None


class TokenIds:
    """``tokenizer(texts, add_special_tokens=...)["input_ids"]``, faster where provably the same."""

    def __init__(self, tokenizer, probes: list[str] = ()) -> None:
        """``probes``: extra texts the direct ids must match the wrapper's on (a chat
        template's rendering, say) before the direct road is taken."""
        self.tokenizer = tokenizer
        self.reason = direct_road(tokenizer)
        if self.reason is None:
            backend = tokenizer._tokenizer
            self._encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
            self.reason = self._mismatch([*probes, *self._probes()])
        log.debug("tokenizer %s: %s", type(tokenizer).__name__, self.reason or "direct Rust ids")

    @property
    def direct(self) -> bool:
        return self.reason is None

    def __call__(self, texts: list[str], *, add_special_tokens: bool) -> list[list[int]]:
        """The ids of every text, as the wrapper gives them (module docstring)."""
        if not texts:
            return []
        if self.reason is not None:
            return self.tokenizer(texts, add_special_tokens=add_special_tokens)["input_ids"]
        return [encoding.ids for encoding in self._direct(texts, add_special_tokens)]

    def _direct(self, texts: list[str], add_special_tokens: bool):
        backend, tokenizer = self.tokenizer._tokenizer, self.tokenizer
        # What the wrapper sets before every call (set_truncation_and_padding, _encode_plus):
        # the Rust tokenizer's state is shared with it, and a tokenizer.json may carry either.
        if backend.truncation is not None:
            backend.no_truncation()
        if backend.padding is not None:
            backend.no_padding()
        if backend.encode_special_tokens != tokenizer.split_special_tokens:
            backend.encode_special_tokens = tokenizer.split_special_tokens
        return self._encode(texts, add_special_tokens=add_special_tokens, is_pretokenized=False)

    def _probes(self) -> list[str]:
        specials = [str(token) for token in self.tokenizer.all_special_tokens]
        added = [str(token) for token in self.tokenizer.get_added_vocab()][:64]
        joined = " ".join([*specials, *added])
        return ["", PROBE_TEXT, joined, PROBE_TEXT.join([*specials, *added, ""]), PROBE_TEXT * 200]

    def _mismatch(self, probes: list[str]) -> str | None:
        """None when the direct ids equal the wrapper's on every probe, both special-token modes."""
        for add_special_tokens in (False, True):
            direct = [encoding.ids for encoding in self._direct(probes, add_special_tokens)]
            wrapped = self.tokenizer(probes, add_special_tokens=add_special_tokens)["input_ids"]
            if direct != wrapped:
                log.warning(
                    "tokenizer %s: direct ids differ from the wrapper's", type(self.tokenizer).__name__
                )
                return "direct ids differ from the wrapper's on a probe text"
        return None
