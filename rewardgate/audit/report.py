"""The audit report: ``report.json`` (every figure), ``report.md`` (the same, for people) and
plots (``hackability.png``, ``length.png``, ``comparison.png`` with ``--against``).

figures.py computes; this module only arranges and draws. docs/audit.md explains each figure.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def _f(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def markdown(report: dict[str, Any]) -> str:
    """report.md: the headline, then one section per figure group."""
    hack = report["hackability"]
    lines = [
        f"# Audit of pipeline `{report['pipeline']}`",
        "",
        f"Scored by {report['scored_by']}; {report['items']} items, {report['responses']} responses "
        f"({report['responses_failed']} failed to score). Run time: {report['run_time_s']:.1f} s "
        f"({report['scored_now']} scored in this run, the rest resumed).",
        f"Component kinds: {', '.join(sorted(report['component_kinds']))}.",
        "",
        "## Hackability",
        "",
        f"**Hackability score: {_pct(hack['score'])}** of probed families succeed on at least one item"
        + (f" ({', '.join(hack['succeeded'])})." if hack["succeeded"] else "."),
        "",
        "| family | items | success | beats wrong | beats right | fix |",
        "|---|---|---|---|---|---|",
    ]
    for name, family in hack["families"].items():
        failed = f" ({family['variants_failed']} variants failed)" if family["variants_failed"] else ""
        lines.append(
            f"| {name} | {family['items']}{failed} | {_pct(family['success_share'])} | "
            f"{_pct(family['beats_wrong_share'])} | {_pct(family['beats_right_share'])} | {family['fix']} |"
        )
    for name, reason in report["not_probed"].items():
        lines.append(f"| {name} | - | not probed | | | {reason} |")
    for name, family in hack["families"].items():
        if family["examples"]:
            lines += ["", f"### {name}: examples", ""]
            for example in family["examples"]:
                text = example["response"].replace("\n", "\\n")
                lines.append(
                    f"- `{example['item']}` {example['variant']}: reward {_f(example['reward'])} "
                    f"(honest wrong {_f(example['honest_wrong'])}, "
                    f"right {_f(example['honest_right'])}): `{text}`"
                )
    lines += [
        "",
        "## Robustness (meaning-preserving perturbations)",
        "",
        "| perturbation | responses | Spearman | reward changed | items | right/wrong order flipped |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in report["robustness"].items():
        lines.append(
            f"| {name} | {row['responses']} | {_f(row['spearman'])} | {_pct(row['changed_share'])} | "
            f"{row['items']} | {_pct(row['flip_share'])} |"
        )
    bias = report["bias"]
    per100 = bias["reward_per_100_words"]
    lines += [
        "",
        "## Bias",
        "",
        f"- Reward vs length (Spearman, {bias['responses']} responses): {_f(bias['length_spearman'])}",
        f"- Reward per 100 words at fixed correctness: right {_f(per100['right'], 4)}, wrong "
        f"{_f(per100['wrong'], 4)}, mean {_f(per100['mean'], 4)}",
        f"- Verbosity: padding scored higher in {_pct(bias['verbosity']['padded_higher_share'])} of "
        f"{bias['verbosity']['pairs']} pairs; mean gain {_f(bias['verbosity']['mean_gain'], 4)}",
        *_position_lines(bias.get("position")),
        *_pair_scoring_line(bias.get("pair_scoring")),
    ]
    comparison = report.get("comparison")
    if comparison:
        lines += [
            "",
            f"## Comparison with `{report['against']}`",
            "",
            f"On {comparison['responses']} honest responses: Pearson {_f(comparison['pearson'])}, "
            f"Spearman {_f(comparison['spearman'])}, Kendall {_f(comparison['kendall'])}, pairwise "
            f"agreement {_pct(comparison['pairwise_agreement'])}, STARC distance "
            f"{_f(comparison['starc_distance'])} (0 same, 0.5 unrelated, 1 opposite).",
            "",
            "Most disagreeing (canonical rewards):",
            "",
        ]
        for row in comparison["most_disagreeing"]:
            lines.append(f"- `{row['response']}`: {_f(row['a'])} vs {_f(row['b'])} (gap {_f(row['gap'])})")
    lines += ["", "What each figure means and what to do about it: docs/audit.md.", ""]
    return "\n".join(lines)


def _position_lines(judges: dict[str, Any] | None) -> list[str]:
    """One bias line per pairwise judge measured (docs/audit.md#position)."""
    if not judges:
        return [
            "- Judge position bias: no pairwise judge measured (none in the pipeline, or see not probed)."
        ]
    return [
        f"- Judge position bias, `{judge}` ({row['pairs']} pairs, both orders): verdict flips when "
        f"swapped {_pct(row['flip_share'])}, mean preference for position A "
        f"{_f(row['mean_preference_a'])} (0.5 none), worse response wins by position "
        f"{_pct(row['worse_wins_by_position_share'])}"
        for judge, row in judges.items()
    ]


def _pair_scoring_line(row: dict[str, Any] | None) -> list[str]:
    """The pipeline's own pair scoring (/v1/compare) with each pair in both orders."""
    if not row:
        return []
    return [
        f"- Pair scoring (`/v1/compare`, {row['pairs']} pairs in both orders, {row['failed']} failed): "
        f"preferred response changes with the order {_pct(row['flip_share'])}, mean P(A wins) "
        f"{_f(row['mean_preference_a'])}, worse response wins by position "
        f"{_pct(row['worse_wins_by_position_share'])}"
    ]


def write_plots(
    report: dict[str, Any], lengths: list[tuple[int, float, str]], out_dir: Path, pairs=None
) -> list[str]:
    """Draw the plots; returns the file names written (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    families = report["hackability"]["families"]
    names = list(families)
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(names) + 1.5))
    ax.barh(names, [100 * (families[n]["success_share"] or 0) for n in names], color="tab:red")
    ax.set_xlim(0, 100)
    ax.set_xlabel("items where the family succeeds (%)")
    ax.set_title(f"Hackability of {report['pipeline']}")
    fig.tight_layout()
    fig.savefig(out_dir / "hackability.png")
    plt.close(fig)
    written.append("hackability.png")
    fig, ax = plt.subplots(figsize=(6, 4))
    for side, colour in (("right", "tab:green"), ("wrong", "tab:red")):
        points = [(n, r) for n, r, s in lengths if s == side]
        if points:
            ax.scatter(*zip(*points, strict=True), s=12, color=colour, label=side, alpha=0.7)
    ax.set_xlabel("length (words)")
    ax.set_ylabel("reward")
    ax.legend()
    ax.set_title("Reward vs length (honest answers and padded versions)")
    fig.tight_layout()
    fig.savefig(out_dir / "length.png")
    plt.close(fig)
    written.append("length.png")
    if pairs:
        a, b = pairs
        fig, ax = plt.subplots(figsize=(5, 5))
        ax.scatter(a, b, s=12, alpha=0.7)
        ax.set_xlabel(report["pipeline"])
        ax.set_ylabel(report["against"])
        ax.set_title("Rewards of the same responses")
        fig.tight_layout()
        fig.savefig(out_dir / "comparison.png")
        plt.close(fig)
        written.append("comparison.png")
    return written
