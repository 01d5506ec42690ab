"""Text rules: exact, normalised, multiple-choice, containment, token F1, and
reference-based similarity (BLEU, chrF, ROUGE; as in BLEUBERI)."""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections import Counter
from typing import Literal

import re2
from pydantic import Field

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams

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

    def grade(self, item: ScoringItem) -> float:
        reference = self.require_reference(item)
        response = item.response
        if self.params.strip:
            reference, response = reference.strip(), response.strip()
        return 1.0 if response == reference else 0.0


class NormalizedMatch(Rule):
    """1.0 when both sides are equal after :func:`normalize_answer`."""

    type_name = "normalized_match"

    def grade(self, item: ScoringItem) -> float:
        reference = self.require_reference(item)
        return 1.0 if normalize_answer(item.response) == normalize_answer(reference) else 0.0


# RE2: linear time whatever the response (a backtracking pattern here took seconds on 1.5 KB).
_BOXED = re2.compile(r"\\boxed\{(?:\\text(?:bf)?\{)?([^{}]{0,200})\}")
_AFTER_ANSWER = re2.compile(r"(?i:answer)(?:\s{0,20}(?i:is))?\s{0,20}:?([^\n]{0,80})")
_ANSWER_WORD = re2.compile(r"(?i:answer)")
# A letter written as an option: "(C)", or opening a line as "C." / "C)".
_OPTION_FORM = re2.compile(r"(?m)\(([A-Z])\)|^\s{0,10}([A-Z])[.)](?:\s|$)")
_LETTER_LINE = re2.compile(r"(?m)^[\s(\[*]{0,10}([A-Z])[\s)\].:*]{0,10}$")
_TOKENS = re.compile(r"[^\s,/&()\[\]*.:;]+")
# Words that join candidates in a hedge ("(B) or maybe (A)"): the letters after them count too.
# The words hedge phrases are built from are listed, not the phrases ("if not, then", "could also
# be", "failing that", "or rather"), so a new combination of them is a hedge too.
_CONNECTORS = {
    *("and", "or", "maybe", "possibly", "perhaps", "probably", "alternatively", "alternately", "either"),
    *("else", "otherwise", "if", "not", "then", "could", "might", "may", "also", "be", "it"),
    *("instead", "rather", "unless", "failing", "that"),
}
# A letter offered as an alternative anywhere ("B.\nOr possibly A."): a hedge word, then one
# letter closing the phrase (so "maybe I should check" names no option).
_HEDGED = re2.compile(
    r"(?i:\b(?:or|maybe|possibly|perhaps|alternatively|alternately|otherwise|else|instead|rather"
    r"|failing\s{1,5}that|if\s{1,5}not(?:,?\s{1,5}then)?|(?:could|might|may)(?:\s{1,5}also)?\s{1,5}be))"
    r"(?:\s{1,10}(?i:maybe|possibly|perhaps))?"
    r"[\s:,]{1,10}\(?([A-Z])\)?(?:\s{0,5}[.,;!?)]|\s{0,5}$)"
)


class MultipleChoiceParams(RuleParams):
    choices: str = Field("ABCDEFGHIJ", description="Letters that count as options.")


def leading_choices(text: str, choices: str) -> list[str]:
    """The option letters a phrase starts with: "(B)", "A, C and D", "c."; stops at the first other word.

    A lowercase letter counts only when no other word follows it ("answer: c"),
    so the article in "the answer is a number" is not option A."""
    letters = []
    tokens = _TOKENS.findall(text[:80])
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        ends_phrase = following is None or following.lower() in _CONNECTORS or len(following) == 1
        if len(token) == 1 and token.upper() in choices and (token.isupper() or ends_phrase):
            letters.append(token.upper())
        elif token.lower() not in _CONNECTORS:
            break
    return letters


