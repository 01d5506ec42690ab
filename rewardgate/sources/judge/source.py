"""Judges as score sources: prompts in, a value in [0, 1] out, per item.

The source renders the judge's template for each item, calls the judge
client (rewardgate/sources/judge/client.py) and parses the reply
(rewardgate/sources/judge/parsing.py). Pairwise judges are asked twice, with the
response first and then second, against the item's reference response, so
position bias cancels: the value is 1 when the response wins in both orders,
0 when it loses in both, and 0.5 (a tie) when the orders disagree. With
``logprobs`` the two probabilities are averaged instead.

Its version hashes what changes a verdict (kind, model, templates, sampling
parameters, scale, pattern), so cache keys change with any of them and not
with operational limits (timeouts, budgets, concurrency).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from rewardgate.chat import readable
from rewardgate.errors import ComponentError, InvalidComponentInput, InvalidReference, JudgeUnavailable
from rewardgate.hashing import canonical_sha256
from rewardgate.items import ScoringItem
from rewardgate.sources.base import Outcome, ScoreSource, SourceResult
from rewardgate.sources.judge.client import JudgeClient
from rewardgate.sources.judge.images import image_url_parts
from rewardgate.sources.judge.parsing import parse_reply
from rewardgate.sources.judge.spec import JudgeSpec
from rewardgate.sources.judge.templates import SYSTEM, answer_for, item_fields_used, user_template

log = logging.getLogger(__name__)

#: Spec fields that change what a judge answers (they enter the version).
VERDICT_FIELDS = (
    "kind",
    "model",
    "scale",
    "constraint",
    "principle_field",
    "output",
    "pattern",
    "logprobs",
    "top_logprobs",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
)

READS = {
    "pointwise": ("prompt", "response", "response_images"),
    "principle": ("prompt", "response", "response_images", "metadata"),
    "pairwise": ("prompt", "response", "reference"),
    "constraint": ("prompt", "response", "response_images"),
    "correctness": ("prompt", "response", "response_images", "reference"),
}


def conversation_text(item: ScoringItem) -> str:
    """The prompt as text; chat messages become 'role: text' paragraphs (:func:`rewardgate.chat.readable`)."""
    if isinstance(item.prompt, str):
        return item.prompt
    return "\n\n".join(readable(message) for message in item.prompt)


@dataclass
class JudgeSource(ScoreSource):
    kind: ClassVar[str] = "judge"
    spec: JudgeSpec = field(kw_only=True)
    client: JudgeClient = field(kw_only=True)
    #: Sees each pairwise verdict's two orders: P(response better) as first, and as second.
    on_orders: Callable[[float, float], None] | None = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._mode = "pattern" if self.spec.output == "pattern" else "json"
        self._templates = {
            mode: user_template(self.spec.kind, self.spec.template, mode) for mode in ("json", "pattern")
        }
        self._system = self.spec.system or SYSTEM
        self._answer = answer_for(self.spec.kind)

    @functools.cached_property
    def reads(self) -> tuple[str, ...]:
        """The kind's fields plus every field a (custom) template fills in: all enter the cache key."""
        used = set().union(*(item_fields_used(t) for t in self._templates.values()))
        return tuple(sorted(set(READS[self.spec.kind]) | used))

    @property
    def version(self) -> str:
        # Changes if output=auto falls back to pattern mode: the prompt changed.
        return self._versions[self._mode]

    @functools.cached_property
    def _versions(self) -> dict[str, str]:
        verdict = {name: getattr(self.spec, name) for name in VERDICT_FIELDS}
        return {
            mode: "sha256:" + canonical_sha256([verdict, mode, self._system, template])
            for mode, template in self._templates.items()
        }

    @property
    def score_range(self) -> tuple[float, float]:
        # Every judge kind answers in [0, 1]: scales are normalised, pairwise is a probability.
        return (0.0, 1.0)

    def is_ready(self) -> bool:
        # A remote judge is checked per call (breaker), not at start-up.
        return True

    async def compute(self, items: list[ScoringItem], deadline: float) -> SourceResult:
        results = await asyncio.gather(*(self._judge(item, deadline) for item in items))
        return SourceResult(
            outcomes=[outcome for outcome, _ in results], judge_tokens=sum(tokens for _, tokens in results)
        )

    async def close(self) -> None:
        await self.client.close()

    async def _judge(self, item: ScoringItem, deadline: float) -> tuple[Outcome, int]:
        try:
            variables = self._variables(item)
            images = image_url_parts(item, self.name, self.spec.vision)
            if self.spec.kind == "pairwise":
                return await self._pairwise(variables, images, deadline)
            value, tokens = await self._ask(variables, images, deadline)
            return [value], tokens
        except ComponentError as exc:
            return exc, 0

    async def orders(self, item: ScoringItem, deadline: float) -> tuple[float, float]:
        """A pairwise judge's two verdicts on ``item``: P(response better than the reference response)
        asked with the response as A, and with it as B (the audit's position-bias figures read them
        apart; a score combines them). Not cached, not reported to ``on_orders``.

        Raises:
            ComponentError: the item cannot be judged or the judge failed (as a score would report).
            ValueError: the judge is not pairwise.
        """
        if self.spec.kind != "pairwise":
            raise ValueError(f"judge {self.name!r} is {self.spec.kind}, not pairwise")
        variables = self._variables(item)
        images = image_url_parts(item, self.name, self.spec.vision)
        (as_first, as_second), _ = await self._both_orders(variables, images, deadline)
        return as_first, as_second

    async def _both_orders(
        self, variables: dict[str, str], images: list[dict], deadline: float
    ) -> tuple[tuple[float, float], int]:
        """((P(response better) as A, as B), tokens): the response asked first, then second."""
        first = dict(variables, response_a=variables["response"], response_b=variables["reference"])
        second = dict(variables, response_a=variables["reference"], response_b=variables["response"])
        (wins_first, t1), (wins_second, t2) = await asyncio.gather(
            self._ask(first, images, deadline), self._ask(second, images, deadline)
        )
        return (wins_first, 1.0 - wins_second), t1 + t2

    async def _pairwise(
        self, variables: dict[str, str], images: list[dict], deadline: float
    ) -> tuple[Outcome, int]:
        (as_first, as_second), tokens = await self._both_orders(variables, images, deadline)
        if self.on_orders is not None:
            self.on_orders(as_first, as_second)
        if self.spec.logprobs:
            value = (as_first + as_second) / 2
        else:
            value = as_first if as_first == as_second else 0.5
        return [value], tokens

    async def _ask(self, variables: dict[str, str], images: list[dict], deadline: float) -> tuple[float, int]:
        mode = self._mode
        try:
            completion = await self.client.complete(
                self._messages(mode, variables, images), deadline, json_mode=mode == "json"
            )
        except JudgeUnavailable as exc:
            rejected = getattr(exc, "response_format_rejected", False)
            if not (self.spec.output == "auto" and mode == "json" and rejected):
                raise
            if self._mode == "json":
                log.warning(
                    "judge %s: the server rejects response_format; parsing text from now on", self.name
                )
                self._mode = "pattern"
            mode = "pattern"
            completion = await self.client.complete(
                self._messages(mode, variables, images), deadline, json_mode=False
            )
        tokens = completion.prompt_tokens + completion.completion_tokens
        spec = self.spec
        value = parse_reply(
            completion.reply, self._answer, output=mode, pattern=spec.pattern, scale=spec.scale
        )
        return value, tokens

    def _messages(self, mode: str, variables: dict[str, str], images: list[dict]) -> list[dict]:
        """System and user message; an item's images go first in the user message, as
        ``image_url`` parts in prompt order (the conversation text marks each as ``[image]``)."""
        text = self._templates[mode].format(**variables)
        content = [*images, {"type": "text", "text": text}] if images else text
        return [{"role": "system", "content": self._system}, {"role": "user", "content": content}]

    def _variables(self, item: ScoringItem) -> dict[str, str]:
        spec = self.spec
        if spec.kind in ("pairwise", "correctness") and not item.reference:
            what = "the other response" if spec.kind == "pairwise" else "the gold answer"
            raise InvalidReference(f"judge {self.name!r} needs items[].reference ({what})")
        if item.response_images and spec.kind == "pairwise":
            raise InvalidComponentInput(
                f"judge {self.name!r}: a pairwise judge compares the response with a text reference; "
                "an image response has no counterpart to compare with"
            )
        principle = item.metadata.get(spec.principle_field)
        if spec.kind == "principle" and not isinstance(principle, str):
            raise InvalidComponentInput(
                f"judge {self.name!r} needs the principle as text in items[].metadata.{spec.principle_field}"
            )
        return {
            "prompt": conversation_text(item),
            # Response images follow the prompt's as image_url parts; the text says where they belong.
            "response": item.response
            + "".join(f"\n[response image {k + 1}]" for k in range(len(item.response_images))),
            "reference": item.reference or "",
            "response_a": "",
            "response_b": "",
            "scale_min": str(spec.scale[0]),
            "scale_max": str(spec.scale[1]),
            "principle": principle if isinstance(principle, str) else "",
            "constraint": spec.constraint or "",
        }
