"""The shipped vision pipelines (rewardgate/defaults/pipelines.yaml: grounding, doc_qa) and the
examples/vlm-pipelines.yaml file on the model `rewardgate random-model --kind vision_reward_model` writes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewardgate.config.pipeline_file import load_config
from rewardgate.core.calls import CallItem, CallOptions, ScoreCall
from rewardgate.core.validation import Limits, validate_call
from rewardgate.eval.vision_samples import write_all
from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.vision_reward_model import VisionRewardModelRunner
from tests.support.images import data_url, png
from tests.support.server import score_ok

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[2]
PICTURE = png(200, 100, box=(40, 20, 80, 60))


def with_picture(response: str, reference: str) -> dict:
    content = [
        {"type": "image_url", "image_url": {"url": data_url(PICTURE)}},
        {"type": "text", "text": "Where?"},
    ]
    return {"prompt": [{"role": "user", "content": content}], "response": response, "reference": reference}


GROUNDING_CASES = [
    ("[40, 20, 80, 60]", 1.1),  # IoU 1 at both thresholds + the box format term
    ('{"bbox_2d": [41, 21, 80, 60]}', 1.1),
    ("[40, 20, 62, 60]", 0.6),  # IoU 0.55: reaches 0.5 only (half the thresholds) + the format term
    ("[0, 0, 200, 100]", 0.1),  # the whole image: a box, but no IoU
    (" ".join(f"[{x}, 20, {x + 40}, 60]" for x in range(0, 160, 10)), 0.1 + 1 / 16),  # a sweep of boxes
    ("[40, 20, 80, 60] [40, 20, 80, 60] [40, 20, 80, 60]", 0.1 + 1 / 3),  # the right box repeated
    ("[-500, -500, 80, 60]", 0.1),  # outside the image
    ("the cat is on the left", 0.0),
]


def test_grounding_rewards_the_box_and_not_the_hacks(default_service):
    items = [with_picture(response, "[40, 20, 80, 60]") for response, _ in GROUNDING_CASES]
    results = score_ok(default_service, "grounding", items, cache=False)["results"]
    got = [
        (case[0], pytest.approx(result["reward"]))
        for case, result in zip(GROUNDING_CASES, results, strict=True)
    ]
    assert got == [(response, reward) for response, reward in GROUNDING_CASES]


DOC_QA_CASES = [
    ("INVOICE  12", '["invoice 12", "12"]', 1.0),  # case and spacing
    ("invoice 12.", "invoice 12", 1.0),  # a full stop
    ("lnvoice 12", "invoice 12", 0.8),  # one edit in 10 characters: 1 - 0.1 / 0.5
    ("invoice 12, 12, total, 13, date", '["invoice 12", "12"]', 0.0),  # every answer listed
    ("Acme Corporation, Apex Holdings", "Acme Corporation", 0.0),  # was 0.52: listed, worst is 0
    ("either Apex Holdings or Acme Corporation", "Acme Corporation", 0.0),
    ("INV-20417 / INV-20471", "INV-20417", 1 - 2 * 2 / 9),  # the worst: the wrong code alone (2 edits)
    ("Acme Coroldings", "Acme Corporation", 1 - 2 * 7 / 16),  # a splice: was 0.56, below committing's 0.5
    ("Smith, John", "Smith, John", 1.0),  # a reference that is itself a list
]


def test_doc_qa_pays_answers_and_typos_not_lists_or_splices(default_service):
    items = [with_picture(response, reference) for response, reference, _ in DOC_QA_CASES]
    results = score_ok(default_service, "doc_qa", items, cache=False)["results"]
    got = [(case[0], pytest.approx(r["reward"])) for case, r in zip(DOC_QA_CASES, results, strict=True)]
    assert got == [(response, reward) for response, _, reward in DOC_QA_CASES]


def test_the_vlm_example_file_runs_on_the_model_random_model_writes(tmp_path, monkeypatch):
    out = tmp_path / "models" / "tiny-vlm"
    command = [
        sys.executable,
        "-m",
        "rewardgate",
        "random-model",
        "--kind",
        "vision_reward_model",
        "--out",
        str(out),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    monkeypatch.chdir(tmp_path)
    config = load_config(REPO_ROOT / "examples" / "vlm-pipelines.yaml")
    assert {"vlm_rm", "grounding_qwen2vl", "gui_agent", "counting", "chart_qa"} <= set(config.pipelines)
    runner = VisionRewardModelRunner(config.models["tiny_vlm"].path)
    call = ScoreCall(
        "vlm_rm", [CallItem(None, ScoringItem(**with_picture("A box.", "")), None)], CallOptions()
    )
    (item,) = validate_call(call, Limits(4, 10_000, 10_000, 60_000)).items
    (work,) = runner.encode_many([item])
    assert len(runner.forward([work.payload])[0]) == 1


SAMPLES = REPO_ROOT / "rewardgate" / "eval" / "samples"


def _without_pixels(path: Path) -> list[dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    for record in records:
        record["prompt"][0]["content"][0]["image_url"]["url"] = record["prompt"][0]["content"][0][
            "image_url"
        ]["url"].startswith("data:image/png;base64,")
    return records


def test_the_shipped_vision_sets_are_what_the_generator_draws(tmp_path):
    for written in write_all(tmp_path):
        assert _without_pixels(written) == _without_pixels(SAMPLES / written.name)


@pytest.mark.parametrize("task", ["grounding", "counting", "doc_qa"])
def test_rewardgate_eval_on_the_vision_sets(tmp_path, task):
    out = tmp_path / task
    command = [sys.executable, "-m", "rewardgate", "eval", str(SAMPLES / f"vision_{task}_pairs.jsonl")]
    done = subprocess.run(
        [*command, "--pipeline", task, "--out", str(out)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["overall"]["wins"] == report["overall"]["pairs"] > 0  # every hack loses to the right answer
