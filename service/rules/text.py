"""Text-match rules: exact and normalised answer comparison."""

from __future__ import annotations

import re
import string
import unicodedata

from pydantic import Field

from service.items import ScoringItem
from service.rules.base import Rule, RuleParams

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD-style normalisation: NFKC, lower case, drop punctuation and articles,
    collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


class ExactMatchParams(RuleParams):
    strip: bool = Field(True, description="Ignore leading/trailing whitespace.")


class ExactMatch(Rule):
    """1.0 when the response equals the reference exactly, else 0.0."""

    type_name = "exact_match"
    Params = ExactMatchParams

    def evaluate(self, item: ScoringItem) -> float:
        reference = self.require_reference(item)
        response = item.response
        if self.params.strip:
            reference, response = reference.strip(), response.strip()
        return 1.0 if response == reference else 0.0


class NormalizedMatch(Rule):
    """1.0 when both sides are equal after :func:`normalize_answer`."""

    type_name = "normalized_match"

    def evaluate(self, item: ScoringItem) -> float:
        reference = self.require_reference(item)
        return 1.0 if normalize_answer(item.response) == normalize_answer(reference) else 0.0
