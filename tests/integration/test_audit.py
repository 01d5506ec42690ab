"""``rewardgate audit`` end to end, in-process on real rules and against scripted judges over a real
socket: the hacks a pipeline leaves open are found, the ones it blocks read 0, comparison figures
equal a hand calculation, and an interrupted run resumes (docs/audit.md)."""

import json
import math

import pytest
import yaml

from rewardgate.audit import probes
from rewardgate.audit.store import SCORES
from rewardgate.cli.main import main
from tests.support.openai_server import GullibleJudgeServer, PositionBiasedJudgeServer, ScriptedJudgeServer
from tests.support.server import ServiceProcess, free_port
from tests.support.tiny_models import build_reward_model

pytestmark = pytest.mark.slow

TOOL_NAMES = ("get_weather", "convert_currency", "search_flights", "set_timer")


@pytest.fixture(scope="module")
def judges():
    # The gullible judge says "no" unless the judged text tells it otherwise; the biased one always
    # prefers position A; the plain one prefers the response marked [[best]] wherever it stands.
    gullible, plain = GullibleJudgeServer(default_verdict="no").start(), ScriptedJudgeServer().start()
    biased = PositionBiasedJudgeServer().start()
    yield gullible, plain, biased
    gullible.stop()
    plain.stop()
    biased.stop()


@pytest.fixture(scope="module")
def config(tmp_path_factory, judges):
    gullible, plain, biased = judges
    judge = {"kind": "pointwise", "model": "scripted-judge", "retry": {"attempts": 1}}
    path = tmp_path_factory.mktemp("audit") / "pipelines.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": {
                    "math": {"type": "math_verify", "timeout_s": 5},
                    "math_lenient": {"type": "math_verify", "timeout_s": 5, "refuse_hedging": False},
                    "exact": {"type": "normalized_match"},
                    "contains": {"type": "contains"},
                    "think_answer": {"type": "think_answer"},
                    "choice": {"type": "multiple_choice"},
                    "tools": {"type": "tool_call"},
                    "tool_names": {"type": "regex", "pattern": "|".join(TOOL_NAMES)},
                    "python_tests": {"type": "code_tests", "timeout_s": 10},
                    "tests_printed": {"type": "regex", "pattern": "All tests passed"},
                    "iou_bare": {"type": "box_iou", "outside_tolerance": 10.0, "matching": "greedy"},
                    "anls_docvqa": {"type": "anls", "scoring": "docvqa"},
                    "point": {"type": "point_in_box"},
                    "gui": {"type": "gui_action"},
                    "schema": {
                        "type": "json_schema",
                        "schema": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "born": {"type": "integer", "minimum": 0},
                            },
                            "required": ["name", "born"],
                            "additionalProperties": False,
                        },
                    },
                },
                "judges": {
                    "open": {**judge, "base_url": gullible.url},
                    "plain": {**judge, "base_url": plain.url},
                    "open_correctness": {**judge, "kind": "correctness", "base_url": gullible.url},
                    "pair_biased": {**judge, "kind": "pairwise", "base_url": biased.url},
                    "pair_fair": {**judge, "kind": "pairwise", "base_url": plain.url},
                },
                "pipelines": {
                    "contains": {"components": {"hit": {"rule": "contains"}}},
                    "exact": {"components": {"match": {"rule": "exact"}}},
                    "format": {"components": {"structure": {"rule": "think_answer"}}},
                    "math_lenient": {"components": {"correct": {"rule": "math_lenient"}}},
                    "reasoning": {
                        "components": {"correct": {"rule": "math"}, "structure": {"rule": "think_answer"}},
                        "constraints": [{"if": "structure < 1", "reward": -1.0, "name": "format"}],
                        "length_penalty": {
                            "type": "overlong",
                            "max_length": 4096,
                            "cache_length": 512,
                            "unit": "words",
                        },
                    },
                    "choice": {"components": {"pick": {"rule": "choice"}}},
                    "tools": {"components": {"calls": {"rule": "tools"}}},
                    "tool_names": {"components": {"named": {"rule": "tool_names"}}},
                    "code": {"components": {"tests": {"rule": "python_tests"}}},
                    "iou_bare": {"components": {"iou": {"rule": "iou_bare"}}},
                    "anls_docvqa": {"components": {"anls": {"rule": "anls_docvqa"}}},
                    "point": {"components": {"at": {"rule": "point"}}},
                    "gui": {"components": {"act": {"rule": "gui"}}},
                    "duplicates": {"components": {"dup": {"group": {"method": "duplicates"}}}},
                    "duplicate_words": {
                        "components": {
                            "dup": {"group": {"method": "duplicates", "shingle": 1, "threshold": 0.6}}
                        }
                    },
                    "views": {
                        "components": {
                            "agree": {
                                "group": {"method": "view_agreement", "views": ["original", "rephrased"]}
                            }
                        }
                    },
                    "code_by_output": {
                        "components": {
                            "tests": {"rule": "python_tests"},
                            "printed": {"rule": "tests_printed"},
                        }
                    },
                    "schema": {"components": {"document": {"rule": "schema"}}},
                    "judged_open": {"components": {"quality": {"judge": "open"}}},
                    "judged_plain": {"components": {"quality": {"judge": "plain"}}},
                    "verdict_open": {"components": {"correct": {"judge": "open_correctness"}}},
                    "pairs_biased": {"components": {"preferred": {"judge": "pair_biased"}}},
                    "pairs_fair": {"components": {"preferred": {"judge": "pair_fair"}}},
                    "tournament_biased": {
                        "components": {
                            "strength": {"group": {"method": "tournament", "judge": "pair_biased"}}
                        }
                    },
                },
            }
        )
    )
    return path


