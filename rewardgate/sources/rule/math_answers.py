"""Where a math response states its final answer(s), for the hedging check of ``math_verify``.

math-verify grades one answer it extracts (the last ``\\boxed{}``, or the first
value after "the answer is"), so a response that states several candidates
can be paid for whichever one the grader happens to pick. This module only
finds the *stated* candidates as text; deciding whether they are different
answers is left to math-verify itself (:mod:`rewardgate.sources.rule.math`).

Contracts:

* :func:`boxed_answers` returns the contents of every ``\\boxed{…}`` /
  ``\\fbox{…}`` (balanced braces) in order; an unclosed box is ignored.
* :func:`split_candidates` splits one answer on top-level disjunctions and
  list separators (``,`` except thousands separators, ``;``, ``or``, ``and``,
  ``\\lor``, ``\\vee``, ``\\text{ or }``…) into the candidates it names.
* :func:`answer_chains` returns the candidate lists a response commits to
  outside boxes: math tokens (``$…$``, ``\\(…\\)``, ``\\[…\\]``, numbers,
  boxes) joined only by separators or hedge words ("or possibly"), when the
  chain holds a box or directly follows an answer marker ("the answer is",
  "Final answer:"), or is the last run of math in a response without a box or marker.
* :func:`answer_blocks` returns the bodies of ``<answer>…</answer>`` blocks.

All scans are linear in the response length.
"""

from __future__ import annotations

import bisect
import re

_BOX_OPEN = re.compile(r"\\(?:boxed|fbox)\s*\{")

# A separator between candidates inside one answer (top level only).
_INNER_SEPARATOR = re.compile(
    r"(?<=\d),(?!\d{3}(?!\d))"  # a comma that is not a thousands separator ...
    r"|(?<![\d\\]),|(?<!\\),(?=\s)"  # ... or any other comma that is not a LaTeX space "\,"
    r"|;|\\lor\b|\\vee\b"
    r"|\\(?:text|textrm|textbf|textit|mathrm|mbox)\s*\{[^{}]*\b(?:or|and|maybe|possibly|perhaps)\b[^{}]*\}"
    r"|\bor\b|\band\b",
    re.IGNORECASE,
)

# Math tokens in prose, in priority order: boxes are found separately.
_MATH_TOKEN = re.compile(
    r"\$\$(?P<dd>[^$]{1,500})\$\$|\$(?P<d>[^$]{1,500})\$|\\\((?P<p>.{1,500}?)\\\)|\\\[(?P<b>.{1,500}?)\\\]"
    r"|(?<![\w.])(?P<n>-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?%?)(?![\w])",
    re.DOTALL,
)

# What may stand between two candidates of one hedge: punctuation and hedge words only.
_HEDGE_GAP = re.compile(
    # Hedge phrases are open-ended ("if not, then", "could also be", "or rather"): the words they
    # are built from are listed, not the phrases, so a new combination of them is a hedge too.
    r"[\s,;/]*(?:(?:or|and|maybe|possibly|perhaps|probably|alternatively|alternately|else|either|even"
    r"|otherwise|if|not|then|could|might|may|also|be|it|instead|rather|unless|failing|that|second|guess)"
    r"\b[\s,;/:]*)*(?:[A-Za-z]\s*=\s*)?",  # "x = 3 or x = 4": the second variable name
    re.IGNORECASE,
)
_DISJUNCTION = re.compile(
    r"\b(?:or|maybe|possibly|perhaps|probably|alternatively|alternately|otherwise|if not|instead|else"
    r"|failing|could|might|rather)\b",
    re.IGNORECASE,
)
_ANSWER_BLOCK = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_GAP_MARKUP = re.compile(r"\\(?:text|textrm|textbf|textit|mathrm|mbox)\s*\{|\\[,;!: ]|\\q?quad|[{}()]")
_ANSWER_MARKER = re.compile(
    r"(?:final\s+answer|answer)\s*[*_\s]*(?:is|was|would\s+be|:|=)?[*_\s]*:?[*_\s]*(?:[A-Za-z]\s*=\s*)?$",
    re.IGNORECASE,
)


