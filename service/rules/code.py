"""Code execution: a Python response against the tests in the item's reference.

The code is the first fenced ```python (or plain ```) block of the response,
else the whole response. The reference holds ``assert`` statements or a
unittest module. Score: the fraction of tests that pass. A program that hangs,
exceeds its memory or floods its output simply passes fewer tests (its
verdict is logged); a failure of the sandbox itself is ``sandbox_error``.
Runs in the sandbox described in service/sandbox/runner.py, from the
verifier pool.
"""

from __future__ import annotations

import logging
import re

from pydantic import Field

from service.errors import InvalidReference
from service.items import ScoringItem
from service.rules.base import Rule, RuleParams
from service.sandbox.runner import SandboxLimits, run_tests

log = logging.getLogger(__name__)
_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_code(response: str) -> str:
    fenced = _FENCE.search(response)
    return fenced.group(1) if fenced else response


class CodeTestsParams(RuleParams):
    timeout_s: float = Field(10.0, gt=0, le=300, description="Wall-clock limit of one run.")
    memory_mb: int = Field(512, ge=64, le=65536, description="Address-space limit.")
    max_output_kb: int = Field(64, ge=1, description="Largest file or output the program may write.")
    max_processes: int = Field(32, ge=1, le=4096, description="Processes of the sandbox user.")


class CodeTests(Rule):
    type_name = "code_tests"
    Params = CodeTestsParams
    isolated = True

    @property
    def timeout_s(self) -> float:
        # The sandbox enforces its own limit; the pool's is a backstop above it.
        return self.params.timeout_s + 15

    def evaluate(self, item: ScoringItem) -> float:
        tests = self.require_reference(item)
        limits = SandboxLimits(
            self.params.timeout_s, self.params.memory_mb, self.params.max_output_kb, self.params.max_processes
        )
        result = run_tests(extract_code(item.response), tests, limits)
        if result.verdict == "ok" and result.total == 0:
            raise InvalidReference("the reference contains no assert statements or unittest tests")
        if result.verdict != "ok":
            log.info("sandbox verdict %s: %d/%d tests passed", result.verdict, result.passed, result.total)
        return result.pass_fraction
