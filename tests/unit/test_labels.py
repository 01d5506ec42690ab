"""A label becomes a reference by one documented rule, the same on every path (docs/rules.md#labels).

Generalisation under test: a label that text could be read more than one way
(a list read as an interval, a float in exponent notation read as Euler's e)
is written unambiguously or refused with a message, never guessed; and the
service's compat routes and the client's OpenRLHF, slime and verl adapters
agree on every label.
"""

import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from rewardgate_client.integrations import openrlhf, slime, trl, verl
from rewardgate_client.labels import AmbiguousLabel, reference_from_label

from rewardgate.api.http.compat import openrlhf_items, slime_reference
from rewardgate.api.http.schemas import OpenRLHFRewardRequest, SlimeRewardRequest
from rewardgate.errors import InvalidInput, InvalidReference
from rewardgate.eval.data import PAIRS, DataError, read_records
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.registry import build_rule

CALLS = [{"name": "search", "arguments": {"q": "cats"}}]
CASES = {"inputs": ["1 2"], "outputs": ["3"]}
LABELS = [
    ("4", "4"),
    ("[2, 3]", "[2, 3]"),  # text is taken as written: an interval when the dataset says so
    (4, "4"),
    (2.5, "2.5"),
    (1e-07, "0.0000001"),  # not "1e-07", which math reads as 1*e - 7
    (1.5e20, "150000000000000000000"),
    (-3.0, "-3.0"),
    (True, "true"),
    ([4], "4"),
    (["x = 2"], "x = 2"),
    ([2, 2], "2"),
    ({"answer": 4}, "4"),
    ({"ground_truth": [1e-07], "source": "gsm8k"}, "0.0000001"),
    ({"answer": None, "solution": "7"}, "7"),
    ([], "[]"),  # tool calls: none expected
    (CALLS, json.dumps(CALLS)),
    (CASES, json.dumps(CASES)),
    ([[1, 2], [3]], "[[1, 2], [3]]"),
    (None, None),
]
AMBIGUOUS = [[2, 3], ["Paris", "Lyon"], [0.5, 1], ["2", 3], [True, False], {"answer": [1, 2]}]


def server_openrlhf(label):
    body = OpenRLHFRewardRequest(query=["question answer"], prompts=["question"], labels=[label])
    return openrlhf_items(body)[0].item.reference


def server_slime(label):
    return slime_reference(SlimeRewardRequest(prompt="question", response="answer", label=label))[0]


def client_openrlhf(label):
    sent = []

    class Client:
        def score(self, items, pipeline, **options):
            sent.extend(items)
            return []

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(openrlhf, "shared_client", lambda url, **kwargs: Client())
        openrlhf.make_reward_func("http://unused", "math")(["question answer"], ["question"], [label])
    return sent[0].get("reference")


def client_slime(label):
    sample = SimpleNamespace(
        prompt="question", response="answer", label=label, metadata=None, group_index=None
    )
    return slime._item(sample).get("reference")


def client_verl(label):
    return verl._item("answer", label, {"question": "question"}).get("reference")


def client_trl(label):
    (item,) = trl._items(["question"], ["answer"], {"solution": [label]}, "solution", None, False)
    return item.get("reference")


def eval_records(label):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "pairs.jsonl"
        path.write_text(
            json.dumps({"prompt": "q", "chosen": "a", "rejected": "b", "reference": label}) + "\n"
        )
        (record,) = read_records(path, PAIRS)
    return record.reference


PATHS = {
    "reference_from_label": lambda label: reference_from_label(label)[0],
    "/get_reward": server_openrlhf,
    "/slime/reward": server_slime,
    "openrlhf adapter": client_openrlhf,
    "slime adapter": client_slime,
    "verl adapter": client_verl,
    "trl adapter": client_trl,
    "rewardgate eval": eval_records,
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize(("label", "reference"), LABELS, ids=[repr(label)[:40] for label, _ in LABELS])
def test_every_path_reads_a_label_the_same_way(path, label, reference):
    assert PATHS[path](label) == reference


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("label", AMBIGUOUS, ids=[json.dumps(label) for label in AMBIGUOUS])
def test_a_list_of_several_plain_answers_is_refused_on_every_path(path, label):
    server = path.startswith("/")
    refusal = DataError if path == "rewardgate eval" else InvalidInput if server else AmbiguousLabel
    with pytest.raises(refusal, match="several answers") as refused:
        PATHS[path](label)
    if path == "/get_reward":
        assert refused.value.message.startswith("labels[0]:")
    if path == "rewardgate eval":
        assert str(refused.value).startswith("line 1: reference:")
    if path == "/slime/reward":
        assert refused.value.message.startswith("label:")


def test_the_refusal_says_how_to_write_each_reading():
    with pytest.raises(AmbiguousLabel) as refused:
        reference_from_label([2, 3])
    assert "'2, 3'" in str(refused.value) and "'[2, 3]' for an interval" in str(refused.value)


def test_a_dict_label_joins_the_metadata():
    reference, metadata = reference_from_label({"answer": "4", "source": "gsm8k"}, {"split": "train"})
    assert reference == "4"
    assert metadata == {"split": "train", "label": {"answer": "4", "source": "gsm8k"}}


@pytest.mark.parametrize(
    ("label", "response", "expected"),
    [
        (1e-07, "\\boxed{10^{-7}}", 1.0),
        (1e-07, "\\boxed{e - 7}", 0.0),  # what "1e-07" read as math used to equal
        (1.5e20, "\\boxed{1.5 \\times 10^{20}}", 1.0),
        ([2], "\\boxed{2}", 1.0),
        ("[2, 3]", "\\boxed{[2, 3]}", 1.0),
    ],
)
def test_math_grades_the_label_as_written(label, response, expected):
    reference, _ = reference_from_label(label)
    rule = build_rule("math_verify", {})
    assert rule.grade(ScoringItem("", response, reference, {})) == expected


@pytest.mark.parametrize(
    "label", [[{"answer": 2}], {"answer": {"value": 2}}, '["2", "3"]', '{"value": 2}', '"2"']
)
def test_math_refuses_structured_data_instead_of_reading_a_number_out_of_it(label):
    reference, _ = reference_from_label(label)
    with pytest.raises(InvalidReference, match="not a math answer"):
        build_rule("math_verify", {}).grade(ScoringItem("", "\\boxed{2}", reference, {}))