def _joined(gap: str) -> bool:
    """Two tokens are one candidate list when only separators and hedge words lie between them;
    a sentence break (".") only when a disjunction follows it ("42. Or possibly 32")."""
    if "." in gap and not _DISJUNCTION.search(gap):
        return False
    bare = _GAP_MARKUP.sub(" ", gap).replace(".", " ")  # "\\text{ (or perhaps }" reads as "or perhaps"
    return _HEDGE_GAP.fullmatch(bare) is not None


def boxed_answers(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, content)`` for every closed box, in order (nested boxes count once)."""
    found, position = [], 0
    while match := _BOX_OPEN.search(text, position):
        depth, index = 1, match.end()
        while index < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            index += 1
        if depth:
            break  # unclosed: math-verify finds nothing there either
        found.append((match.start(), index, text[match.end() : index - 1]))
        position = index
    return found


def split_candidates(answer: str) -> list[str]:
    """The candidates one answer names, split on separators outside brackets; empty parts dropped."""
    parts, depth, start, index = [], 0, 0, 0
    while index < len(answer):
        char = answer[index]
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(0, depth - 1)
        elif depth == 0 and (separator := _INNER_SEPARATOR.match(answer, index)) and separator.end() > index:
            parts.append(answer[start:index])
            start = index = separator.end()
            continue
        elif depth == 0 and char == "\\" and answer.startswith(("\\{", "\\left"), index):
            depth += 1  # \{ and \left( open sets and groups
        index += 1
    parts.append(answer[start:])
    return [part.strip() for part in parts if part.strip(" .\t\n\\")]


def _tokens(text: str) -> list[tuple[int, int, str, bool]]:
    """``(start, end, token, is_box)`` for boxes and the math outside them, in order."""
    tokens = [(start, end, f"\\boxed{{{content}}}", True) for start, end, content in boxed_answers(text)]
    starts = [start for start, _, _, _ in tokens]  # boxes are disjoint and in order
    for match in _MATH_TOKEN.finditer(text):
        inside = bisect.bisect_right(starts, match.start()) - 1
        if inside >= 0 and match.start() < tokens[inside][1]:
            continue  # math inside a box is that box
        body = next(group for group in match.groups() if group is not None)
        tokens.append((match.start(), match.end(), f"${body}$", False))
    tokens.sort()
    return tokens


def marked_answers(text: str) -> list[str]:
    """Every math token directly after an answer marker ("The answer is 32. … Answer: 42")."""
    return [token for start, _, token, _ in _tokens(text) if _marked(text, start)]


def _marked(text: str, start: int) -> bool:
    return _ANSWER_MARKER.search(text[max(0, start - 40) : start]) is not None


def answer_chains(text: str) -> list[list[str]]:
    """Candidate lists the response commits to as its final answer (see the module contract)."""
    tokens = _tokens(text)
    chains, current, previous_end = [], [], None
    for start, end, token, is_box in tokens:
        joined = previous_end is not None and _joined(text[previous_end:start])
        if not joined:
            if current:
                chains.append(current)
            anchored = _marked(text, start)
            current = [(token, is_box or anchored)]
        else:
            current.append((token, is_box))
        previous_end = end
    if current:
        chains.append(current)
    # Without a box or an answer marker, the response's last run of math is its answer
    # (math-verify reads it there).
    if chains and not any(flag for chain in chains for _, flag in chain):
        chains[-1] = [(token, True) for token, _ in chains[-1]]
    return [[token for token, _ in chain] for chain in chains if len(chain) > 1 and any(f for _, f in chain)]


def answer_blocks(text: str) -> list[str]:
    """The bodies of the ``<answer>…</answer>`` blocks, in order."""
    return [match.group(1) for match in _ANSWER_BLOCK.finditer(text)]
