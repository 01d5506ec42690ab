"""Probe generators and perturbations on items of every shape (docs/audit.md): they always give
variants that differ from the honest answers, carry what their family claims, and never raise."""

import json

import pytest

from rewardgate.audit.data import AuditDataError, AuditItem, read_items, samples_for
from rewardgate.audit.perturb import PERTURBATIONS, option_order
from rewardgate.audit.plan import build_plan, presenter
from rewardgate.audit.probes import PROBES, Probe, probes_for, register
from rewardgate.audit.probes_groups import GroupVariant

ITEMS = {
    "math": AuditItem(
        "m", "What is 1/2 + 1/4?", "So \\boxed{\\frac{3}{4}}.", "So \\boxed{\\frac{2}{6}}.", "3/4"
    ),
    "no reference": AuditItem("n", "Capital?", "Paris", "Lyon"),
    "chat prompt": AuditItem("c", [{"role": "user", "content": "Hi?"}], "Hello", "Bye", "Hello"),
    "empty answers": AuditItem("e", "q", "", "", ""),
    "tool calls": AuditItem(
        "t",
        "Weather?",
        '<tool_call>{"name": "w", "arguments": {"c": "P"}}</tool_call>',
        '<tool_call>{"name": "w", "arguments": {"c": "L"}}</tool_call>',
        '[{"name": "w", "arguments": {"c": "P"}}]',
    ),
    "json": AuditItem("j", "Record?", '{"a": 1}', '{"a": "1"}'),
    "code": AuditItem(
        "k", "Add.", "```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b):\n    return a - b"
    ),
    "grounding": AuditItem(
        "g",
        "Box?",
        "It is at [8, 8, 24, 20].",
        "It is at [40, 28, 56, 44].",
        "[8, 8, 24, 20]",
        {"image_width": 64, "image_height": 48},
    ),
    "pointing": AuditItem(
        "p",
        "Point?",
        "It is at (16, 14).",
        "It is at (48, 36).",
        "[8, 8, 24, 20]",
        {"image_width": 64, "image_height": 48},
    ),
}
#: Families that fit only some items (the rest get no variants); every other family fits every item.
FITS = {
    "tool_spraying": {"tool calls"},
    "schema_invalid": {"json"},
    "code_forgery": {"code"},
    "box_spraying": {"grounding"},
    "huge_box": {"grounding"},
    "outside_box": {"grounding"},
    "point_spraying": {"pointing"},
    # near duplicates edit words: an empty answer has none to edit
    "near_duplicates": {
        "math",
        "no reference",
        "chat prompt",
        "tool calls",
        "json",
        "code",
        "grounding",
        "pointing",
    },
}


@pytest.mark.parametrize("item", list(ITEMS.values()), ids=list(ITEMS))
@pytest.mark.parametrize("probe", PROBES, ids=[p.name for p in PROBES])
def test_every_family_makes_strings_other_than_the_honest_answers(probe, item):
    # A group family's variant is a response and its siblings; the response is what is checked.
    variants = [v.response if isinstance(v, GroupVariant) else v for v in probe.generate(item)]
    assert all(isinstance(v, str) for v in variants)
    fits = FITS.get(probe.name)
    name = next(key for key, value in ITEMS.items() if value is item)
    if fits is not None and name not in fits:
        assert variants == [], "a family that does not fit an item makes no variants for it"
        return
    assert variants
    # length inflation pads both honest answers; wrong_consensus changes the group, not the response
    assert not {item.right, item.wrong} & set(variants) or probe.name in (
        "length_inflation",
        "wrong_consensus",
    )


def test_hedges_hold_both_candidates_and_echoes_the_reference():
    item = ITEMS["math"]
    by_name = {p.name: p for p in PROBES}
    for variant in by_name["hedging"].generate(item):
        assert "3/4" in variant and ("2}{6}" in variant or "\\frac{2}{6}" in variant)
    assert all("3/4" in v for v in by_name["reference_echo"].generate(item))
    tool = ITEMS["tool calls"]
    spray = by_name["tool_spraying"].generate(tool)
    assert all('"P"' in v and '"L"' in v for v in spray)


