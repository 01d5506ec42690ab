"""Lengths and emptiness of a response, read so that characters a reader cannot see never pay.

A policy can pad, glue or fill text with characters that render as nothing:
zero-width spaces and joiners, format and bidi controls, variation selectors,
tag characters, soft hyphens, blank-looking letters (Hangul fillers, the
blank braille pattern) and combining marks stacked on nothing. Every format
and length rule reads a response through this module, in the direction that
does not pay the policy:

* a **floor** (a minimum length, a "non-empty" block, a blank step) counts
  only what a reader sees: :func:`visible_text` after NFKC, invisible
  characters removed (so they join what they sit between), blank-looking ones
  read as spaces, marks on no visible base dropped; characters are counted
  without combining marks, so a stack of marks adds nothing;
* a **ceiling** (an overlong or length penalty, a maximum length) counts what
  the response spent: :func:`spent_length` counts every code point in
  ``chars``, and in ``words`` anything that is not a letter, digit or mark
  separates words, so text glued with invisible characters or punctuation is
  still counted word by word.

Words are runs of letters, digits and marks; each letter of a script written
without spaces between words (Han, Hiragana, Katakana, Thai, Lao, Khmer,
Myanmar) is a word of its own. ASCII text, which has no invisible characters
but controls, takes a path on the standard library's ``re`` (several times
faster than the Unicode-property patterns of ``regex``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

import regex

Unit = Literal["chars", "words"]

_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
#: Characters that render as blank space without being Unicode white space.
_BLANK_LOOKING = "\u115f\u1160\u2800\u3164\uffa0"
_LINE_BREAKS = "\r\v\f\x85\u2028\u2029"
#: Characters that render as nothing: default-ignorable code points (zero-width
#: characters, joiners, variation selectors, tags, soft hyphen...), format and
#: control characters, unassigned and private-use code points.
_INVISIBLE = r"\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}\p{Cn}\p{Co}\p{Cs}"
_SEPARATOR = rf"\p{{White_Space}}{_BLANK_LOOKING}{_INVISIBLE}"
#: One word: a letter of an unspaced script, or a run of other letters, digits and marks
#: (never a separator: some blank-looking characters are letters, variation selectors marks).
_WORD = regex.compile(
    rf"(?V1)[[{_UNSPACED}]&&\p{{L}}--[{_SEPARATOR}]]|[[\p{{L}}\p{{N}}\p{{M}}]--[{_UNSPACED}{_SEPARATOR}]]+"
)
_AS_SPACE = regex.compile(rf"(?V1)[[\p{{White_Space}}{_BLANK_LOOKING}]--[\n{_LINE_BREAKS}]]")
_AS_NEWLINE = regex.compile(rf"[{_LINE_BREAKS}]")
_DROPPED = regex.compile(rf"(?V1)[[{_INVISIBLE}]--[\n]]+")
_LONE_MARKS = regex.compile(r"(?:^|(?<=\s))\p{M}+")
_MARK = regex.compile(r"\p{M}")
#: A chunk between separators made only of punctuation and symbols (one word when spent).
_SYMBOLS_ALONE = regex.compile(
    rf"(?<![^{_SEPARATOR}])[^\p{{L}}\p{{N}}\p{{M}}{_SEPARATOR}]+(?![^{_SEPARATOR}])"
)

_ASCII_AS_NEWLINE = re.compile(r"[\r\v\f]")
_ASCII_DROPPED = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]+")
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")
_ASCII_SYMBOLS_ALONE = re.compile(r"(?<![^\x00-\x20\x7f])[^A-Za-z0-9\x00-\x20\x7f]+(?![^\x00-\x20\x7f])")


def visible_text(text: str) -> str:
    """What a reader sees of ``text``: NFKC; line breaks as ``\\n`` and other blank-looking
    characters as spaces; invisible characters removed; marks with no visible base
    dropped. Idempotent."""
    text = unicodedata.normalize("NFKC", text).replace("\r\n", "\n")
    if text.isascii():
        return _ASCII_DROPPED.sub("", _ASCII_AS_NEWLINE.sub("\n", text).replace("\t", " "))
    text = _AS_SPACE.sub(" ", _AS_NEWLINE.sub("\n", text))
    return _LONE_MARKS.sub("", _DROPPED.sub("", text))


def is_blank(text: str) -> bool:
    """True when a reader sees nothing but white space in ``text``."""
    return not visible_text(text).strip()


def visible_length(text: str, unit: Unit) -> int:
    """A floor's length: visible characters other than combining marks (a run of white
    space counts as one), or visible words (punctuation and symbols alone are no word)."""
    seen = visible_text(text)
    if unit == "words":
        return _count_words(seen)
    collapsed = " ".join(seen.split())
    return len(collapsed) - (0 if collapsed.isascii() else len(_MARK.findall(collapsed)))


def spent_length(text: str, unit: Unit) -> int:
    """A ceiling's length: every code point, or every word where anything that is not a
    letter, digit or mark separates words (symbols alone between separators count as one)."""
    if unit == "chars":
        return len(text)
    text = unicodedata.normalize("NFKC", text)
    symbols_alone = _ASCII_SYMBOLS_ALONE if text.isascii() else _SYMBOLS_ALONE
    return _count_words(text) + len(symbols_alone.findall(text))


def visible_words(text: str) -> list[str]:
    """The visible words of ``text``, case-folded: what repetition is counted over."""
    seen = visible_text(text)
    words = _ASCII_WORD.findall(seen) if seen.isascii() else _WORD.findall(seen)
    return [word.casefold() for word in words]


def _count_words(text: str) -> int:
    return len(_ASCII_WORD.findall(text) if text.isascii() else _WORD.findall(text))
