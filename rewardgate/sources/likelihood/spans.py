"""Items -> token ids with the scored span located exactly (no weights needed).

The text is cut into the *context* (everything the span is conditioned on)
and the *span* (the reference, or the response, or the response's steps).
Each piece is tokenised on its own and the ids are concatenated, so every
span token is known without guessing at merges across the boundary; this is
how trainers tokenise prompt and completion separately. With a chat template
the context is the rendered conversation up to the span (the template's
special tokens included) and whatever the template appends after the
assistant turn is dropped: the span is always the end of the row.

Refusals are per item (:class:`InvalidComponentInput` / :class:`InvalidReference`),
never a silent number: an empty response (nothing visible: whitespace or invisible characters
only), a missing
reference, a span of zero tokens, nothing before the span to condition on,
a response without ``reasoning_end``, a reference already stated by the
kept response (``reference_in_context: error``), or input over ``max_length``
(``truncation: error``, or a span that alone does not fit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardgate.errors import ComponentError, InvalidComponentInput, InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from rewardgate.sources.model.batching.batcher import WorkItem
from rewardgate.sources.model.text_only import image_refusal, with_response_images
from rewardgate.visible_text import is_blank, visible_text


@dataclass(frozen=True, slots=True)
class SpanRow:
    """One batch row: ``ids``; the span is ``ids[start:]``; ``steps`` are the span's
    per-step token counts (reduce=per_step), else None."""

    ids: tuple[int, ...]
    start: int
    steps: tuple[int, ...] | None = None


@dataclass(frozen=True, slots=True)
class _Pieces:
    """The context text, the span's text pieces (one, or one per step), special tokens or not."""

    context: str
    span: list[str]
    special: bool


def _normalised(text: str) -> str:
    """What a reader sees (NFKC, invisible characters removed), case-folded, spacing collapsed."""
    return " ".join(visible_text(text).casefold().split())


def states_reference(context: str, reference: str) -> bool:
    """Whether ``context`` contains ``reference`` as a whole word, read as a reader sees both: case,
    spacing, compatibility forms (fullwidth digits) and invisible characters inside it ignored."""
    needle = _normalised(reference)
    if not needle:
        return False
    return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", _normalised(context)) is not None


class SpanEncoder:
    """Formats and tokenises items for one likelihood model (or pair)."""

    def __init__(self, tokenizer, spec: LikelihoodSpec, *, max_length: int, use_chat_template: bool) -> None:
        self.tokenizer = tokenizer
        self.spec = spec
        self.max_length = max_length
        self.use_chat_template = use_chat_template and bool(tokenizer.chat_template)

    @property
    def reads(self) -> tuple[str, ...]:
        if self.spec.reduce == "per_step":
            reads: tuple[str, ...] = ("prompt", "steps")
        elif self.spec.span == "reference":
            reads = ("prompt", "response", "reference")
        else:
            reads = ("prompt", "response")
        return with_response_images(reads)

    def encode_many(self, items: list[ScoringItem]) -> list[WorkItem | ComponentError]:
        return [self._encode(item) for item in items]

    def _encode(self, item: ScoringItem) -> WorkItem | ComponentError:
        try:
            row = self.row(item)
        except ComponentError as exc:
            return exc
        return WorkItem(payload=row, length=len(row.ids))

    def row(self, item: ScoringItem) -> SpanRow:
        """The batch row for ``item``. Raises a ComponentError for an item it refuses (one with
        images among what it reads: rewardgate/sources/model/text_only.py)."""
        refusal = image_refusal(item, self.reads, "likelihood")
        if refusal is not None:
            raise refusal
        pieces = self._pieces(item)
        context = self._ids(pieces.context, pieces.special)
        span = [self._ids(piece, False) for piece in pieces.span]
        span_len = sum(len(ids) for ids in span)
        if span_len == 0 or any(len(ids) == 0 for ids in span):
            raise InvalidComponentInput("the scored span has no tokens")
        if len(context) + span_len > self.max_length:
            if self.spec.truncation == "error" or span_len >= self.max_length:
                raise InvalidComponentInput(
                    f"{len(context) + span_len} tokens exceeds this model's max_length {self.max_length}"
                    + ("" if self.spec.truncation == "error" else f" (the span alone is {span_len})")
                )
            context = context[len(context) + span_len - self.max_length :]  # oldest tokens go first
        if not context:
            raise InvalidComponentInput("nothing precedes the span: its first token has no context")
        ids = tuple(context) + tuple(token for piece in span for token in piece)
        steps = tuple(len(piece) for piece in span) if self.spec.reduce == "per_step" else None
        return SpanRow(ids, len(context), steps)

    def _ids(self, text: str, special: bool) -> list[int]:
        return self.tokenizer(text, add_special_tokens=special)["input_ids"] if text else []

    def _pieces(self, item: ScoringItem) -> _Pieces:
        spec = self.spec
        if spec.reduce == "per_step":
            if not item.steps or all(is_blank(step) for step in item.steps):
                raise InvalidComponentInput("reduce=per_step needs the response split into steps")
            span = [step + spec.step_separator for step in item.steps]
            head = ""
        elif spec.span == "response":
            if is_blank(item.response):
                raise InvalidComponentInput("the response is empty: there is nothing to score")
            span, head = [item.response], ""
        else:
            head = self._kept_response(item)
            span = [item.reference]  # type: ignore[list-item] - checked by _kept_response
        return self._render(item, head, span)

    def _kept_response(self, item: ScoringItem) -> str:
        """The part of the response the reference is conditioned on, with the separator."""
        spec = self.spec
        if item.reference is None or is_blank(item.reference):
            raise InvalidReference("span=reference needs a non-empty items[].reference")
        response = item.response
        if spec.reasoning_end is not None:
            cut = response.find(spec.reasoning_end)
            if cut < 0:
                raise InvalidComponentInput(
                    f"the response has no {spec.reasoning_end!r} ending its reasoning"
                )
            response = response[: cut + len(spec.reasoning_end)]
        if is_blank(response[: len(response) - len(spec.reasoning_end or "")]):
            # The model's prior for the reference, whatever the policy did: not a reward for it.
            raise InvalidComponentInput(
                "the response is empty: the reference would be scored on the prompt alone"
            )
        if spec.reference_in_context == "error" and states_reference(response, item.reference):
            raise InvalidComponentInput(
                "the response already states the reference, which the model would copy "
                "(reference_in_context: error)"
            )
        return response + spec.separator

    def _render(self, item: ScoringItem, head: str, span: list[str]) -> _Pieces:
        """Context and span texts: through the chat template (assistant turn = head + span), or
        the prompt text followed directly by them."""
        assistant = head + "".join(span)
        if not self.use_chat_template:
            return _Pieces(item.prompt_text() + head, span, True)
        messages = [*item.messages()[:-1], {"role": "assistant", "content": assistant}]
        try:
            text = self.tokenizer.apply_chat_template(messages, tokenize=False)
        except Exception as exc:  # templates raise anything (jinja2 errors, raise_exception)
            raise InvalidComponentInput(
                f"the model's chat template cannot render this conversation: {exc}"
            ) from None
        where = text.rfind(assistant)
        if where < 0:
            raise InvalidComponentInput("the chat template altered the response; the span cannot be located")
        return _Pieces(text[: where + len(head)], span, False)