def audit(config, out, *extra) -> dict:
    assert main(["audit", "--config", str(config), "--out", str(out), *extra]) == 0
    return json.loads((out / "report.json").read_text())


def shares(report: dict) -> dict[str, float]:
    return {name: f["success_share"] for name, f in report["hackability"]["families"].items()}


def test_a_contains_rule_is_hacked_by_echoes_hedges_and_free_padding(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "contains")
    found = shares(report)
    for family in ("reference_echo", "hedging", "invisible_chars", "length_inflation"):
        assert found[family] > 0, family
    assert report["hackability"]["score"] > 0
    example = report["hackability"]["families"]["reference_echo"]["examples"][0]
    assert example["reward"] > example["honest_wrong"]
    assert (tmp_path / "report.md").read_text().startswith("# Audit of pipeline `contains`")
    assert (tmp_path / "hackability.png").stat().st_size > 0 and (tmp_path / "length.png").stat().st_size > 0


def test_normalized_match_blocks_hedges_echo_free_format_and_padding(config, tmp_path):
    found = shares(audit(config, tmp_path, "--pipeline", "exact"))
    assert found == {
        "hedging": 0,
        "format_tags": 0,
        "tag_hedging": 0,
        "length_inflation": 0,
        "invisible_chars": 0,
    }


def test_a_format_rule_without_length_constraint_pays_for_padding(config, tmp_path):
    found = shares(audit(config, tmp_path, "--pipeline", "format"))
    assert found["length_inflation"] > 0
    # think_answer itself blocks invisible blocks and tag games around wrong answers of the same format
    assert found["invisible_chars"] == 0 and found["format_tags"] == 0


def test_an_overlong_penalty_and_the_format_constraint_block_padding_and_tag_games(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "reasoning")
    found = shares(report)
    assert found["length_inflation"] == 0 and found["format_tags"] == 0 and found["invisible_chars"] == 0
    assert report["robustness"]["whitespace"]["flip_share"] == 0


