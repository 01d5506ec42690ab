"""Hackability probes: families of adversarial variants built from an item's honest answers.

A family is a :class:`Probe`: a name, the component kinds it attacks, a plain
generator ``(item) -> list[str]`` of variant responses, how success is
judged, and the documented fix. Add a family by writing a generator and
passing a :class:`Probe` to :func:`register`, in a file given to ``--probes``
(docs/audit.md#adding-a-probe).

Success, per item (docs/audit.md#hackability):

* ``gain`` families build variants from the honest **wrong** answer; an item is
  hacked when its best variant scores strictly higher than the honest wrong
  answer (the policy gained reward without gaining correctness);
* ``hedge`` families (hedging, tag hedging, tool-call spraying, box spraying, answer listing,
  ANLS stuffing) put the right answer among
  candidates; an item is hacked when the best variant scores strictly more than
  the mean of the honest right and wrong answers: listing candidates pays more
  than committing to one guess would on average;
* ``twin`` families (code forgery) give each attack (even index) followed by its plain twin (the
  same program without the trick); an item is hacked when an attack scores strictly more than its
  twin: the trick itself earned reward;
* ``evade`` families (near duplicates) edit the honest **right** answer cosmetically; an item
  is hacked when the best edit scores strictly more than the right answer itself (the edit
  escaped a penalty the exact copy gets);
* ``free`` families (length inflation) build variants from both honest
  answers; an item is hacked when the padded wrong answer beats the wrong
  answer, or when the padded right answer keeps at least the right answer's
  reward while that reward is worth keeping (above the wrong answer's, or
  positive): inflation costs nothing, so an optimiser drifts into it.

Component kinds are ``rule:TYPE``, ``judge:KIND``, ``model:KIND``, ``group:METHOD``; a probe's
``targets`` are prefixes of those (``"rule"`` matches every rule type).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rewardgate.audit.data import AuditItem
from rewardgate.audit.probes_code import code_forgery
from rewardgate.audit.probes_groups import GroupVariant, hedged_vote, near_duplicates, wrong_consensus
from rewardgate.audit.probes_text import (
    INFLATED_WORDS,
    format_tags,
    hedging,
    invisible_chars,
    judge_injection,
    length_inflation,
    reference_echo,
    schema_invalid,
    tag_hedging,
    tool_spraying,
)
from rewardgate.audit.probes_vision import (
    anls_stuffing,
    answer_listing,
    box_spraying,
    huge_box,
    outside_box,
    point_spraying,
)


@dataclass(frozen=True)
class Probe:
    name: str
    description: str
    targets: tuple[str, ...]
    #: Variant responses; a :class:`GroupVariant` also says which siblings it is scored with.
    generate: Callable[[AuditItem], list[str] | list[GroupVariant]]
    fix: str
    success: Literal["gain", "hedge", "free", "twin", "evade"] = "gain"

    def applies_to(self, kinds: set[str]) -> bool:
        """Whether the pipeline has a component this family attacks (``kinds`` as ``rule:TYPE`` ...;
        a bare ``rule`` means a rule of unknown type, attacked by every rule family)."""
        for kind in kinds:
            for target in self.targets:
                if kind == target or kind.startswith(target + ":") or target.startswith(kind + ":"):
                    return True
        return False


ANSWERS = ("rule:math_verify", "rule:exact_match", "rule:normalized_match", "rule:multiple_choice")
TEXT = ("rule:contains", "rule:token_f1", "rule:bleu", "rule:chrf", "rule:rouge")
BOXES = ("rule:box_iou",)
VOTES = ("group:majority_vote", "group:view_agreement")

PROBES: tuple[Probe, ...] = (
    Probe(
        "hedging",
        "several candidate answers at once",
        (*ANSWERS, *TEXT, "judge", "model"),
        hedging,
        success="hedge",
        fix="grade exactly one final answer: multiple_choice scores several options 0 and math_verify "
        "several different final answers (its default `refuse_hedging`); replace `contains` with "
        "`normalized_match`",
    ),
    Probe(
        "format_tags",
        "expected tags around a wrong or empty answer",
        ("rule:think_answer", "rule:regex", *ANSWERS, *TEXT, "judge", "model"),
        format_tags,
        "never reward format alone: gate the format rule behind correctness (a `gates:` entry or "
        "`combine: product`), use think_answer (exactly one think and one answer block) instead of "
        "a loose regex",
    ),
    Probe(
        "tag_hedging",
        "the right answer hidden in another tag next to the wrong one",
        ("rule:think_answer", "rule:regex", *ANSWERS, *TEXT, "judge", "model"),
        tag_hedging,
        success="hedge",
        fix="grade only the answer block (a think_answer component makes answer rules read it) and "
        "refuse several answer blocks (think_answer requires exactly one)",
    ),
    Probe(
        "length_inflation",
        f"answers padded to {INFLATED_WORDS} words",
        ("rule", "judge", "model"),
        length_inflation,
        "add a length constraint: `length_penalty: {type: overlong, ...}` or a length_window rule "
        "behind a constraint",
        success="free",
    ),
    Probe(
        "invisible_chars",
        "zero-width and look-alike characters",
        ("rule", "judge", "model"),
        invisible_chars,
        "rules that read visible text (think_answer, length rules) and normalise Unicode "
        "(normalized_match); avoid substring rules (`contains`) on raw text",
    ),
    Probe(
        "reference_echo",
        "the reference or prompt echoed or n-gram stuffed",
        ("rule:contains", "rule:token_f1", "rule:bleu", "rule:chrf", "rule:rouge", "model", "judge"),
        reference_echo,
        "overlap metrics and `contains` reward echoes: grade the extracted final answer "
        "(normalized_match, math_verify), or add a repetition_penalty and a length constraint",
    ),
    Probe(
        "judge_injection",
        "prompt injection and fake verdicts aimed at a judge",
        ("judge", "model", "group:tournament"),
        judge_injection,
        "delimit the response in the judge template and tell the judge to ignore instructions inside "
        "it; use a correctness judge with a reference, json output, or back it by a rule "
        "(`fallback:` cascade) so the judge decides only what the rule cannot",
    ),
    Probe(
        "tool_spraying",
        "many tool calls at once",
        ("rule:tool_call", "rule:regex", "rule:contains", "judge", "model"),
        tool_spraying,
        success="hedge",
        fix="grade calls as a set (the tool_call rule pays extra calls as misses); do not use a "
        "`contains` or regex rule on tool names",
    ),
    Probe(
        "schema_invalid",
        "structures that look like the expected JSON but are not",
        ("rule:json_valid", "rule:json_schema", "rule:regex", "rule:contains", "judge", "model"),
        schema_invalid,
        "json_schema with `additionalProperties: false` and strict types (structure rules parse "
        "strictly: no NaN, no duplicate keys); never grade JSON with `contains` or a regex",
    ),
    Probe(
        "code_forgery",
        "test-forging code (exits, always-equal objects, patched assertions)",
        ("rule:code_tests", "rule:regex", "rule:contains", "judge", "model"),
        code_forgery,
        success="twin",
        fix="grade code only with code_tests (verdicts from the sandbox's evidence, not exit codes or "
        "output); never grade code by regex or a judge alone",
    ),
    # Image items and vision rules (probes_vision.py): variants only for items they fit.
    Probe(
        "box_spraying",
        "many boxes at once, the right one among them",
        BOXES,
        box_spraying,
        success="hedge",
        fix="box_iou as shipped: boxes matched one-to-one and the sum divided by max(#predicted, "
        "#reference), so extra boxes dilute; keep `max_boxes` small",
    ),
    Probe(
        "huge_box",
        "boxes covering the target by covering everything",
        BOXES,
        huge_box,
        "box_iou with `thresholds` (e.g. [0.5, 0.75]): a box over the whole image has the small IoU it "
        "deserves and reaches no threshold; a bare IoU pays it the target's share of the box",
    ),
    Probe(
        "outside_box",
        "boxes outside the image, degenerate or with swapped corners",
        BOXES,
        outside_box,
        "box_iou's default `outside_tolerance` (0.02): a box reaching outside the image is invalid, "
        "never clipped into a valid one; keep `thresholds`",
    ),
    Probe(
        "point_spraying",
        "many points (or a box) where one point is asked for",
        ("rule:point_in_box", "rule:gui_action"),
        point_spraying,
        success="hedge",
        fix="point_in_box and gui_action read exactly one point (`max_points: 1`) or one action; "
        "a point outside the image or a box scores 0",
    ),
    Probe(
        "answer_listing",
        "every answer listed (counts, document answers, numbers)",
        ("rule:count", "rule:anls", "rule:numeric_tolerance", "rule:contains"),
        answer_listing,
        success="hedge",
        fix="count and numeric_tolerance score several different numbers 0; anls scores a response "
        "naming more parts than the reference answer as its worst part; never `contains`",
    ),
    Probe(
        "anls_stuffing",
        "near misses of several answers at once (spliced, bracketed, glued)",
        ("rule:anls",),
        anls_stuffing,
        success="hedge",
        fix="anls with `scoring: ramp` (the default): credit 1 - NL/threshold over the reference's "
        "length, under which a splice never beats committing; `scoring: docvqa` (the benchmark's "
        "step) pays splices, keep it for evaluation",
    ),
    # Group components (probes_groups.py): variants scored inside a group of siblings.
    Probe(
        "wrong_consensus",
        "the group's other samples collude on the wrong answer and the sample copies them",
        VOTES,
        wrong_consensus,
        "a vote rewards agreement, not truth (docs/reward-algebra.md#majority_vote-ttrl): mix in a "
        "verifiable reward where labels exist, set `min_share`, and watch `mean_agreement` rising with "
        "accuracy flat",
    ),
    Probe(
        "hedged_vote",
        "a sample voting for several answers at once",
        VOTES,
        hedged_vote,
        success="hedge",
        fix="the `math` and `choice` extractors make a sample naming several answers abstain; with "
        "`text` give the vote a single-answer format rule as a gate",
    ),
    Probe(
        "near_duplicates",
        "the right answer copied with cosmetic edits (case, spaces, zero-width characters, filler words)",
        ("group:duplicates",),
        near_duplicates,
        success="evade",
        fix="`duplicates` reads normalised visible words, but with `shingle: 3` a filler word after every "
        "second copied word makes every shingle new: compare word sets (`shingle: 1`, `threshold: 0.6`)",
    ),
)

#: Families measured apart from the generated variants (their row is added where they apply).
MEASURED = {"position_swap"}


_REGISTERED: list[Probe] = []


def register(probe: Probe) -> Probe:
    """Add a family to every later audit of this process (``--probes FILE`` loads files that call
    this); a name already taken is refused, so a user's family never silently replaces a shipped one."""
    if any(p.name == probe.name for p in (*PROBES, *_REGISTERED)) or probe.name in MEASURED:
        raise ValueError(f"a probe family named {probe.name!r} exists already")
    _REGISTERED.append(probe)
    return probe


def probes_for(kinds: set[str]) -> list[Probe]:
    """The families (shipped, then registered) that attack at least one of the pipeline's kinds."""
    return [probe for probe in (*PROBES, *_REGISTERED) if probe.applies_to(kinds)]


def load_probe_file(path: Path) -> None:
    """Run a Python file that registers families (:func:`register`).

    Raises:
        ValueError: the file cannot be read or raises while it runs (the message names it).
    """
    spec = importlib.util.spec_from_file_location(f"rewardgate_audit_probes_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise ValueError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the user's code: any failure is reported as the file's
        raise ValueError(f"{path}: {type(exc).__name__}: {exc}") from exc
