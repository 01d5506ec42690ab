"""The shipped Prometheus rules: promtool checks them, and each alert has a unit test
(promtool test rules) that shows it firing on the failure it names and quiet otherwise."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

RULES = Path(__file__).resolve().parents[2] / "helm" / "rewardgate" / "files" / "rules.yaml"
PROMTOOL = shutil.which("promtool")
if PROMTOOL is None and os.environ.get("CI"):
    raise RuntimeError("promtool is missing in CI: .ci/run installs Debian's prometheus package")
pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool comes with Debian's prometheus package (make test installs it)"
)


def counter(name: str, labels: str, per_minute: float, minutes: int) -> dict:
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute}x{minutes}"}


def gauge(name: str, labels: str, value: float, minutes: int) -> dict:
    return {"series": f"{name}{{{labels}}}", "values": f"{value}x{minutes}"}


def histogram(name: str, labels: str, per_minute_by_le: dict[str, float], minutes: int) -> list[dict]:
    """Cumulative buckets: ``per_minute_by_le`` gives the observations per minute at or below each bound."""
    return [
        counter(f"{name}_bucket", f'{labels},le="{le}"', rate, minutes)
        for le, rate in per_minute_by_le.items()
    ]


def reward_history(
    pipeline: str,
    before: dict[str, float],
    after: dict[str, float],
    minutes_before: int,
    minutes_after: int,
    mean_before: float,
    mean_after: float,
) -> list[dict]:
    """Reward histogram and mean that change their shape after ``minutes_before`` minutes."""
    labels = f'pipeline="{pipeline}"'

    def phases(rate_before: float, rate_after: float) -> str:
        turn = rate_before * minutes_before
        return f"0+{rate_before}x{minutes_before} {turn}+{rate_after}x{minutes_after}"

    series = [
        {"series": f'rewardgate_reward_bucket{{{labels},le="{le}"}}', "values": phases(before[le], after[le])}
        for le in before
    ]
    series.append({"series": f"rewardgate_reward_count{{{labels}}}", "values": phases(60, 60)})
    series.append(
        {"series": f"rewardgate_reward_sum{{{labels}}}", "values": phases(60 * mean_before, 60 * mean_after)}
    )
    return series


UNIFORM = {"0": 0, "0.25": 15, "0.5": 30, "0.75": 45, "0.9": 54, "1": 60, "+Inf": 60}
ALL_ONES = {"0": 0, "0.25": 0, "0.5": 0, "0.75": 0, "0.9": 0, "1": 60, "+Inf": 60}
SCORE = 'route="/v1/score",pipeline="math"'


def score_requests(status: str, per_minute: int) -> list[dict]:
    """30 minutes of /v1/score: ``per_minute`` answered ``status`` and 60 answered 200 a minute."""
    return [
        counter("rewardgate_requests_total", f'{SCORE},status="{status}"', per_minute, 30),
        counter("rewardgate_requests_total", f'{SCORE},status="200"', 60, 30),
    ]


#: Probes and scrapes, counted too since every request is (ten a second): they must not dilute
#: the ratios of the scoring alerts.
PROBES = [counter("rewardgate_requests_total", 'route="/healthz",pipeline="unknown",status="200"', 600, 30)]

MATH_REWARD = 'pipeline="math",component=""'


def reward_windows(mean: tuple[float, float], std: tuple[float, float]) -> list[dict]:
    """Window gauges of the math pipeline's reward: (current, reference) mean and std for 30 minutes."""
    return [
        gauge(f"rewardgate_window_reward_{stat}", f'{MATH_REWARD},window="{window}"', value, 30)
        for stat, pair in (("mean", mean), ("std", std))
        for window, value in zip(("current", "reference"), pair, strict=True)
    ]


def item_shares(error: float, partial: float) -> list[dict]:
    shares = {"ok": 1 - error - partial, "partial": partial, "error": error}
    return [
        gauge("rewardgate_window_item_share", f'pipeline="math",status="{status}"', share, 30)
        for status, share in shares.items()
    ]