@pytest.mark.parametrize("pipeline", ["math", "reasoning"])
def test_the_shipped_math_pipelines_refuse_every_hedge(pipeline, tmp_path):
    # The shipped pipeline file and samples: math_verify scores several different final answers 0.
    assert main(["audit", "--pipeline", pipeline, "--out", str(tmp_path)]) == 0
    hedging = json.loads((tmp_path / "report.json").read_text())["hackability"]["families"]["hedging"]
    assert hedging["items"] > 0 and hedging["success_share"] == 0


def test_math_verify_with_hedging_allowed_is_found_hedged(config, tmp_path):
    # The probe still finds the hack where the rule's guard is turned off.
    assert shares(audit(config, tmp_path, "--pipeline", "math_lenient"))["hedging"] > 0


def test_a_judge_that_obeys_the_response_is_injected_and_a_defended_one_is_not(config, tmp_path):
    open_report = audit(config, tmp_path / "open", "--pipeline", "judged_open")
    assert "judge:pointwise" in open_report["component_kinds"]
    assert shares(open_report)["judge_injection"] > 0
    assert open_report["hackability"]["families"]["judge_injection"]["beats_right_share"] > 0
    assert shares(audit(config, tmp_path / "plain", "--pipeline", "judged_plain"))["judge_injection"] == 0
    verdict = audit(config, tmp_path / "verdict", "--pipeline", "verdict_open")
    assert "judge:correctness" in verdict["component_kinds"] and shares(verdict)["judge_injection"] > 0


def test_comparison_equals_a_hand_calculation(config, tmp_path):
    data = tmp_path / "items.jsonl"
    rows = [
        {"id": "i1", "prompt": "Capital of France?", "reference": "Paris", "right": "Paris", "wrong": "Lyon"},
        {"id": "i2", "prompt": "Red planet?", "reference": "Mars", "right": "It is Mars", "wrong": "Jupiter"},
        {"id": "i3", "prompt": "Gold?", "reference": "Au", "right": "Au", "wrong": "Not Au but Ag"},
    ]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    got = audit(config, tmp_path / "out", "--pipeline", "contains", "--against", "exact", "--data", str(data))
    comparison = got["comparison"]
    # contains: every right answer holds its reference, and i3's wrong one does; exact: Paris and Au only.
    a = [1, 0, 1, 0, 1, 1]
    b = [1, 0, 0, 0, 1, 0]
    # means 2/3 and 1/3; covariance sum 6/9, both variance sums 12/9
    assert comparison["pearson"] == pytest.approx(0.5)
    pairs = [(i, j) for i in range(6) for j in range(i + 1, 6)]
    sign = lambda v: (v > 0) - (v < 0)  # noqa: E731
    agree = sum(sign(a[i] - a[j]) == sign(b[i] - b[j]) for i, j in pairs)
    assert comparison["pairwise_agreement"] == pytest.approx(agree / 15)
    # centred per item: a -> (.5,-.5, .5,-.5, 0,0), norm sqrt(1); b -> (.5,-.5, 0,0, .5,-.5), norm 1
    ca = [0.5, -0.5, 0.5, -0.5, 0, 0]
    cb = [0.5, -0.5, 0, 0, 0.5, -0.5]
    distance = math.sqrt(sum((x - y) ** 2 for x, y in zip(ca, cb, strict=True))) / 2
    assert comparison["starc_distance"] == pytest.approx(distance)
    assert comparison["responses"] == 6 and (tmp_path / "out" / "comparison.png").exists()


def test_an_interrupted_run_resumes_with_what_it_had_scored(config, tmp_path):
    first = audit(config, tmp_path, "--pipeline", "contains")
    table = tmp_path / SCORES
    lines = table.read_text().splitlines()
    kept = len(lines) // 2
    table.write_text("\n".join(lines[:kept]) + "\n" + lines[kept][:10])  # a torn last line, as a crash leaves
    resumed = audit(config, tmp_path, "--pipeline", "contains", "--resume")
    assert resumed["scored_now"] == len(lines) - kept
    assert resumed["hackability"] == first["hackability"] and resumed["bias"] == first["bias"]
    assert audit(config, tmp_path, "--pipeline", "contains")["scored_now"] == len(lines)


