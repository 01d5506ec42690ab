"""rewardgate eval's records, figures and report, without a service."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardgate.eval.data import BEST_OF_N, PAIRS, DataError, Record, detect_mode, read_records
from rewardgate.eval.metrics import jeffreys, pair_verdict, sectioned, top1
from rewardgate.eval.report import build_report, markdown
from rewardgate.eval.runner import chunks, result_of
from rewardgate.eval.targets import ItemScore


def write(tmp_path, *records) -> object:
    path = tmp_path / "data.jsonl"
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


def test_pair_outcomes_and_top1_with_ties():
    assert [pair_verdict(*p) for p in ((1, 0), (0.5, 0.5), (0, 1), (None, 1))] == [
        "win",
        "tie",
        "loss",
        "error",
    ]
    assert top1([0.2, 0.9, 0.9, 0.1], [False, True, False, True]) == 0.5  # two tied at the top, one correct
    assert top1([0.9, 0.1], [True, False]) == 1.0


def test_jeffreys_intervals():
    perfect = jeffreys(np.ones(10))
    assert perfect.value == 1.0 and perfect.high == 1.0
    assert perfect.low == pytest.approx(0.782, abs=0.01)  # Beta(10.5, 0.5) 2.5% quantile
    half = jeffreys(np.array([1.0] * 50 + [0.0] * 50))
    assert (
        half.value == 0.5
        and half.low == pytest.approx(0.402, abs=0.01)
        and half.high == pytest.approx(0.598, abs=0.01)
    )
    assert jeffreys(np.zeros(5)).low == 0.0


def test_the_aggregate_is_the_mean_of_section_scores_not_of_pairs():
    sections = {"chat": np.ones(90), "hard": np.zeros(10)}
    estimate = sectioned(sections)
    assert estimate.value == 0.5  # pooled over pairs it would be 0.9
    assert estimate.low < 0.5 < estimate.high


def test_records_are_checked_line_by_line(tmp_path):
    path = write(
        tmp_path, {"prompt": "p", "chosen": "a", "rejected": "b"}, "", {"prompt": "p", "chosen": "a"}
    )
    assert detect_mode(path) == PAIRS
    with pytest.raises(DataError, match="line 3: 'rejected' is missing"):
        read_records(path, PAIRS)
    with pytest.raises(DataError, match="line 1: not JSON"):
        read_records(write(tmp_path, "{oops"), PAIRS)
    duplicate = write(tmp_path, *[{"id": "x", "prompt": "p", "chosen": "a", "rejected": "b"}] * 2)
    with pytest.raises(DataError, match="id 'x' appears twice"):
        read_records(duplicate, PAIRS)
    bad_labels = write(tmp_path, {"prompt": "p", "responses": ["a", "b"], "correct": [True]})
    assert detect_mode(bad_labels) == BEST_OF_N
    with pytest.raises(DataError, match="one per response"):
        read_records(bad_labels, BEST_OF_N)
    with pytest.raises(DataError, match="neither a pair"):
        detect_mode(write(tmp_path, {"prompt": "p", "answer": "a"}))


def test_a_record_becomes_one_group_of_items_with_defaults(tmp_path):
    path = write(tmp_path, {"prompt": "p", "chosen": "a", "rejected": "b", "reference": 4, "subset": "math"})
    (record,) = read_records(path, PAIRS)
    assert (record.id, record.subset, record.section, record.reference) == ("1", "math", "math", "4")
    assert record.items() == [
        {"prompt": "p", "group": "eval:1", "reference": "4", "id": "1/0", "response": "a"},
        {"prompt": "p", "group": "eval:1", "reference": "4", "id": "1/1", "response": "b"},
    ]


def test_chunks_keep_records_whole():
    records = [Record(str(i), "p", ("a",) * n, "s", "s") for i, n in enumerate([2, 2, 5, 2, 1])]
    assert [[r.id for r in chunk] for chunk in chunks(records, 4)] == [["0", "1"], ["2"], ["3", "4"]]


def test_report_counts_ties_half_and_keeps_errors_apart():
    records = [
        Record(str(i), "p", ("a", "b"), "s" if i < 3 else "t", "s" if i < 3 else "t") for i in range(5)
    ]
    answers = [
        [ItemScore(1.0), ItemScore(0.0)],
        [ItemScore(0.5), ItemScore(0.5)],
        [ItemScore(0.0), ItemScore(1.0)],
        [ItemScore(2.0), ItemScore(1.0)],
        [ItemScore(None, "rule failed"), ItemScore(1.0)],
    ]
    results = [result_of(record, pair, PAIRS) for record, pair in zip(records, answers, strict=True)]
    report = build_report(PAIRS, results, "math", "test")
    overall = report["overall"]
    assert (overall["wins"], overall["ties"], overall["losses"], overall["errors"]) == (2, 1, 1, 1)
    assert overall["accuracy"]["value"] == pytest.approx(2.5 / 4)
    assert overall["strict_accuracy"]["value"] == pytest.approx(2 / 4)
    assert report["subsets"]["s"]["accuracy"]["value"] == pytest.approx(0.5)
    assert report["aggregate"]["accuracy"]["value"] == pytest.approx((0.5 + 1.0) / 2)
    assert results[4]["errors"] == ["rule failed", None]
    text = markdown(report)
    assert "| **overall** | 5 | 2 | 1 | 1 | 1 | 0.625" in text


def test_best_of_n_report_against_random_and_oracle():
    records = [
        Record("a", "p", ("x", "y", "z"), "s", "s", correct=(False, True, False)),
        Record("b", "p", ("x", "y"), "s", "s", correct=(False, False)),
    ]
    results = [
        result_of(records[0], [ItemScore(0.1), ItemScore(0.9), ItemScore(0.3)], BEST_OF_N),
        result_of(records[1], [ItemScore(0.4), ItemScore(0.4)], BEST_OF_N),
    ]
    overall = build_report(BEST_OF_N, results, "math", "test")["overall"]
    assert overall["top1"]["value"] == 0.5
    assert overall["random"]["value"] == pytest.approx((1 / 3 + 0) / 2)
    assert overall["oracle"]["value"] == 0.5