class MultipleChoice(Rule):
    """1.0 when the response commits to exactly one option letter and it is the reference.

    A letter counts when it is in ``\\boxed{X}``, right after "answer is" /
    "Answer:" (as "(X)" or "X"; lowercase only when no word follows it), or
    alone on a line. Prose that
    merely starts with "A" or "I" is not a choice. A response naming more than
    one distinct option anywhere in those places, or offering a letter as an
    alternative ("… or possibly A.", "maybe (C)"), scores 0.0 (hedging,
    listing every letter), as does one naming none.
    """

    type_name = "multiple_choice"
    Params = MultipleChoiceParams

    def grade(self, item: ScoringItem) -> float:
        reference = self.require_reference(item).strip().strip("()").upper()
        if len(reference) != 1 or reference not in self.params.choices:
            raise InvalidReference(f"reference {reference!r} is not one of {self.params.choices}")
        chosen = self.choices_named(item.response)
        return 1.0 if chosen == {reference} else 0.0

    def choices_named(self, response: str) -> set[str]:
        choices, named = self.params.choices, set()
        for match in _BOXED.finditer(response):
            named.update(leading_choices(match.group(1), choices))
        # Every "answer (is)" phrase, even one inside the previous phrase's 80 characters: a
        # non-overlapping scan read "The answer is 9 ... The answer is (C)" as one phrase and
        # missed the (C).
        for start in _ANSWER_WORD.finditer(response):
            match = _AFTER_ANSWER.match(response, start.start())
            if match is not None:
                named.update(leading_choices(match.group(1), choices))
        named.update(m.group(1) for m in _LETTER_LINE.finditer(response) if m.group(1) in choices)
        hedged = {m.group(1) for m in _HEDGED.finditer(response) if m.group(1) in choices}
        if hedged:
            # Offering an alternative makes every letter written as an option a candidate too:
            # "(C). Or possibly B." names C, not only the B after the hedge word.
            written = {m.group(1) or m.group(2) for m in _OPTION_FORM.finditer(response)}
            named |= hedged | (written & set(choices))
        return named


class Contains(Rule):
    """1.0 when the normalised reference occurs in the normalised response."""

    type_name = "contains"

    def grade(self, item: ScoringItem) -> float:
        needle = normalize_answer(self.require_reference(item))
        return 1.0 if needle and needle in normalize_answer(item.response) else 0.0


class TokenF1(Rule):
    """SQuAD token F1 between normalised response and reference, in [0, 1]."""

    type_name = "token_f1"

    def grade(self, item: ScoringItem) -> float:
        predicted = normalize_answer(item.response).split()
        gold = normalize_answer(self.require_reference(item)).split()
        common = sum((Counter(predicted) & Counter(gold)).values())
        if common == 0:
            return 0.0
        precision, recall = common / len(predicted), common / len(gold)
        return 2 * precision * recall / (precision + recall)


class _MetricRule(Rule):
    """A reference-similarity metric run in the verifier pool.

    Isolated because cost grows with input length (ROUGE-L's LCS is quadratic)
    and must never block the event loop; the metric object is built on first
    use in each worker process and is not pickled.
    """

    isolated = True

    def __getstate__(self) -> dict:
        return {"params": self.params}

    def __setstate__(self, state: dict) -> None:
        self.params = state["params"]

    @functools.cached_property
    def metric(self):
        return self.build_metric()

    def build_metric(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def warm_up(self) -> None:
        self.grade(ScoringItem("", "warming up the metric", "warming up the metric"))


class BleuParams(RuleParams):
    tokenize: Literal["13a", "intl", "char", "none", "zh"] = Field("13a", description="sacrebleu tokenizer.")
    lowercase: bool = False
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit in the verifier pool.")


class Bleu(_MetricRule):
    """Sentence BLEU (sacrebleu, effective order) against the reference, scaled to [0, 1]."""

    type_name = "bleu"
    Params = BleuParams

    def build_metric(self):
        from sacrebleu.metrics import BLEU

        return BLEU(tokenize=self.params.tokenize, lowercase=self.params.lowercase, effective_order=True)

    def grade(self, item: ScoringItem) -> float:
        return self.metric.sentence_score(item.response, [self.require_reference(item)]).score / 100


class ChrfParams(RuleParams):
    word_order: int = Field(0, ge=0, le=2, description="0 = chrF, 2 = chrF++.")
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit in the verifier pool.")


class Chrf(_MetricRule):
    """Sentence chrF / chrF++ (sacrebleu) against the reference, scaled to [0, 1]."""

    type_name = "chrf"
    Params = ChrfParams

    def build_metric(self):
        from sacrebleu.metrics import CHRF

        return CHRF(word_order=self.params.word_order)

    def grade(self, item: ScoringItem) -> float:
        return self.metric.sentence_score(item.response, [self.require_reference(item)]).score / 100


class RougeParams(RuleParams):
    variant: Literal["rouge1", "rouge2", "rougeL", "rougeLsum"] = "rougeL"
    use_stemmer: bool = True
    timeout_s: float = Field(5.0, gt=0, le=300, description="Per-item limit in the verifier pool.")


class Rouge(_MetricRule):
    """ROUGE F-measure (rouge-score) of the response against the reference, in [0, 1]."""

    type_name = "rouge"
    Params = RougeParams

    def build_metric(self):
        from rouge_score.rouge_scorer import RougeScorer

        return RougeScorer([self.params.variant], use_stemmer=self.params.use_stemmer)

    def grade(self, item: ScoringItem) -> float:
        scores = self.metric.score(self.require_reference(item), item.response)
        return scores[self.params.variant].fmeasure
