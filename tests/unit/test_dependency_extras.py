"""Every extra pyproject.toml asks of a dependency is spelled as that dependency declares it:
pip before 23.3 compares extras unnormalised, warns "does not provide the extra" and then
installs without it (math-verify declares ``antlr4-13-2``, not ``antlr4_13_2``)."""

import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement

from tests.support.server import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
REQUIREMENTS = [
    Requirement(line)
    for line in [
        *PROJECT["dependencies"],
        *(d for group in PROJECT["optional-dependencies"].values() for d in group),
    ]
]


@pytest.mark.parametrize("requirement", [r for r in REQUIREMENTS if r.extras], ids=str)
def test_extras_are_spelled_as_their_distribution_declares_them(requirement):
    declared = metadata.metadata(requirement.name).get_all("Provides-Extra") or []
    for extra in requirement.extras:
        assert extra in declared, f"{requirement.name} declares {declared}, not {extra!r}"
