"""The eval report: ``report.json``, ``report.md`` and ``rewards.png`` from the per-record results.

rewardgate/eval/metrics.py defines every figure; this module only counts,
arranges and draws them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from rewardgate.eval.data import BEST_OF_N
from rewardgate.eval.metrics import PAIR_VALUE, STRICT_VALUE, jeffreys, sectioned


def build_report(mode: str, results: list[dict], pipeline: str, scored_by: str) -> dict[str, Any]:
    header = {"mode": mode, "pipeline": pipeline, "scored_by": scored_by, "records": len(results)}
    return header | (_best_of_n(results) if mode == BEST_OF_N else _pairs(results))


def _by_subset(results: Iterable[dict]) -> dict[str, list[dict]]:
    subsets: dict[str, list[dict]] = {}
    for result in results:
        subsets.setdefault(result["subset"], []).append(result)
    return dict(sorted(subsets.items()))


# -- pairs ----------------------------------------------------------------------------


def _pair_summary(rows: list[dict]) -> dict[str, Any]:
    counts = {
        verdict: sum(1 for r in rows if r["outcome"] == verdict)
        for verdict in ("win", "tie", "loss", "error")
    }
    scored = [r for r in rows if r["outcome"] != "error"]
    summary: dict[str, Any] = {
        "pairs": len(rows),
        "wins": counts["win"],
        "ties": counts["tie"],
        "losses": counts["loss"],
        "errors": counts["error"],
    }
    if not scored:
        return summary | {"accuracy": None, "strict_accuracy": None}
    for key, values in (("accuracy", PAIR_VALUE), ("strict_accuracy", STRICT_VALUE)):
        summary[key] = jeffreys(np.array([values[r["outcome"]] for r in scored])).as_json()
    chosen = np.array([r["rewards"][0] for r in scored])
    rejected = np.array([r["rewards"][1] for r in scored])
    return summary | {
        "mean_reward_chosen": float(chosen.mean()),
        "mean_reward_rejected": float(rejected.mean()),
        "mean_margin": float((chosen - rejected).mean()),
    }


def _pairs(results: list[dict]) -> dict[str, Any]:
    subsets = _by_subset(results)
    sections = {r["subset"]: r["section"] for r in results}
    report: dict[str, Any] = {
        "overall": _pair_summary(results),
        "subsets": {name: _pair_summary(rows) for name, rows in subsets.items()},
    }
    aggregate: dict[str, Any] = {}
    scored = [r for r in results if r["outcome"] != "error"]
    for key, values in (("accuracy", PAIR_VALUE), ("strict_accuracy", STRICT_VALUE)):
        by_section: dict[str, list[float]] = {}
        for r in scored:
            by_section.setdefault(r["section"], []).append(values[r["outcome"]])
        if by_section:
            aggregate[key] = sectioned({name: np.array(v) for name, v in by_section.items()}).as_json()
    report["sections"] = {
        section: sorted(name for name, owner in sections.items() if owner == section)
        for section in sorted(set(sections.values()))
    }
    report["aggregate"] = aggregate or None
    return report


# -- best of N ------------------------------------------------------------------------


def _best_of_n_summary(rows: list[dict]) -> dict[str, Any]:
    scored = [r for r in rows if r["outcome"] == "scored"]
    summary: dict[str, Any] = {"sets": len(rows), "errors": len(rows) - len(scored)}
    if not scored:
        return summary | {"top1": None, "random": None, "oracle": None}
    figures = {
        "top1": np.array([r["top1"] for r in scored]),
        "random": np.array([sum(r["correct"]) / len(r["correct"]) for r in scored]),
        "oracle": np.array([float(any(r["correct"])) for r in scored]),
    }
    summary["mean_n"] = float(np.mean([len(r["correct"]) for r in scored]))
    for key, values in figures.items():
        summary[key] = jeffreys(values).as_json()
    return summary


def _best_of_n(results: list[dict]) -> dict[str, Any]:
    return {
        "overall": _best_of_n_summary(results),
        "subsets": {name: _best_of_n_summary(rows) for name, rows in _by_subset(results).items()},
    }


# -- files ----------------------------------------------------------------------------


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2) + "\n")


def _estimate(value: dict[str, Any] | None) -> str:
    if value is None:
        return "n/a"
    low, high = value["ci95"]
    return f"{value['value']:.3f} [{low:.3f}, {high:.3f}]"


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# rewardgate eval: pipeline `{report['pipeline']}`",
        "",
        f"{report['records']} records ({report['mode']}), scored by {report['scored_by']}. "
        "Intervals are 95% Jeffreys intervals; docs/monitoring.md defines every figure.",
        "",
    ]
    if report["mode"] == BEST_OF_N:
        lines += ["| subset | sets | errors | top-1 | random | oracle |", "|---|---|---|---|---|---|"]
        rows = {"**overall**": report["overall"], **report["subsets"]}
        for name, row in rows.items():
            figures = " | ".join(_estimate(row[key]) for key in ("top1", "random", "oracle"))
            lines.append(f"| {name} | {row['sets']} | {row['errors']} | {figures} |")
    else:
        aggregate = report["aggregate"] or {}
        lines += [
            f"**Aggregate** (RewardBench-style mean of section scores): accuracy "
            f"{_estimate(aggregate.get('accuracy'))}, strict {_estimate(aggregate.get('strict_accuracy'))}",
            "",
            "| subset | pairs | wins | ties | losses | errors "
            "| accuracy (tie = ½) | strict accuracy | mean margin |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        rows = {"**overall**": report["overall"], **report["subsets"]}
        for name, row in rows.items():
            margin = f"{row['mean_margin']:.3f}" if "mean_margin" in row else "n/a"
            counts = " | ".join(str(row[key]) for key in ("pairs", "wins", "ties", "losses", "errors"))
            lines.append(
                f"| {name} | {counts} | {_estimate(row['accuracy'])} "
                f"| {_estimate(row['strict_accuracy'])} | {margin} |"
            )
        if any(subsets != [section] for section, subsets in report["sections"].items()):
            lines += [
                "",
                "Sections: " + "; ".join(f"{s}: {', '.join(v)}" for s, v in report["sections"].items()),
            ]
    return "\n".join(lines) + "\n"


def write_plot(report: dict[str, Any], results: list[dict], path: Path) -> None:
    """Reward distributions (left) and per-subset figures with their intervals (right)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
    if report["mode"] == BEST_OF_N:
        scored = [r for r in results if r["outcome"] == "scored"]
        good = [w for r in scored for w, c in zip(r["rewards"], r["correct"], strict=True) if c]
        bad = [w for r in scored for w, c in zip(r["rewards"], r["correct"], strict=True) if not c]
        _histograms(left, {"correct responses": good, "incorrect responses": bad})
        _bars(right, report, ("top1", "random", "oracle"), "share of sets")
    else:
        scored = [r for r in results if r["outcome"] != "error"]
        _histograms(
            left,
            {"chosen": [r["rewards"][0] for r in scored], "rejected": [r["rewards"][1] for r in scored]},
        )
        _bars(right, report, ("accuracy",), "accuracy (tie = ½)")
        right.axhline(0.5, color="grey", linestyle=":", linewidth=1, label="coin flip")
        right.legend(loc="upper center", ncol=2, fontsize="small")
    figure.suptitle(f"rewardgate eval: {report['pipeline']} ({report['records']} records)")
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _histograms(axes, series: dict[str, list[float]]) -> None:
    values = [v for vs in series.values() for v in vs]
    if values:
        low, high = min(values), max(values)
        bins = np.linspace(low - 0.5, high + 0.5, 12) if low == high else np.linspace(low, high, 21)
        for label, data in series.items():
            axes.hist(data, bins=bins, alpha=0.55, label=f"{label} (n={len(data)})")
    axes.set_xlabel("reward")
    axes.set_ylabel("responses")
    axes.set_title("Reward distributions")
    axes.legend()