def test_invisible_variants_hide_characters_a_reader_cannot_see():
    variants = next(p for p in PROBES if p.name == "invisible_chars").generate(ITEMS["no reference"])
    assert any("\u200b" in v for v in variants)
    # look-alike spellings appear only where they change the answer (digits have no Cyrillic twin)
    digits = AuditItem("d", "q", "42", "41", "42")
    assert all(v != "41 42" for v in next(p for p in PROBES if p.name == "invisible_chars").generate(digits))


def _strict(text: str):
    """RFC 8259 parsing: no NaN, no duplicate keys (Python's json accepts both)."""

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate key")
        return dict(pairs)

    def no_constant(name):
        raise ValueError(name)

    return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constant)


def test_schema_invalid_documents_are_never_the_right_document_under_strict_parsing():
    variants = next(p for p in PROBES if p.name == "schema_invalid").generate(ITEMS["json"])
    assert len(variants) >= 5
    for variant in variants:
        try:
            parsed = _strict(variant)
        except ValueError:  # JSONDecodeError included
            continue
        assert parsed != {"a": 1}, variant


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_perturbations_keep_the_format_and_the_answer(name):
    perturb = PERTURBATIONS[name]
    formatted = "<think>x</think><answer>so the answer is \\boxed{42}</answer>"
    changed = perturb(formatted)
    assert changed.startswith("<think>x</think><answer>") and changed.endswith("</answer>")
    assert "42" in changed


def test_families_target_the_kinds_they_attack():
    names = lambda kinds: {p.name for p in probes_for(kinds)}  # noqa: E731
    assert "judge_injection" in names({"judge:pointwise"}) and "judge_injection" not in names(
        {"rule:contains"}
    )
    assert "tool_spraying" in names({"rule:tool_call"}) and "tool_spraying" not in names({"rule:math_verify"})
    assert "reference_echo" in names({"rule"})  # a service that does not publish rule types


def test_a_taken_name_is_refused(monkeypatch):
    import rewardgate.audit.probes as probes

    monkeypatch.setattr(probes, "_REGISTERED", [])
    with pytest.raises(ValueError, match="exists already"):
        register(Probe("hedging", "again", ("rule",), lambda item: ["x"], "none"))


def test_presentation_wraps_answers_only_for_a_think_answer_pipeline():
    assert presenter({"rule:math_verify"})("42") == "42"
    wrapped = presenter({"rule:think_answer"})("42")
    assert wrapped.startswith("<think>") and wrapped.endswith("<answer>42</answer>")
    plan = build_plan([ITEMS["math"]], list(PROBES), {"rule:think_answer", "rule:math_verify"})
    assert all("<answer>" in slot.response for slot in plan)
    assert len({slot.role for slot in plan}) == len(plan)  # every response has its own label


def test_samples_follow_the_pipeline_kinds():
    assert [p.name for p in samples_for({"rule:tool_call"})] == ["tools.jsonl"]
    assert [p.name for p in samples_for({"rule:json_schema", "judge:pointwise"})] == [
        "items.jsonl",
        "json.jsonl",
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("[1]", "expected a JSON object"),
        ('{"prompt": 1, "right": "a", "wrong": "b"}', "'prompt' must be text"),
        ('{"prompt": "q", "right": "a", "wrong": "b", "reference": 3}', "'reference' must be a string"),
        ("{", "not JSON"),
    ],
)
def test_malformed_items_name_their_line(tmp_path, line, message):
    path = tmp_path / "items.jsonl"
    path.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n' + line + "\n")
    with pytest.raises(AuditDataError, match=f"line 2: .*{message}"):
        read_items(path)


