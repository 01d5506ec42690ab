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
