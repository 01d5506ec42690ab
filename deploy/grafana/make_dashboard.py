"""Writes the Grafana dashboard (helm/rewardgate/files/dashboard.json) from the panel list below.

    .venv/bin/python deploy/grafana/make_dashboard.py

The chart ships the JSON as a ConfigMap for Grafana's sidecar, and
deploy/compose.yaml provisions it; tests/deploy check that the file is what
this script writes and that every metric it queries is exported by the service.
"""

from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[2] / "helm" / "rewardgate" / "files" / "dashboard.json"
RATE = "[$__rate_interval]"


def quantiles(metric: str, by: str, qs=(0.5, 0.99)) -> list[tuple[str, str]]:
    return [
        (
            f"histogram_quantile({q}, sum by (le, {by}) (rate({metric}_bucket{RATE})))",
            f"p{int(q * 100)} {{{{{by}}}}}",
        )
        for q in qs
    ]


ROWS: list[tuple[str, list[tuple[str, str, list[tuple[str, str]]]]]] = [
    (
        "Traffic",
        [
            (
                "Requests/s by route and status",
                "reqps",
                [(f"sum by (route, status) (rate(rewardgate_requests_total{RATE}))", "{{route}} {{status}}")],
            ),
            (
                "Errors/s by type",
                "short",
                [
                    (
                        f"sum by (error_type, scope) (rate(rewardgate_errors_total{RATE}))",
                        "{{error_type}} ({{scope}})",
                    )
                ],
            ),
            ("Latency per route", "s", quantiles("rewardgate_request_duration_seconds", "route")),
            (
                "In-flight items against the limit",
                "short",
                [
                    ("sum(rewardgate_inflight_items)", "in flight"),
                    ("max(rewardgate_inflight_items_limit)", "limit per pod"),
                ],
            ),
            (
                "Measured throughput per pipeline (admission plans with it)",
                "short",
                [("sum by (pipeline) (rewardgate_pipeline_throughput_items_per_second)", "{{pipeline}}")],
            ),
            (
                "Items scored by status",
                "short",
                [
                    (
                        f"sum by (pipeline, status) (rate(rewardgate_items_scored_total{RATE}))",
                        "{{pipeline}} {{status}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Models and batching",
        [
            ("Batcher queue wait", "s", quantiles("rewardgate_queue_wait_seconds", "model")),
            (
                "Batch size (mean items)",
                "short",
                [
                    (
                        f"sum by (model) (rate(rewardgate_batch_size_sum{RATE})) / sum by (model) "
                        f"(rate(rewardgate_batch_size_count{RATE}))",
                        "{{model}}",
                    )
                ],
            ),
            (
                "Tokens/s",
                "short",
                [(f"sum by (model) (rate(rewardgate_batch_tokens_sum{RATE}))", "{{model}}")],
            ),
            (
                "Backend latency p99",
                "s",
                [
                    (
                        f"histogram_quantile(0.99, sum by (le, model, outcome) (rate(rewardgate_backend_latency_seconds_bucket{RATE})))",
                        "{{model}} {{outcome}}",
                    )
                ],
            ),
            (
                "Model ready (Triton or local)",
                "short",
                [("min by (model) (rewardgate_model_ready)", "{{model}}")],
            ),
            (
                "Dropped before running",
                "short",
                [
                    (
                        f"sum by (model, reason) (rate(rewardgate_batcher_dropped_items_total{RATE}))",
                        "{{model}} {{reason}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Cache",
        [
            (
                "Cache hit ratio",
                "percentunit",
                [
                    (
                        f'sum(rate(rewardgate_cache_lookups_total{{result="hit"}}{RATE})) / sum(rate(rewardgate_cache_lookups_total{RATE}))',
                        "hit ratio",
                    )
                ],
            ),
            (
                "Redis breaker (0 closed, 1 open, 2 half-open)",
                "short",
                [("max(rewardgate_cache_breaker_state)", "state")],
            ),
            (
                "Redis operations",
                "short",
                [
                    (
                        f"sum by (op, outcome) (rate(rewardgate_cache_operations_total{RATE}))",
                        "{{op}} {{outcome}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Judges",
        [
            (
                "Judge calls by outcome",
                "short",
                [
                    (
                        f"sum by (judge, outcome) (rate(rewardgate_judge_calls_total{RATE}))",
                        "{{judge}} {{outcome}}",
                    )
                ],
            ),
            (
                "Judge breaker (0 closed, 1 open, 2 half-open)",
                "short",
                [("max by (judge) (rewardgate_judge_breaker_state)", "{{judge}}")],
            ),
            (
                "Judge calls open and tokens/s (budget)",
                "short",
                [
                    ("sum by (judge) (rewardgate_judge_inflight_calls)", "{{judge}} open"),
                    (f"sum by (judge) (rate(rewardgate_judge_tokens_total{RATE}))", "{{judge}} tokens/s"),
                ],
            ),
        ],
    ),
    (
        "Rules and sandbox",
        [
            (
                "Verifier pool saturation",
                "short",
                [
                    ("sum(rewardgate_verifier_busy_workers)", "busy"),
                    ("sum(rewardgate_verifier_workers)", "workers"),
                    ("sum(rewardgate_verifier_queued_checks)", "queued"),
                ],
            ),
            (
                "Verifier timeouts and failures/s",
                "short",
                [
                    (
                        f'sum by (error_type) (rate(rewardgate_errors_total{{error_type=~"verifier_.*|sandbox_.*"}}{RATE}))',
                        "{{error_type}}",
                    ),
                    (f"sum(rate(rewardgate_verifier_pool_restarts_total{RATE}))", "pool restarts"),
                ],
            ),
            ("Rule check time", "s", quantiles("rewardgate_rule_duration_seconds", "rule")),
        ],
    ),
    (
        "Rewards",
        [
            (
                "Mean reward per pipeline",
                "short",
                [
                    (
                        f"sum by (pipeline) (rate(rewardgate_reward_sum{RATE})) / sum by (pipeline) (rate(rewardgate_reward_count{RATE}))",
                        "{{pipeline}}",
                    )
                ],
            ),
            (
                "Reward distribution per pipeline",
                "short",
                quantiles("rewardgate_reward", "pipeline", (0.1, 0.5, 0.9)),
            ),
            ("Response length (characters)", "short", quantiles("rewardgate_response_chars", "pipeline")),
            (
                "Gates closed and constraints violated/s",
                "short",
                [
                    (
                        f"sum by (pipeline) (rate(rewardgate_gates_closed_total{RATE}))",
                        "{{pipeline}} gates closed",
                    ),
                    (
                        f"sum by (pipeline) (rate(rewardgate_constraint_violations_total{RATE}))",
                        "{{pipeline}} constraints",
                    ),
                ],
            ),
            (
                "Refused for a bad API key/s",
                "short",
                [
                    (
                        f"sum by (transport, reason) (rate(rewardgate_auth_failures_total{RATE}))",
                        "{{transport}} {{reason}}",
                    )
                ],
            ),
        ],
    ),
    (
        "Reward health (sliding windows, docs/monitoring.md)",
        [
            (
                "Reward mean and p5-p95 per pipeline",
                "short",
                [
                    (
                        'max by (pipeline) (rewardgate_window_reward_mean{component="",window="current"})',
                        "{{pipeline}} mean",
                    ),
                    (
                        'max by (pipeline) (rewardgate_window_reward_quantile{component="",quantile="0.05"})',
                        "{{pipeline}} p5",
                    ),
                    (
                        'max by (pipeline) (rewardgate_window_reward_quantile{component="",quantile="0.95"})',
                        "{{pipeline}} p95",
                    ),
                ],
            ),
            (
                "Reward-length correlation (hacking by length above 0.5)",
                "short",
                [
                    (
                        "max by (pipeline, component) (rewardgate_window_length_correlation)",
                        "{{pipeline}} {{component}}",
                    )
                ],
            ),
            (
                "GRPO groups with zero advantage",
                "percentunit",
                [("max by (pipeline) (rewardgate_window_zero_advantage_group_share)", "{{pipeline}}")],
            ),
            (
                "Drift against the reference window (PSI)",
                "short",
                [
                    (
                        "max by (pipeline, component) (rewardgate_window_reward_drift_psi)",
                        "{{pipeline}} {{component}}",
                    )
                ],
            ),
            (
                "Partial and failed items",
                "percentunit",
                [
                    (
                        'max by (pipeline, status) (rewardgate_window_item_share{status!="ok"})',
                        "{{pipeline}} {{status}}",
                    )
                ],
            ),
            (
                "Disagreement: ensemble spread, judge order flips",
                "short",
                [
                    (
                        "max by (pipeline, component) (rewardgate_window_ensemble_spread)",
                        "{{pipeline}} {{component}} spread",
                    ),
                    (
                        "max by (judge) (rewardgate_window_judge_order_disagreement_share)",
                        "judge {{judge}} order flips",
                    ),
                ],
            ),
        ],
    ),
]


def panel(panel_id: int, title: str, unit: str, targets: list[tuple[str, str]], x: int, y: int) -> dict:
    return {
        "id": panel_id,
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 8, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
        "targets": [
            {"refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard() -> dict:
    panels, panel_id, y = [], 1, 0
    for row_title, row_panels in ROWS:
        panels.append(
            {
                "id": panel_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        panel_id, y = panel_id + 1, y + 1
        for index, (title, unit, targets) in enumerate(row_panels):
            panels.append(panel(panel_id, title, unit, targets, x=8 * (index % 3), y=y + 8 * (index // 3)))
            panel_id += 1
        y += 8 * ((len(row_panels) + 2) // 3)
    return {
        "uid": "rewardgate",
        "title": "rewardgate",
        "tags": ["rewardgate", "rl"],
        "timezone": "browser",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
    print(f"wrote {OUT}")
