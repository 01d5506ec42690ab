"""What a reader sees of a text, and the two ways a length is counted (floor and ceiling)."""

import pytest

from rewardgate.visible_text import is_blank, spent_length, visible_length, visible_text, visible_words

#: Characters that render as nothing, one per kind a policy could reach for.
INVISIBLE = {
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "zero-width joiner": "\u200d",
    "word joiner": "\u2060",
    "invisible times": "\u2062",
    "byte-order mark": "\ufeff",
    "soft hyphen": "\u00ad",
    "left-to-right mark": "\u200e",
    "right-to-left override": "\u202e",
    "mongolian vowel separator": "\u180e",
    "variation selector 16": "\ufe0f",
    "variation selector 256": "\U000e01ef",
    "tag latin small a": "\U000e0061",
    "combining grapheme joiner": "\u034f",
    "null": "\x00",
    "escape": "\x1b",
    "reserved default-ignorable": "\U000e0fff",
    "arabic letter mark": "\u061c",
    "interlinear annotation anchor": "\ufff9",
}
#: Characters that render as blank space without being ASCII white space.
BLANK_LOOKING = {
    "hangul filler": "\u3164",
    "halfwidth hangul filler": "\uffa0",
    "hangul choseong filler": "\u115f",
    "braille blank": "\u2800",
    "no-break space": "\u00a0",
    "ideographic space": "\u3000",
    "em space": "\u2003",
    "ogham space mark": "\u1680",
    "line separator": "\u2028",
}


@pytest.mark.parametrize("name", [*INVISIBLE, *BLANK_LOOKING])
def test_invisible_and_blank_looking_characters_are_blank(name):
    char = {**INVISIBLE, **BLANK_LOOKING}[name]
    assert is_blank(char * 50)
    assert visible_length(char * 50, "chars") == 0
    assert visible_length(f"a{char * 50}b", "words") == (1 if name in INVISIBLE else 2)


def test_combining_marks_count_only_on_a_visible_base():
    assert is_blank("\u0301" * 30)  # marks on nothing
    assert is_blank(" \u0301\u0302 \n\u0303")  # marks on white space
    assert visible_length("a" + "\u0301" * 200, "chars") == 1  # a stack counts once
    assert visible_text("e\u0301") == "\u00e9"  # NFKC composes


def test_width_variants_and_ligatures_read_as_their_plain_letters():
    assert visible_text("\uff37\uff4f\uff52\uff44 \ufb01ne") == "Word fine"


@pytest.mark.parametrize("glue", [*INVISIBLE.values(), *BLANK_LOOKING.values(), ".", "-", "\u00b7", "/"])
def test_a_ceiling_counts_every_word_however_it_is_glued(glue):
    assert spent_length(glue.join(["word"] * 300), "words") == 300


def test_a_ceiling_counts_every_code_point():
    assert spent_length("a" + "\u200b" * 99, "chars") == 100
    assert spent_length("a" + "\u0301" * 99, "chars") == 100


def test_a_floor_does_not_count_invisible_padding():
    padded = "\u200b".join("word")  # w\u200bo\u200br\u200bd reads as one word
    assert visible_length(padded, "words") == 1
    assert visible_length(padded, "chars") == 4
    assert visible_length("! ? ... --", "words") == 0  # punctuation alone is no word
    assert visible_length("a" + " " * 500 + "b", "chars") == 3  # a run of spaces counts once


def test_unspaced_scripts_count_a_word_per_letter():
    assert spent_length("这是一个很长的句子", "words") == 9
    assert visible_length("これはテスト", "words") == 6
    assert spent_length("plain english words", "words") == 3


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("The cat sat.", ["the", "cat", "sat"]),
        ("THE c\u200bat, SAT!", ["the", "cat", "sat"]),
        ("\uff34\uff28\uff25 cat", ["the", "cat"]),
    ],
)
def test_visible_words_ignore_case_width_punctuation_and_invisible_characters(text, words):
    assert visible_words(text) == words


def test_visible_text_is_idempotent_and_keeps_line_breaks():
    text = "a\u200b b\r\nc\u2028d\u3164e"
    once = visible_text(text)
    assert once == "a b\nc\nd e"
    assert visible_text(once) == once
