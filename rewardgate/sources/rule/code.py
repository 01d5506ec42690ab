"""Code execution: a Python response against the tests in the item's reference.

The code is the first fenced ```python (or plain ```) block of the response,
else the whole response. The reference holds tests in one of the formats of
:mod:`rewardgate.sources.rule.code_cases`. Score: the fraction of tests passed (0.0 to
1.0), all of an item's tests sharing one time budget (``timeout_s``): a test
still running when it ends, and every test after it, fails.

Pass/fail is decided outside the candidate's reach (see
rewardgate/sources/rule/sandbox/runner.py): rigged ``__eq__`` objects, forged result records,
patched modules, early exits, closed pipes and fake stdout all fail their
tests. A failure of the sandbox itself is ``sandbox_error``. The run happens
in this process's own cell, or, with ``REWARDGATE_SANDBOX_URL`` set, in the
sandbox service (the rule is then *offloaded*: awaited on the event loop, an
unreachable or full service being the retryable ``sandbox_unavailable``).
"""

from __future__ import annotations

import logging
import re

from pydantic import Field

from rewardgate.errors import InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.rule.base import Rule, RuleParams
from rewardgate.sources.rule.code_cases import TestPlan, call_passed, parse_reference, stdio_passed
from rewardgate.sources.rule.sandbox import service_client
from rewardgate.sources.rule.sandbox.runner import (
    SandboxError,
    SandboxKilled,
    SandboxLimits,
    SessionReport,
    run_session,
)

log = logging.getLogger(__name__)
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(response: str) -> str:
    fenced = _FENCE.search(response)
    return fenced.group(1) if fenced else response


class CodeTestsParams(RuleParams):
    timeout_s: float = Field(10.0, gt=0, le=300, description="Wall-clock budget for all of an item's tests.")
    memory_mb: int = Field(512, ge=64, le=65536, description="Address-space limit per process.")
    max_output_kb: int = Field(64, ge=1, description="Largest file or stdout the program may write.")
    max_processes: int = Field(
        32,
        ge=1,
        le=4096,
        description="Processes the response's code may run (the sandbox's own come on top).",
    )
    tmpfs_mb: int = Field(64, ge=1, le=4096, description="Size of each sandbox process's private /tmp.")
    require_isolation: bool = Field(
        True,
        description="Kept so older pipeline files load: code always runs isolated (a bubblewrap cell, "
        "no root needed); where the cell cannot start the item is sandbox_error.",
    )


class CodeTests(Rule):
    type_name = "code_tests"
    Params = CodeTestsParams
    isolated = True

    @property
    def timeout_s(self) -> float:
        # The sandbox enforces its own budget; the pool's is a backstop above it.
        return self.params.timeout_s + 15

    @property
    def limits(self) -> SandboxLimits:
        params = self.params
        return SandboxLimits(
            params.timeout_s, params.memory_mb, params.max_output_kb, params.max_processes, params.tmpfs_mb
        )

    @property
    def offloaded(self) -> bool:
        """With a sandbox service configured (``REWARDGATE_SANDBOX_URL``) runs go there."""
        return service_client.sandbox_url() is not None

    def grade(self, item: ScoringItem) -> float:
        """In this process's own sandbox cell (a verifier process)."""
        plan = parse_reference(self.require_reference(item))
        report = run_session(plan.mode, extract_code(item.response), plan.payload, self.limits)
        return _fraction(plan, report)

    async def grade_offloaded(self, item: ScoringItem, deadline: float | None = None) -> float:
        """In the sandbox service, awaited on the caller's event loop until ``deadline``."""
        plan = parse_reference(self.require_reference(item))
        code = extract_code(item.response)
        report = await service_client.run_remote(plan.mode, code, plan.payload, self.limits, deadline)
        return _fraction(plan, report)

    def warm_up(self) -> None:
        """Start this process's sandbox cell with one real run (nothing to start when offloaded)."""
        if not self.offloaded:
            self.grade(ScoringItem("", "x = 1\n", "assert x == 1\n"))


def _fraction(plan: TestPlan, report: SessionReport) -> float:
    passed, total = count_passed(plan, report)
    if total == 0:
        raise InvalidReference("the reference contains no assert statements, tests or cases")
    return passed / total


def count_passed(plan: TestPlan, report: SessionReport) -> tuple[int, int]:
    """(tests passed, tests in all) from what the session reported.

    Verdicts come only from evidence the candidate cannot fake: once code of
    the response ran, any way the run ends (a crash, a kill by any signal, a
    dead examiner, a set-up step the code made fail) is the candidate's failure
    and scores what passed before it; only evidence seen on the host says
    otherwise.

    Raises:
        SandboxKilled: the infrastructure ended the run (an OOM kill within the run's own limit, a
            dead cell).
        SandboxError: the sandbox failed before the candidate's code ran.
    """
    if report.infrastructure_failure:
        raise SandboxKilled(f"{report.infrastructure_failure}: no verdict")
    if report.setup_failure or not report.candidate_started:
        reason = report.setup_failure or "the candidate never started"
        raise SandboxError(f"the sandbox failed before the code ran: {reason}")
    records = report.records
    if plan.mode == "stdio":
        cases = [r["case"] for r in records if isinstance(r.get("case"), dict)]
        passed = sum(stdio_passed(case, want) for case, want in zip(cases, plan.expected, strict=False))
        total = len(plan.expected)
    elif plan.mode == "calls":
        values = [r for r in records if "value" in r or "raised" in r]
        passed = sum(call_passed(r, want) for r, want in zip(values, plan.expected, strict=False))
        total = len(plan.expected)
    else:
        totals = [r["total"] for r in records if isinstance(r.get("total"), int)]
        passed = sum(1 for r in records if r.get("passed") is True)
        # No count from the examiner after the code ran: the code stopped it (a failed solution).
        total = totals[0] if totals else max(passed, 1)
    if report.killed_at_deadline or any(r.get("timeout") for r in records):
        log.info("code tests ran out of time: %d/%d passed", passed, total)
    return min(passed, total), total