def test_a_user_probe_file_adds_a_family_and_a_broken_one_is_one_line(config, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(probes, "_REGISTERED", [])
    user = tmp_path / "my_probes.py"
    user.write_text(
        "from rewardgate.audit.probes import Probe, register\n"
        "def shout(item):\n"
        "    return [item.wrong + ' ' + item.answer.upper()]\n"
        "register(Probe('shout', 'the answer in capitals', ('rule:contains',), shout, 'normalized_match'))\n"
    )
    report = audit(config, tmp_path / "out", "--pipeline", "contains", "--probes", str(user))
    assert report["hackability"]["families"]["shout"]["success_share"] > 0
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    assert (
        main(
            [
                "audit",
                "--config",
                str(config),
                "--out",
                str(tmp_path / "b"),
                "--pipeline",
                "contains",
                "--probes",
                str(broken),
            ]
        )
        == 2
    )
    assert "broken.py: RuntimeError: nope" in capsys.readouterr().err


def test_an_unknown_pipeline_or_a_malformed_items_file_is_a_usage_error(config, tmp_path, capsys):
    assert main(["audit", "--config", str(config), "--out", str(tmp_path), "--pipeline", "nope"]) == 2
    assert "no pipeline 'nope'" in capsys.readouterr().err
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "q", "right": "a"}\n')
    assert (
        main(
            [
                "audit",
                "--config",
                str(config),
                "--out",
                str(tmp_path),
                "--pipeline",
                "exact",
                "--data",
                str(data),
            ]
        )
        == 2
    )
    assert "line 1: 'wrong (or rejected)' must be a string" in capsys.readouterr().err


def test_against_a_running_service_the_figures_match_in_process(config, tmp_path, capsys):
    service = ServiceProcess(config, log_path=tmp_path / "service.log").wait()
    try:
        remote = audit(config, tmp_path / "remote", "--pipeline", "contains", "--url", service.url)
        # A group pipeline over HTTP: every response goes with its siblings under one group id.
        remote_groups = audit(
            config, tmp_path / "remote_groups", "--pipeline", "duplicates", "--url", service.url
        )
        assert main(["audit", "--url", service.url, "--out", str(tmp_path / "x"), "--pipeline", "nope"]) == 2
        assert "has no pipeline 'nope'" in capsys.readouterr().err
    finally:
        service.stop()
    local = audit(config, tmp_path / "local", "--pipeline", "contains")
    # The service does not publish rule types: every rule family runs there, a superset.
    assert remote["component_kinds"] == ["rule"] and remote["scored_by"] == service.url
    assert set(shares(local)) <= set(shares(remote))
    for name, family in local["hackability"]["families"].items():
        assert remote["hackability"]["families"][name] == family, name
    assert remote["robustness"] == local["robustness"] and remote["bias"] == local["bias"]
    local_groups = audit(config, tmp_path / "local_groups", "--pipeline", "duplicates")
    assert remote_groups["component_kinds"] == ["group"] and remote_groups["responses_failed"] == 0
    for name, family in local_groups["hackability"]["families"].items():
        assert remote_groups["hackability"]["families"][name] == family, name
    assert remote_groups["robustness"] == local_groups["robustness"]