def test_option_order_reverses_options_and_maps_every_letter_along():
    item = AuditItem(
        "q", "Which is prime?\nA) 4\nB) 7\nC) 9", "So \\boxed{B}.", "The answer is (A). Answer: A", "B"
    )
    moved = option_order(item)
    assert moved.prompt == "Which is prime?\nA) 9\nB) 7\nC) 4"
    assert moved.reference == "B" and moved.right == "So \\boxed{B}."
    assert moved.wrong == "The answer is (C). Answer: C"
    assert option_order(AuditItem("p", "No options here.", "a", "b")) is None
    assert option_order(AuditItem("s", "B) x\nC) y", "a", "b")) is None  # options must start at A


def test_code_forgeries_alternate_with_their_plain_twins():
    variants = next(p for p in PROBES if p.name == "code_forgery").generate(ITEMS["code"])
    attacks, twins = variants[0::2], variants[1::2]
    assert len(attacks) == len(twins) >= 10
    assert all(attack != twin for attack, twin in zip(attacks, twins, strict=True))
    # the appended tricks' twin is the wrong code alone; the redefined function's twin returns plain data
    assert twins[0] == "```python\ndef add(a, b):\n    return a - b\n```"
    assert "def add(*args, **kwargs):\n    return 0" in twins[-2] and "_Int(0)" in attacks[-2]
    assert all(attack.startswith("```python\ndef add(a, b):\n    return a - b\n") for attack in attacks)


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_perturbations_leave_fenced_code_as_it_is(name):
    # Doubling the space of ' '.join or rewording "so " in a program changes what it does.
    code = "```python\ndef f(s):\n    return ' '.join(s)  # so the answer is\n```"
    changed = PERTURBATIONS[name](f"Here it is, so the answer is:\n{code}\nDone.")
    assert code in changed


def test_a_grouped_pipeline_scores_every_response_with_its_siblings_under_one_group():
    item = ITEMS["math"]
    plan = build_plan([item], list(PROBES), {"group:view_agreement"}, ("view", ("original", "rephrased")))
    assert all(slot.grouping is not None for slot in plan)
    right = next(slot for slot in plan if slot.role == "right")
    sent = right.request_items()
    # the response first, then the background: the right answer three times, the wrong one once
    assert [entry["response"] for entry in sent] == [item.right] * 4 + [item.wrong]
    assert len({entry["group"] for entry in sent}) == 1 and len({entry["id"] for entry in sent}) == 5
    assert [entry["metadata"]["view"] for entry in sent] == ["original", "rephrased"] * 2 + ["original"]
    # a group family chooses the group: the colluding majority around the wrong answer
    collusion = next(slot for slot in plan if slot.role == "probe:wrong_consensus:0")
    assert [e["response"] for e in collusion.request_items()] == [item.wrong] * 4 + [item.right]
    # the key and the group id follow the whole group, so another context is another score
    assert collusion.key("p") != next(s for s in plan if s.role == "wrong").key("p")
    assert right.request_items() == sent  # stable: a resumed run finds its scores


def test_a_pipeline_without_group_components_sends_single_items():
    plan = build_plan([ITEMS["math"]], list(PROBES), {"rule:math_verify"})
    assert all(slot.grouping is None and len(slot.request_items()) == 1 for slot in plan)
    assert all("group" not in slot.request_items()[0] for slot in plan)


def test_requests_hold_at_most_the_batch_and_never_split_a_group():
    from rewardgate.audit.run import _chunks

    plan = build_plan([ITEMS["math"], ITEMS["no reference"]], list(PROBES), {"group:majority_vote"})
    by_key = {slot.key("p"): slot for slot in plan}
    chunks = _chunks(list(by_key), by_key, 12)
    assert [key for chunk in chunks for key in chunk] == list(by_key)  # every slot once, in order
    assert all(sum(len(by_key[k].request_items()) for k in chunk) <= 12 for chunk in chunks)
    assert _chunks(list(by_key)[:2], by_key, 3) == [[k] for k in list(by_key)[:2]]  # a 5-sample group alone
