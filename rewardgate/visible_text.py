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

Words are runs of letters and digits (combining marks inside a word belong
to it); each letter of a script written without spaces between words (Han,
Hiragana, Katakana, Thai, Lao, Khmer, Myanmar) is a word of its own.

Speed: these run inline on the event loop over responses of up to
``max_text_chars``. The character classes come from the ``regex`` module's
Unicode properties once, at import, as explicit BMP ranges for the standard
library's ``re``, which tests them with one bitmap lookup per character, an
order of magnitude faster than ``regex``'s property classes; the few astral
members (plane-1 marks, tag characters) are first mapped to BMP stand-ins of
the same class (bench/inline_rules.py).
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from typing import Literal

import regex

Unit = Literal["chars", "words"]


#: Planes 0, 1 and 14 as one string (surrogates kept, so an index maps back to its code point).
_PLANES = (array("I", range(0x20000)).tobytes() + array("I", range(0xE0000, 0xE1000)).tobytes()).decode(
    "utf-32-le", "surrogatepass"
)


def _members(pattern: str) -> list[tuple[int, int]]:
    """The (first, last) code point ranges that ``pattern`` (a ``regex`` class) matches in planes 0,
    1 and 14, where such characters live (planes 2 and 3, all Han, are added by the caller)."""
    spans = ((m.start(), m.end() - 1) for m in regex.finditer(f"{pattern}+", _PLANES))
    return [(_code_point(first), _code_point(last)) for first, last in spans]


def _code_point(index: int) -> int:
    return index if index < 0x20000 else index - 0x20000 + 0xE0000


def _bmp_class(ranges: list[tuple[int, int]]) -> str:
    """The part of ``ranges`` below U+10000 as ``re`` class ranges. ``re`` tests a class of
    BMP ranges with one bitmap lookup but walks ranges above it one by one (about 80x slower
    per character with the astral marks), so astral members are mapped to BMP stand-ins
    (:data:`_ASTRAL_STAND_INS`) instead."""
    return "".join(f"\\u{first:04x}-\\u{min(last, 0xFFFF):04x}" for first, last in ranges if first < 0x10000)


def _astral(ranges: list[tuple[int, int]], stand_in: str) -> dict[int, str]:
    return {c: stand_in for first, last in ranges for c in range(max(first, 0x10000), last + 1)}


_UNSPACED_SCRIPTS = r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}]"
_UNSPACED_RANGES = _members(rf"(?V1)[{_UNSPACED_SCRIPTS}&&\p{{L}}]")
_MARK_RANGES = _members(r"\p{M}")
#: Characters that render as nothing: default-ignorable code points (zero-width
#: characters, joiners, variation selectors, tags, soft hyphen...), format and
#: control characters other than white space.
_INVISIBLE_RANGES = _members(r"(?V1)[[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Cc}]--[\p{White_Space}]]")
#: Astral members of the classes, as a BMP member of the same class (letters of unspaced
#: scripts stand for themselves: few, and all in plane 1's kana blocks or in planes 2-3).
_ASTRAL_STAND_INS = str.maketrans({**_astral(_MARK_RANGES, "\u0301"), **_astral(_INVISIBLE_RANGES, "\u200b")})
_ASTRAL = re.compile("[\U00010000-\U0001ffff\U000e0000-\U000e0fff]")

_UNSPACED = (
    _bmp_class(_UNSPACED_RANGES)
    + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in _UNSPACED_RANGES if first >= 0x10000)
    + "\\U00020000-\\U0003ffff"
)
_MARKS = _bmp_class(_MARK_RANGES)
_INVISIBLE = _bmp_class(_INVISIBLE_RANGES)
#: Characters that render as blank space without being white space.
_BLANK_LOOKING = "\u115f\u1160\u2800\u3164\uffa0"
#: White space but line feeds (other line breaks become line feeds first), and blank-looking.
_SPACES = _bmp_class(_members(r"(?V1)[\p{White_Space}--[\n]]")) + _BLANK_LOOKING
_BLANK = _SPACES + "\n"

