"""The reward algebra through /v1/score and /v1/compare on a running service.

Tiny local reward models (two heads, and a second single-head model), a tiny
token-classification process reward model and real rules. Expected values
are computed by hand from the raw component scores the same service returns
(pipeline ``raw``), so each check is independent of the random weights.
"""

import json
import math
import time

import grpc
import httpx
import pytest
from rewardgate_client.v1 import reward_pb2 as pb
from rewardgate_client.v1 import reward_pb2_grpc

from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess
from tests.support.server import score_ok as score
from tests.support.tiny_models import build_process_reward_model, build_reward_model


def sigmoid(x):
    return 1 / (1 + math.exp(-x))


PIPELINES = {
    "raw": {
        "components": {
            "a": {"model": "rm2", "head": "head0"},
            "b": {"model": "rm2", "head": "head1"},
            "c": {"model": "rm1"},
        },
        # A multi-objective direction: the request chooses it within these bounds; c is the pipeline's.
        "overridable": {"weights": {"a": [-1, 1], "b": [-1, 1]}},
    },
    "ensemble_penalised": {
        "components": {
            "a": {"model": "rm2", "head": "head0"},
            "b": {"model": "rm2", "head": "head1"},
            "c": {"model": "rm1"},
            "ens": {
                "ensemble": {
                    "members": ["a", "b", "c"],
                    "aggregate": "mean_minus_std",
                    "lambda": 0.5,
                    "standardize": False,
                }
            },
        },
    },
    "ensemble_standardised": {
        "components": {
            "a": {"model": "rm2", "head": "head0"},
            "c": {"model": "rm1"},
            "ens": {"ensemble": {"members": ["a", "c"], "aggregate": "mean"}},
        },
    },
    "shaped": {
        "components": {
            "lin": {
                "model": "rm2",
                "head": "head0",
                "transform": [
                    {"type": "affine", "scale": 2.0, "shift": 1.0},
                    {"type": "clip", "min": -1, "max": 1},
                ],
            },
            "grp": {
                "model": "rm2",
                "head": "head1",
                "transform": {"type": "log_sigmoid", "ref": "group_mean"},
            },
            "vsref": {"model": "rm1", "transform": {"type": "par", "ref": "reference"}},
        },
        "combine": {"weights": {"lin": 1.0, "grp": 1.0, "vsref": 1.0}},
    },
    "gated": {
        "components": {
            "correct": {"rule": "exact"},
            "fmt": {"rule": "boxed"},
            "style": {"model": "rm1"},
        },
        "combine": {"weights": {"correct": 1.0, "style": 0.5}},
        "gates": [{"components": ["style"], "if": "correct >= 1", "otherwise": 0.0}],
        "constraints": [{"if": "fmt < 1", "reward": -1.0, "name": "boxed_answer"}],
    },
    "product": {
        "components": {"correct": {"rule": "exact"}, "p": {"model": "rm1", "transform": {"type": "par"}}},
        "combine": {"type": "product"},
    },
    "minimum": {
        "components": {"a": {"model": "rm2", "head": 0}, "c": {"model": "rm1"}},
        "combine": {"type": "min", "weights": {"a": 1.0, "c": 2.0}},
    },
    "lengthy": {
        "components": {"correct": {"rule": "exact"}},
        "length_penalty": {"type": "overlong", "max_length": 10, "cache_length": 5, "coefficient": 0.5},
    },
    "exact_only": {"components": {"correct": {"rule": "exact"}}},
    "style_only": {"components": {"style": {"model": "rm1"}}},
    "routed": {
        "components": {
            "task": {"route": {"field": "task", "pipelines": {"qa": "exact_only", "chat": "style_only"}}},
        },
    },
    "routed_by_classifier": {
        "components": {
            "task": {
                "route": {"classifier": "rm2", "pipelines": {"head0": "exact_only", "head1": "style_only"}}
            },
        },
    },
    "stepwise_rule": {
        "components": {
            "digits": {
                "rule": "digit",
                "steps": {"split": {"delimiter": "\n\n"}, "aggregate": "clipped_sum"},
            },
        },
    },
    "stepwise_prm": {
        "components": {
            "prm": {"model": "prm", "steps": {"split": {"tag": "step"}, "aggregate": "min"}},
        },
    },
    "stepwise_prefix": {
        "components": {
            "orm": {
                "model": "rm1",
                "steps": {"split": {"delimiter": "\n\n"}, "context": "prefix", "aggregate": "last"},
            },
            "whole": {"model": "rm1"},
        },
        "combine": {"weights": {"orm": 1.0}},
    },
}


