"""The item every rule and model runner scores (transport-independent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Message = dict[str, str]


@dataclass(frozen=True, slots=True)
class ScoringItem:
    """One item to score. ``prompt`` is text or a chat message list."""

    prompt: str | list[Message]
    response: str
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    #: The response split into steps, for process reward models (else None).
    steps: tuple[str, ...] | None = None

    def prompt_text(self) -> str:
        """The prompt flattened to text (message contents joined by newlines)."""
        if isinstance(self.prompt, str):
            return self.prompt
        return "\n".join(message.get("content", "") for message in self.prompt)

    def messages(self) -> list[Message]:
        """The prompt as chat messages, with the response as the assistant turn."""
        prompt = self.prompt if isinstance(self.prompt, list) else [{"role": "user", "content": self.prompt}]
        return [*prompt, {"role": "assistant", "content": self.response}]