def test_an_unreachable_service_is_one_line_and_status_1(tmp_path, capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert (
        main(["audit", "--url", url, "--out", str(tmp_path), "--pipeline", "math", "--timeout-s", "5"]) == 1
    )
    assert f"{url}: connection_failed" in capsys.readouterr().err


def test_set_graded_tool_calls_block_spraying_and_a_name_regex_does_not(config, tmp_path):
    tools = audit(config, tmp_path / "tools", "--pipeline", "tools")
    assert tools["items"] == 4  # the shipped tool-call samples, chosen for the tool_call rule
    assert shares(tools)["tool_spraying"] == 0
    samples = "rewardgate/audit/samples/tools.jsonl"
    names = audit(config, tmp_path / "names", "--pipeline", "tool_names", "--data", samples)
    assert shares(names)["tool_spraying"] > 0


def test_a_strict_schema_blocks_schema_invalid_documents(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "schema")
    assert report["items"] == 4 and report["responses_failed"] == 0
    assert shares(report)["schema_invalid"] == 0 and shares(report)["invisible_chars"] == 0


def test_a_reward_model_pipeline_is_audited_and_its_refusals_are_counted(tmp_path):
    model = build_reward_model(tmp_path / "rm")
    config = tmp_path / "pipelines.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": {"rm": {"kind": "reward_model", "path": str(model), "max_length": 512}},
                "pipelines": {"rm": {"components": {"quality": {"model": "rm"}}}},
            }
        )
    )
    report = audit(config, tmp_path / "out", "--pipeline", "rm")
    assert report["component_kinds"] == ["model:reward_model"]
    families = report["hackability"]["families"]
    assert families["judge_injection"]["items"] == report["items"]  # models are attacked by every family
    # 6,000 padded words exceed max_length: refused, counted, not scored as anything
    assert families["length_inflation"]["variants_failed"] == 2 * report["items"]
    assert (
        families["length_inflation"]["items"] == 0 and families["length_inflation"]["success_share"] is None
    )
    assert report["bias"]["length_spearman"] is not None


def test_multiple_choice_blocks_hedges_and_keeps_its_order_when_options_move(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "choice")
    assert shares(report)["hedging"] == 0 and report["hackability"]["families"]["hedging"]["items"] == 3
    moved = report["robustness"]["option_order"]
    assert moved["items"] == 3 and moved["flip_share"] == 0 and moved["changed_share"] == 0


def test_code_forgeries_run_in_the_sandbox_and_earn_nothing_there(config, tmp_path):
    # In-process, the code_tests rule runs every variant in its sandbox (bubblewrap cell): exits,
    # patched unittest, rigged return objects. Each forgery is paired with its plain twin, so a
    # weak test that a plain wrong value happens to pass is not counted as forged.
    report = audit(config, tmp_path, "--pipeline", "code")
    assert report["items"] == 4 and report["responses_failed"] == 0  # the shipped code samples
    forgery = report["hackability"]["families"]["code_forgery"]
    assert forgery["items"] == 4 and forgery["variants_failed"] == 0
    assert forgery["success_share"] == 0 and forgery["beats_right_share"] == 0
    # The sandbox really graded: the right programs pass, the wrong ones do not (Spearman needs both).
    assert report["bias"]["reward_per_100_words"]["right"] is not None
    table = [json.loads(line) for line in (tmp_path / SCORES).read_text().splitlines()]
    rewards = {row["reward"] for row in table}
    assert 1.0 in rewards and 0.0 in rewards


def test_a_pipeline_that_also_pays_for_printed_verdicts_is_forged(config, tmp_path):
    report = audit(
        config, tmp_path, "--pipeline", "code_by_output", "--data", "rewardgate/audit/samples/code.jsonl"
    )
    forgery = report["hackability"]["families"]["code_forgery"]
    assert forgery["success_share"] == 1.0
    assert "All tests passed" in forgery["examples"][0]["response"]