@pytest.fixture(scope="module")
def algebra(tmp_path_factory):
    root = tmp_path_factory.mktemp("algebra")
    config = {
        "models": {
            "rm2": {
                "kind": "reward_model",
                "path": str(build_reward_model(root / "rm2", num_labels=2)),
                "max_length": 512,
            },
            "rm1": {
                "kind": "reward_model",
                "path": str(build_reward_model(root / "rm1", seed=1)),
                "max_length": 512,
            },
            "prm": {
                "kind": "process_reward_model",
                "path": str(build_process_reward_model(root / "prm")),
                "max_length": 512,
            },
        },
        "rules": {
            "exact": {"type": "normalized_match"},
            "boxed": {"type": "regex", "pattern": r"\\boxed\{.+\}"},
            "digit": {"type": "regex", "pattern": r"[0-9]"},
        },
        "pipelines": PIPELINES,
    }
    process = ServiceProcess(write_config(root / "pipelines.yaml", config), log_path=root / "log")
    try:
        yield process.wait()
    finally:
        process.stop()


ITEMS = [
    {"prompt": "What is two plus two?", "response": "The answer is four.", "reference": "four"},
    {"prompt": "What is two plus two?", "response": "four", "reference": "four"},
    {"prompt": "Reward models score responses.", "response": "The quick brown fox.", "reference": "four"},
]


def raw(service, items):
    return [r["components"] for r in score(service, "raw", items)["results"]]


def test_ensemble_mean_minus_lambda_std(algebra):
    expected = []
    for c in raw(algebra, ITEMS):
        values = [c["a"], c["b"], c["c"]]
        mean = sum(values) / 3
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
        expected.append(mean - 0.5 * std)
    results = score(algebra, "ensemble_penalised", ITEMS)["results"]
    assert [r["reward"] for r in results] == pytest.approx(expected, rel=1e-9)
    assert all(r["components"]["ens"] == r["reward"] for r in results)


def test_transforms_affine_clip_group_mean_and_reference(algebra):
    items = [dict(item, group="g1") for item in ITEMS[:2]] + [dict(ITEMS[2], group="g2")]
    raws = raw(algebra, items)
    references = raw(algebra, [dict(item, response=item["reference"]) for item in items])
    group_mean = {"g1": (raws[0]["b"] + raws[1]["b"]) / 2, "g2": raws[2]["b"]}
    results = score(algebra, "shaped", items)["results"]
    for item, c, ref, result in zip(items, raws, references, results, strict=True):
        lin = max(-1.0, min(1.0, 2 * c["a"] + 1))
        grp = math.log(sigmoid(c["b"] - group_mean[item["group"]]))
        vsref = sigmoid(c["c"] - ref["c"])
        assert result["components"] == pytest.approx({"lin": lin, "grp": grp, "vsref": vsref}, rel=1e-9)
        assert result["reward"] == pytest.approx(lin + grp + vsref, rel=1e-9)


def test_group_relative_transform_uses_exactly_the_groups_in_the_request(algebra):
    grouped = [dict(ITEMS[0], group="g"), dict(ITEMS[1], group="g"), dict(ITEMS[2], group="other")]
    alone = score(algebra, "shaped", [grouped[0]])["results"][0]["components"]["grp"]
    together = score(algebra, "shaped", grouped)["results"][0]["components"]["grp"]
    assert alone == pytest.approx(math.log(0.5))  # its own group of one: r - r_ref = 0
    assert together != pytest.approx(alone)


def test_group_transform_without_group_and_reference_transform_without_reference_are_item_errors(algebra):
    result = score(algebra, "shaped", [{"prompt": "p", "response": "four"}])["results"][0]
    assert result["status"] == "error" and result["reward"] is None
    assert result["errors"]["grp"]["type"] == "invalid_component_input"
    assert result["errors"]["vsref"]["type"] == "invalid_reference"