#: alert -> (series that make it fire, series that keep it quiet, minutes to evaluate at, labels it carries)
CASES = {
    "RewardgateOverloaded": (
        score_requests("429", 30) + PROBES,
        score_requests("429", 1),
        25,
        {"severity": "warning"},
    ),
    "RewardgateServerErrors": (
        score_requests("504", 10) + PROBES,
        score_requests("504", 1),
        20,
        {"severity": "critical"},
    ),
    "RewardgateSlowRequests": (
        histogram("rewardgate_request_duration_seconds", SCORE, {"1": 0, "10": 1, "30": 60, "+Inf": 60}, 30),
        histogram(
            "rewardgate_request_duration_seconds", SCORE, {"1": 60, "10": 60, "30": 60, "+Inf": 60}, 30
        ),
        25,
        {"severity": "warning", "route": "/v1/score"},
    ),
    "RewardgateModelUnavailable": (
        [gauge("rewardgate_model_ready", 'model="rm"', 0, 10)],
        [gauge("rewardgate_model_ready", 'model="rm"', 1, 10)],
        5,
        {"severity": "critical", "model": "rm"},
    ),
    "RewardgateBackendUnavailable": (
        [counter("rewardgate_errors_total", 'error_type="backend_unavailable",scope="request"', 30, 20)],
        [counter("rewardgate_errors_total", 'error_type="backend_unavailable",scope="request"', 1, 20)],
        15,
        {"severity": "critical"},
    ),
    "RewardgateRedisBreakerOpen": (
        [gauge("rewardgate_cache_breaker_state", "", 1, 10)],
        [gauge("rewardgate_cache_breaker_state", "", 0, 10)],
        8,
        {"severity": "warning"},
    ),
    "RewardgateJudgeBreakerOpen": (
        [gauge("rewardgate_judge_breaker_state", 'judge="helpful"', 1, 10)],
        [gauge("rewardgate_judge_breaker_state", 'judge="helpful"', 2, 10)],
        8,
        {"severity": "warning", "judge": "helpful"},
    ),
    "RewardgateVerifierTimeouts": (
        [
            counter("rewardgate_errors_total", 'error_type="verifier_timeout",scope="item"', 10, 30),
            counter("rewardgate_items_scored_total", 'pipeline="math",status="ok"', 100, 30),
        ],
        [
            counter("rewardgate_errors_total", 'error_type="verifier_timeout",scope="item"', 1, 30),
            counter("rewardgate_items_scored_total", 'pipeline="math",status="ok"', 100, 30),
        ],
        25,
        {"severity": "warning"},
    ),
    "RewardgateRewardMeanCollapsed": (
        reward_history("math", UNIFORM, UNIFORM, 360, 60, 0.8, 0.1),
        reward_history("math", UNIFORM, UNIFORM, 360, 60, 0.8, 0.75),
        415,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateRewardVarianceCollapsed": (
        reward_history("math", UNIFORM, ALL_ONES, 360, 60, 0.6, 1.0),
        reward_history("math", UNIFORM, UNIFORM, 360, 60, 0.6, 0.6),
        415,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateRewardTracksLength": (
        [gauge("rewardgate_window_length_correlation", MATH_REWARD, 0.8, 30)],
        [gauge("rewardgate_window_length_correlation", MATH_REWARD, 0.2, 30)],
        25,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateZeroAdvantageGroups": (
        [gauge("rewardgate_window_zero_advantage_group_share", 'pipeline="math"', 0.9, 30)],
        [gauge("rewardgate_window_zero_advantage_group_share", 'pipeline="math"', 0.3, 30)],
        25,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateRewardDrift": (
        [gauge("rewardgate_window_reward_drift_psi", MATH_REWARD, 0.6, 30)],
        [gauge("rewardgate_window_reward_drift_psi", MATH_REWARD, 0.05, 30)],
        20,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateRewardExploded": (
        reward_windows(mean=(0.5, 0.5), std=(3.0, 0.5)),
        reward_windows(mean=(0.6, 0.5), std=(0.6, 0.5)),
        20,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateItemFailures": (
        item_shares(error=0.08, partial=0.05),
        item_shares(error=0.03, partial=0.02),
        20,
        {"severity": "warning", "pipeline": "math"},
    ),
    "RewardgateJudgePositionBias": (
        [gauge("rewardgate_window_judge_order_disagreement_share", 'judge="helpful"', 0.5, 50)],
        [gauge("rewardgate_window_judge_order_disagreement_share", 'judge="helpful"', 0.1, 50)],
        40,
        {"severity": "warning", "judge": "helpful"},
    ),
}

#: Further cases per alert: (series, minutes, fires?).
MORE_CASES = {
    "RewardgateRewardExploded": [
        # The mean jumped by 10 reference standard deviations while the spread stayed put.
        (reward_windows(mean=(5.5, 0.5), std=(0.5, 0.5)), 20, True),
        # A reference without spread (all rewards equal) gives no scale to compare with.
        (reward_windows(mean=(0.5, 1.0), std=(0.5, 0.0)), 20, False),
    ],
    "RewardgateItemFailures": [(item_shares(error=0.15, partial=0.0), 20, True)],
}


def alerts() -> dict[str, dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"] if "alert" in rule}


def expanded(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    """Annotations as Prometheus renders them (only ``{{ $labels.NAME }}`` is used)."""
    return {
        key: re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels[m.group(1)], value)
        for key, value in annotations.items()
    }


def test_rules_pass_promtool_check():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case():
    assert set(CASES) == set(alerts())


def test_each_alert_fires_on_its_failure_and_stays_quiet_otherwise(tmp_path):
    rules = alerts()
    tests = []
    for name, (firing, quiet, minutes, labels) in CASES.items():
        expected = {"exp_labels": labels, "exp_annotations": expanded(rules[name]["annotations"], labels)}
        runs = [(firing, minutes, [expected]), (quiet, minutes, [])]
        runs += [(series, at, [expected] if fires else []) for series, at, fires in MORE_CASES.get(name, [])]
        for series, at, alerts_expected in runs:
            tests.append(
                {
                    "interval": "1m",
                    "input_series": series,
                    "alert_rule_test": [
                        {"eval_time": f"{at}m", "alertname": name, "exp_alerts": alerts_expected}
                    ],
                }
            )
    test_file = tmp_path / "tests.yaml"
    test_file.write_text(
        yaml.safe_dump({"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run([PROMTOOL, "test", "rules", str(test_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