_LINE_BREAKS = re.compile("\r\n|[\r\v\f\x85\u2028\u2029]")
_AS_SPACE = re.compile(f"[{_SPACES}]")
_DROPPED = re.compile(f"[{_INVISIBLE}]+")
_LONE_MARKS = re.compile(f"(?:^|(?<=\\s))[{_MARKS}]+")
_MARK = re.compile(f"[{_MARKS}]")
_VISIBLE = re.compile(f"[^{_BLANK}{_INVISIBLE}{_MARKS}]")
#: Separators other than the plain space and line feed (those already separate words).
_ODD_SEPARATORS = re.compile(f"(?![ \\n])[{_BLANK}{_INVISIBLE}]+")
#: One word: a letter of an unspaced script, or a run of other letters and digits
#: (``\\w`` without ``_``; marks are removed before counting, so they never split a word).
_WORD = re.compile(f"[{_UNSPACED}]|[^\\W_{_UNSPACED}]+")

#: ASCII fast paths, all through ``str.translate`` (a table lookup per character in C).
_ASCII_VISIBLE = re.compile(r"[!-~]")
_ASCII_CLEAN = str.maketrans(
    {**dict.fromkeys([*range(0x09), *range(0x0E, 0x20), 0x7F]), 0x09: " ", 0x0B: "\n", 0x0C: "\n", 0x0D: "\n"}
)
_ASCII_WORDS_ONLY = str.maketrans(
    {c: " " for c in range(0x80) if not chr(c).isalnum()} | {c: chr(c).lower() for c in range(0x41, 0x5B)}
)


def _stand_ins(text: str) -> str:
    """Astral marks and invisible characters as their BMP stand-ins (:data:`_ASTRAL_STAND_INS`)."""
    return text.translate(_ASTRAL_STAND_INS) if _ASTRAL.search(text) else text


def visible_text(text: str) -> str:
    """What a reader sees of ``text``: NFKC; line breaks as ``\\n`` and other blank-looking
    characters as spaces; invisible characters removed; marks with no visible base
    dropped. Idempotent."""
    if text.isascii():
        return text.replace("\r\n", "\n").translate(_ASCII_CLEAN)
    text = _stand_ins(_LINE_BREAKS.sub("\n", unicodedata.normalize("NFKC", text)))
    return _LONE_MARKS.sub("", _DROPPED.sub("", _AS_SPACE.sub(" ", text)))


def is_blank(text: str) -> bool:
    """True when a reader sees nothing but white space in ``text`` (``visible_text(text)``
    is blank); stops at the first visible character."""
    if text.isascii():
        return _ASCII_VISIBLE.search(text) is None
    return _VISIBLE.search(_stand_ins(unicodedata.normalize("NFKC", text))) is None


def visible_length(text: str, unit: Unit) -> int:
    """A floor's length: visible characters other than combining marks (a run of white
    space counts as one), or visible words (punctuation and symbols alone are no word)."""
    seen = visible_text(text)
    if unit == "words":
        return len(_words(seen))
    collapsed = " ".join(seen.split())
    return len(collapsed) if collapsed.isascii() else len(_MARK.sub("", collapsed))


def spent_length(text: str, unit: Unit) -> int:
    """A ceiling's length: every code point; or words, at least as many as there are runs of
    letters and digits (anything else separates them: text glued with invisible characters
    or punctuation still counts word by word) and at least as many as there are chunks
    between separators (so punctuation alone counts too). Not NFKC-normalised:
    compatibility variants are letters, digits or separators alike."""
    if unit == "chars":
        return len(text)
    if not text.isascii():
        text = _ODD_SEPARATORS.sub(" ", _stand_ins(text))
    return max(len(text.split()), len(_words(text)))


def visible_words(text: str) -> list[str]:
    """The visible words of ``text``, case-folded: what repetition is counted over."""
    return [word.casefold() for word in _words(visible_text(text))]


def _words(text: str) -> list[str]:
    """Runs of letters and digits (ASCII ones lower-cased), each letter of an unspaced script
    on its own; combining marks are removed first so they never split a word."""
    if text.isascii():
        return text.translate(_ASCII_WORDS_ONLY).split()
    return _WORD.findall(_MARK.sub("", text))
