"""The item every rule and model runner scores (transport-independent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardgate.chat import Message, content_text, for_chat_template
from rewardgate.media.parts import image_data, image_urls


@dataclass(frozen=True, slots=True)
class ScoringItem:
    """One item to score. ``prompt`` is text or a chat message list."""

    prompt: str | list[Message]
    response: str
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The response split into steps, for process reward models (else None).
    steps: tuple[str, ...] | None = None
    #: Images the response is (image-generation rewards): canonical data URLs after validation.
    response_images: tuple[str, ...] = ()

    def prompt_text(self) -> str:
        """The prompt flattened to text (each message's text, joined by newlines)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(content_text(message) for message in self.prompt)

    def messages(self) -> list[Message]:
        """The prompt as chat messages a text model's template renders (content as
        text, :func:`rewardgate.chat.for_chat_template`), with the response as the assistant turn."""
        prompt = (
            for_chat_template(self.prompt)
            if isinstance(self.prompt, list)
            else [{"role": "user", "content": self.prompt}]
        )
        return [*prompt, {"role": "assistant", "content": self.response}]

    def image_urls(self) -> tuple[str, ...]:
        """The prompt's canonical image data URLs, in order (content-addressed: equal images, equal URLs)."""
        if isinstance(self.prompt, str):
            return ()
        return tuple(image_urls(self.prompt))

    def images(self) -> tuple[bytes, ...]:
        """The bytes of the prompt's images, in order (canonical parts only: an item
        that passed request validation; placeholders carry none)."""
        if isinstance(self.prompt, str):
            return ()
        return tuple(image_data(self.prompt))


_new = object.__new__
_FIELD_SETTERS = tuple(
    ScoringItem.__dict__[name].__set__
    for name in ("prompt", "response", "reference", "metadata", "steps", "response_images")
)


def new_item(
    prompt: str | list[Message],
    response: str,
    reference: str | None,
    metadata: dict[str, Any],
    response_images: tuple[str, ...] = (),
) -> ScoringItem:
    """``ScoringItem(prompt, response, reference, metadata, response_images=response_images)``
    (no steps): the same frozen item, made at half the cost for the codecs' per-item loops. The
    frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which looks
    the slot up on the type every time; this sets the slots through their descriptors."""
    item = _new(ScoringItem)
    set_prompt, set_response, set_reference, set_metadata, set_steps, set_images = _FIELD_SETTERS
    set_prompt(item, prompt)
    set_response(item, response)
    set_reference(item, reference)
    set_metadata(item, metadata)
    set_steps(item, None)
    set_images(item, response_images)
    return item