def test_gate_counts_style_only_when_correct_and_constraint_overrides(algebra):
    items = [
        {"response": "\\boxed{four}", "reference": "\\boxed{four}"},  # correct, boxed
        {"response": "\\boxed{five}", "reference": "\\boxed{four}"},  # wrong, boxed: gate closed
        {"response": "four", "reference": "four"},  # correct but not boxed: constraint
    ]
    style = [c["c"] for c in raw(algebra, items)]
    results = score(algebra, "gated", items, explain=True)["results"]
    assert results[0]["reward"] == pytest.approx(1.0 + 0.5 * style[0])
    assert results[1]["reward"] == pytest.approx(0.0)
    assert results[1]["components"]["style"] == pytest.approx(style[1])  # reported, not counted
    assert results[2]["reward"] == -1.0
    root = results[2]["explanation"]
    assert root["op"] == "constraint" and "boxed_answer" in root["formula"]
    gate_ops = json.dumps(results[1]["explanation"])
    assert '"op": "gate"' in gate_ops and "correct >= 1" in gate_ops


def test_product_and_min_combinations(algebra):
    items = [{"response": "four", "reference": "four"}, {"response": "five", "reference": "four"}]
    style = [c["c"] for c in raw(algebra, items)]
    product = score(algebra, "product", items)["results"]
    assert product[0]["reward"] == pytest.approx(sigmoid(style[0]))
    assert product[1]["reward"] == 0.0  # a wrong answer multiplies to zero: declared, not a stand-in
    both = raw(algebra, items)
    minimum = score(algebra, "minimum", items)["results"]
    assert [r["reward"] for r in minimum] == pytest.approx([min(c["a"], 2 * c["c"]) for c in both])


def test_overlong_length_penalty(algebra):
    items = [{"response": "four", "reference": "four"}, {"response": "four " * 8, "reference": "four"}]
    results = score(algebra, "lengthy", items)["results"]
    assert results[0]["reward"] == pytest.approx(1.0)
    # 8 words, soft zone 5..10: penalty (5 - 8) / 5 = -0.6, times 0.5; the answer is also wrong
    assert results[1]["reward"] == pytest.approx(0.0 + 0.5 * -0.6)


def test_route_by_metadata_and_missing_route_is_an_item_error(algebra):
    items = [
        {"response": "four", "reference": "four", "metadata": {"task": "qa"}},
        {"response": "four", "reference": "four", "metadata": {"task": "chat"}},
        {"response": "four", "reference": "four", "metadata": {"task": "poetry"}},
    ]
    style = raw(algebra, items[1:2])[0]["c"]
    results = score(algebra, "routed", items, explain=True)["results"]
    assert results[0]["reward"] == 1.0 and results[0]["components"]["task.correct"] == 1.0
    assert results[1]["reward"] == pytest.approx(style)
    assert results[1]["explanation"]["inputs"][0]["op"] == "route:style_only"
    assert results[2]["status"] == "error" and results[2]["reward"] is None
    assert "poetry" in results[2]["errors"]["task"]["message"]


def test_route_by_classifier_head(algebra):
    results = score(algebra, "routed_by_classifier", ITEMS)["results"]
    for c, item, result in zip(raw(algebra, ITEMS), ITEMS, results, strict=True):
        if c["a"] >= c["b"]:
            assert result["reward"] == (1.0 if item["response"] == item["reference"] else 0.0)
        else:
            assert result["reward"] == pytest.approx(c["c"])


def test_process_reward_from_a_rule_per_step(algebra):
    item = {"response": "First add 2 and 2.\n\nThat makes four.\n\nSo 4.\n\n"}
    result = score(algebra, "stepwise_rule", [item], return_steps=True)["results"][0]
    assert result["steps"]["digits"]["rewards"] == [1.0, 0.0, 1.0]
    assert result["steps"]["digits"]["deltas"] == [1.0, -1.0, 1.0]
    assert result["reward"] == pytest.approx(-1.0)  # clipped_sum: one step below 1


def test_process_reward_model_scores_each_step_and_aggregates_by_min(algebra):
    item = {"prompt": "What is two plus two?", "response": "<step>two plus two</step><step>is four</step>"}
    result = score(algebra, "stepwise_prm", [item], return_steps=True, explain=True)["results"][0]
    steps = result["steps"]["prm"]["rewards"]
    assert len(steps) == 2 and all(0 < s < 1 for s in steps)  # softmax probability of the good label
    assert result["reward"] == pytest.approx(min(steps))
    assert result["steps"]["prm"]["deltas"] == pytest.approx([steps[0] - steps[1], steps[1]])
    # Causal model: the first step's score does not depend on what follows it.
    first = score(
        algebra, "stepwise_prm", [dict(item, response="<step>two plus two</step>")], return_steps=True
    )
    assert first["results"][0]["steps"]["prm"]["rewards"][0] == pytest.approx(steps[0], abs=1e-5)