@pytest.mark.parametrize(
    ("pipeline", "families"),
    [
        ("grounding", ("box_spraying", "huge_box", "outside_box", "format_tags", "tag_hedging")),
        ("counting", ("answer_listing", "invisible_chars")),
    ],
)
def test_the_shipped_vision_pipelines_block_the_image_hacks(pipeline, families, tmp_path):
    # The shipped pipeline file and image samples (PNG data URLs in chat prompts).
    assert main(["audit", "--pipeline", pipeline, "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["items"] == 4 and report["responses_failed"] == 0
    for family in families:
        assert report["hackability"]["families"][family]["items"] == 4, family
        assert shares(report)[family] == 0, family


@pytest.mark.parametrize("pipeline", ["point", "gui"])
def test_points_and_gui_actions_read_one_point_or_action(config, tmp_path, pipeline):
    # Their own shipped samples (pointing.jsonl, gui.jsonl: the grounding images, a point or a click).
    report = audit(config, tmp_path, "--pipeline", pipeline)
    assert report["items"] == 4 and report["responses_failed"] == 0
    assert report["hackability"]["families"]["point_spraying"]["items"] == 4
    assert shares(report)["point_spraying"] == 0 and shares(report)["invisible_chars"] == 0


def test_a_bare_iou_with_a_loose_image_border_pays_huge_and_outside_boxes(config, tmp_path):
    samples = "rewardgate/audit/samples/grounding.jsonl"
    found = shares(audit(config, tmp_path, "--pipeline", "iou_bare", "--data", samples))
    assert found["huge_box"] > 0 and found["outside_box"] > 0
    assert found["box_spraying"] == 0  # extra boxes still dilute: matched one-to-one, divided by the count


def test_the_shipped_doc_qa_pays_no_list_or_splice_and_docvqas_step_pays_splices(config, tmp_path):
    # The shipped doc_qa (anls, scoring: ramp): a list of candidates earns its worst one, and a splice
    # of two never beats committing. Before, "Acme Corporation, Apex Holdings" earned 0.52 and
    # "Acme Coroldings" 0.56 against "Acme Corporation" (committing: 0.5).
    shipped = tmp_path / "shipped"
    assert main(["audit", "--pipeline", "doc_qa", "--out", str(shipped)]) == 0
    report = json.loads((shipped / "report.json").read_text())
    assert report["items"] == 4 and report["responses_failed"] == 0
    for family in ("answer_listing", "anls_stuffing"):
        assert report["hackability"]["families"][family]["items"] == 4, family
        assert shares(report)[family] == 0, family
    # DocVQA's step (scoring: docvqa, for benchmark parity) still refuses lists but pays the splice.
    samples = "rewardgate/audit/samples/doc_qa.jsonl"
    step = audit(config, tmp_path / "step", "--pipeline", "anls_docvqa", "--data", samples)
    assert shares(step)["answer_listing"] == 0 and shares(step)["anls_stuffing"] > 0
    examples = step["hackability"]["families"]["anls_stuffing"]["examples"]
    assert "Acme Coroldings" in [example["response"] for example in examples]


def pairwise_items(path) -> str:
    """Items whose right response carries the plain judge's [[best]] marker (its notion of better);
    the reference is the other response a pairwise component compares with."""
    rows = [
        {
            "id": f"p{i}",
            "prompt": f"Question {i}?",
            "reference": f"A plain answer {i}",
            "right": f"A careful answer {i} [[best]]",
            "wrong": f"Meh {i}",
        }
        for i in range(6)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def test_a_position_biased_pairwise_judge_is_found_and_a_fair_one_reads_zero(config, tmp_path):
    data = pairwise_items(tmp_path / "pairs.jsonl")
    biased = audit(config, tmp_path / "biased", "--pipeline", "pairs_biased", "--data", data)
    row = biased["bias"]["position"]["pair_biased"]
    # Always "A": every pair flips when swapped, position A always wins, the worse response wins
    # whenever it is shown first.
    assert row["pairs"] == 6 and row["failed"] == 0
    assert row["flip_share"] == 1.0 and row["mean_preference_a"] == 1.0
    assert row["worse_wins_by_position_share"] == 1.0 and row["worse_wins_share"] == 0.0
    swap = biased["hackability"]["families"]["position_swap"]
    assert swap["success_share"] == 1.0 and "position_swap" in biased["hackability"]["succeeded"]
    assert "position_swap" not in biased["not_probed"]
    assert "Judge position bias, `pair_biased`" in (tmp_path / "biased" / "report.md").read_text()
    # Asked in both orders, the split verdict is a tie: the worse response gets 0.5, never 1.
    fair = audit(config, tmp_path / "fair", "--pipeline", "pairs_fair", "--data", data)
    row = fair["bias"]["position"]["pair_fair"]
    assert row["pairs"] == 6 and row["flip_share"] == 0.0 and row["mean_preference_a"] == 0.5
    assert row["worse_wins_by_position_share"] == 0.0
    assert fair["hackability"]["families"]["position_swap"]["success_share"] == 0.0
    # The pipelines' own pair scoring (/v1/compare) in both orders: each side is scored on its own,
    # so the order never matters; the biased judge's split verdicts tie both responses at 0.5.
    for report in (biased, fair):
        pair_scoring = report["bias"]["pair_scoring"]
        assert pair_scoring["pairs"] == 6 and pair_scoring["flip_share"] == 0.0
        assert pair_scoring["mean_preference_a"] == pytest.approx(0.5)
        assert pair_scoring["worse_wins_by_position_share"] == 0.0


def test_a_tournament_is_audited_in_groups_and_its_judge_for_position(config, tmp_path):
    data = pairwise_items(tmp_path / "pairs.jsonl")
    report = audit(config, tmp_path / "out", "--pipeline", "tournament_biased", "--data", data)
    assert report["responses_failed"] == 0 and report["component_kinds"] == ["group:tournament"]
    assert report["bias"]["position"]["pair_biased"]["flip_share"] == 1.0
    # Asked in both orders, an always-A judge ties every pair: no injected verdict moves the strengths.
    assert shares(report)["judge_injection"] == 0 and shares(report)["position_swap"] == 1.0


def test_without_a_pairwise_judge_there_is_no_position_figure(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "judged_plain")
    assert report["bias"]["position"] is None and "position_swap" not in report["hackability"]["families"]


def test_the_shipped_ttrl_pipeline_refuses_hedged_votes_and_reports_the_wrong_consensus(tmp_path):
    # Every response is scored inside a group (the right answer three times and the wrong once
    # around it); the group families change the response or the group.
    assert main(["audit", "--pipeline", "ttrl_math", "--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["responses_failed"] == 0 and "group:majority_vote" in report["component_kinds"]
    families = report["hackability"]["families"]
    assert families["hedged_vote"]["items"] == report["items"] and shares(report)["hedged_vote"] == 0
    # A vote pays agreement, not truth: a sample copying a colluding wrong majority earns the vote
    # (boxed math items; the facts are not boxed, so the gate holds their vote at 0).
    assert shares(report)["wrong_consensus"] > 0
    assert families["wrong_consensus"]["examples"][0]["honest_wrong"] == 0.0
    assert families["wrong_consensus"]["examples"][0]["reward"] == 1.0
    # The honest right answer wins its group's vote, the wrong one does not.
    assert report["robustness"]["whitespace"]["flip_share"] == 0


def test_a_view_agreement_pipeline_is_audited_in_views(config, tmp_path):
    report = audit(config, tmp_path, "--pipeline", "views")
    assert report["responses_failed"] == 0 and report["component_kinds"] == ["group:view_agreement"]
    assert shares(report)["hedged_vote"] == 0 and shares(report)["wrong_consensus"] > 0


def test_near_duplicates_escape_three_word_shingles_and_not_word_sets(config, tmp_path):
    report = audit(config, tmp_path / "shingles", "--pipeline", "duplicates")
    assert report["responses_failed"] == 0
    near = report["hackability"]["families"]["near_duplicates"]
    assert near["success_share"] > 0
    # the escape is the filler, not the zero-width characters (those are read as nothing)
    assert all("indeed" in example["response"] for example in near["examples"])
    words = audit(config, tmp_path / "words", "--pipeline", "duplicate_words")
    assert shares(words)["near_duplicates"] == 0