_LABELS = {
    "accuracy": "accuracy",
    "top1": "top-1 (best-scored is correct)",
    "random": "random pick",
    "oracle": "oracle (any correct)",
}


def _bars(axes, report: dict[str, Any], keys: tuple[str, ...], ylabel: str) -> None:
    rows = {"overall": report["overall"], **report["subsets"]}
    positions = np.arange(len(rows))
    width = 0.8 / len(keys)
    for offset, key in enumerate(keys):
        estimates = [row.get(key) for row in rows.values()]
        heights = [e["value"] if e else 0.0 for e in estimates]
        errors = (
            np.array(
                [
                    [e["value"] - e["ci95"][0], e["ci95"][1] - e["value"]] if e else [0.0, 0.0]
                    for e in estimates
                ]
            )
            .clip(min=0)
            .T
        )
        axes.bar(positions + offset * width, heights, width, yerr=errors, capsize=3, label=_LABELS[key])
    axes.set_xticks(positions + width * (len(keys) - 1) / 2, list(rows), rotation=20, ha="right")
    axes.set_ylim(0, 1.22)  # room for the legend above the bars
    axes.set_yticks(np.linspace(0, 1, 6))
    axes.set_ylabel(ylabel)
    axes.set_title("Per subset, with 95% intervals")
    axes.legend(loc="upper center", ncol=len(keys) + 1, fontsize="small")