def test_no_steps_is_an_item_error(algebra):
    result = score(algebra, "stepwise_prm", [{"response": "no tags here"}])["results"][0]
    assert result["status"] == "error" and result["errors"]["prm"]["type"] == "invalid_component_input"


def test_prefix_context_last_step_equals_the_whole_response_score(algebra):
    item = {"prompt": "p", "response": "one\n\ntwo"}
    result = score(algebra, "stepwise_prefix", [item])["results"][0]
    assert result["components"]["orm"] == pytest.approx(result["components"]["whole"], abs=1e-5)


def test_direction_weights_per_request_combine_heads(algebra):
    c = raw(algebra, ITEMS[:1])[0]
    theta = math.pi / 6
    direction = {"a": math.cos(theta), "b": math.sin(theta)}
    result = score(algebra, "raw", ITEMS[:1], weights=direction)["results"][0]
    expected = math.cos(theta) * c["a"] + math.sin(theta) * c["b"] + c["c"]
    assert result["reward"] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("pipeline", "weights", "named"),
    [
        ("raw", {"c": 0.0}, "options.weights.c"),  # not declared overridable
        ("raw", {"a": 100.0}, "options.weights.a"),  # outside [-1, 1]
        ("raw", {"a": -1.5}, "options.weights.a"),
        ("raw", {"a": 1e308, "b": 1e308}, "options.weights.a"),  # the overflow case: refused before scoring
        ("shaped", {"lin": 1.0}, "options.weights.lin"),  # a pipeline that declares nothing overridable
    ],
)
def test_a_request_cannot_change_what_its_pipeline_does_not_declare(algebra, pipeline, weights, named):
    body = {"pipeline": pipeline, "items": ITEMS[:1], "options": {"weights": weights}}
    response = httpx.post(algebra.url + "/v1/score", json=body, timeout=30)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_input" and named in error["message"]
    with grpc.insecure_channel(algebra.grpc_target) as channel:
        stub = reward_pb2_grpc.RewardServiceStub(channel)
        request = pb.ScoreRequest(
            pipeline=pipeline,
            items=[pb.Item(response=ITEMS[0]["response"], prompt=ITEMS[0].get("prompt", ""))],
            options=pb.ScoreOptions(weights=weights),
        )
        with pytest.raises(grpc.RpcError) as refused:
            stub.Score(request, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert named in refused.value.details()


def test_unknown_weight_name_is_422(algebra):
    response = httpx.post(
        algebra.url + "/v1/score",
        json={"pipeline": "raw", "items": ITEMS[:1], "options": {"weights": {"nope": 1.0}}},
        timeout=30,
    )
    assert response.status_code == 422
    assert "nope" in response.json()["error"]["message"]


def test_explanation_tree_reproduces_the_reward(algebra):
    result = score(algebra, "shaped", [dict(ITEMS[0], group="g")], explain=True)["results"][0]
    root = result["explanation"]
    assert root["op"] == "weighted_sum" and root["value"] == result["reward"]
    assert sum(node["value"] for node in root["inputs"]) == pytest.approx(root["value"])
    lin = next(node for node in root["inputs"] if node["op"] == "clip")
    assert lin["inputs"][0]["op"] == "affine" and lin["inputs"][0]["inputs"][0]["op"] == "model:rm2[head0]"
    assert "2 * " in lin["inputs"][0]["formula"]


def test_compare_gives_both_rewards_and_the_preference_probability(algebra):
    pair = {
        "prompt": "What is two plus two?",
        "response_a": "four",
        "response_b": "The quick brown fox.",
        "reference": "four",
    }
    body = {
        "pipeline": "style_only",
        "pairs": [
            pair,
            dict(pair, id="swapped", response_a=pair["response_b"], response_b=pair["response_a"]),
        ],
        "options": {"beta": 2.0},
    }
    response = httpx.post(algebra.url + "/v1/compare", json=body, timeout=60)
    assert response.status_code == 200, response.text
    first, swapped = response.json()["results"]
    r_a, r_b = first["a"]["reward"], first["b"]["reward"]
    assert first["probability"] == pytest.approx(sigmoid(2.0 * (r_a - r_b)))
    assert swapped["id"] == "swapped"
    assert first["probability"] + swapped["probability"] == pytest.approx(1.0)
    assert response.json()["pipeline_hash"].startswith("sha256:")


def test_compare_with_a_failed_side_has_no_probability(algebra):
    body = {"pipeline": "shaped", "pairs": [{"prompt": "p", "response_a": "x", "response_b": "y"}]}
    result = httpx.post(algebra.url + "/v1/compare", json=body, timeout=60).json()["results"][0]
    assert result["status"] == "error" and result["probability"] is None


def test_running_standardisation_persists_across_restart(tmp_path):
    model = build_reward_model(tmp_path / "rm", seed=1)
    config = write_config(
        tmp_path / "pipelines.yaml",
        {
            "models": {"rm": {"kind": "reward_model", "path": str(model), "max_length": 512}},
            "pipelines": {
                "plain": {"components": {"z": {"model": "rm"}}},
                "running": {"components": {"z": {"model": "rm", "transform": {"type": "standardize"}}}},
            },
        },
    )
    state = tmp_path / "state" / "stats.json"
    env = {"REWARDGATE_STATE_PATH": str(state), "REWARDGATE_STATE_SAVE_INTERVAL_S": "0.2"}
    first = ServiceProcess(config, env=env, log_path=tmp_path / "log1").wait()
    try:
        values = [r["reward"] for r in score(first, "plain", ITEMS)["results"]]
        assert all(r["status"] == "ok" for r in score(first, "running", ITEMS)["results"])
        # Saved periodically while running, not only at shutdown (a crash loses at most one interval).
        deadline = time.monotonic() + 30
        while not state.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert state.exists()
    finally:
        first.stop()  # graceful: the statistics are saved on shutdown
    saved = json.loads(state.read_text())["stats"]
    (entry,) = [v for k, v in saved.items() if k.startswith("running/z@")]
    assert entry["count"] == 3
    assert entry["mean"] == pytest.approx(sum(values) / 3)
    second = ServiceProcess(config, env=env, log_path=tmp_path / "log2").wait()
    try:
        after = score(second, "running", ITEMS[:1])["results"][0]
    finally:
        second.stop()
    # It continues from n=3: the fourth value is standardised against all four.
    four = [*values, values[0]]
    mean = sum(four) / 4
    std = math.sqrt(sum((v - mean) ** 2 for v in four) / 4)
    # (the model runs alone here, batched before: float noise of ~1e-6)
    assert after["reward"] == pytest.approx((values[0] - mean) / std, abs=1e-5)


def test_ensemble_standardises_each_member_with_its_running_statistics(algebra):
    raws = raw(algebra, ITEMS)

    def standardised(values):
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        return [(v - mean) / std for v in values]

    a, c = standardised([r["a"] for r in raws]), standardised([r["c"] for r in raws])
    results = score(algebra, "ensemble_standardised", ITEMS)["results"]  # first use: fresh statistics
    assert [r["reward"] for r in results] == pytest.approx([(x + y) / 2 for x, y in zip(a, c, strict=True)])


def test_shaping_metrics_count_closed_gates_violations_and_response_lengths(algebra):
    before_gate = algebra.metric("rewardgate_gates_closed_total", pipeline="gated", component="style")
    before_violation = algebra.metric(
        "rewardgate_constraint_violations_total", pipeline="gated", constraint="boxed_answer"
    )
    before_count = algebra.metric("rewardgate_response_chars_count", pipeline="gated")
    items = [
        {"response": "\\boxed{five}", "reference": "\\boxed{four}"},  # gate closed
        {"response": "four", "reference": "four"},  # constraint violated
    ]
    score(algebra, "gated", items)
    assert (
        algebra.metric("rewardgate_gates_closed_total", pipeline="gated", component="style")
        == before_gate + 1
    )
    assert (
        algebra.metric("rewardgate_constraint_violations_total", pipeline="gated", constraint="boxed_answer")
        == before_violation + 1
    )
    assert algebra.metric("rewardgate_response_chars_count", pipeline="gated") == before_count + 2
