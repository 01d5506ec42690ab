"""The written layering (docs/architecture.md#layering, pyproject's [tool.importlinter]) holds.

The contracts run in a real ``lint-imports`` process over the installed
package's import graph. Two more checks keep the contract honest: every
room of the package is placed in a layer (a new folder cannot slip past
the check), and the layer list in the docs is the one the check uses.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "rewardgate"


def contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def layers() -> list[list[str]]:
    (rooms,) = (c for c in contracts() if c["id"] == "rooms")
    return [re.split(r"\s*[|:]\s*", layer.strip()) for layer in rooms["layers"]]


def test_no_import_runs_against_the_written_layering():
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run(
        [str(lint), "--no-cache", "--config", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert f"Contracts: {len(contracts())} kept, 0 broken." in run.stdout


def test_every_room_has_a_layer():
    placed = {room for layer in layers() for room in layer}
    rooms = {
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" or (path / "__init__.py").exists()) and not path.name.startswith("__")
    }
    assert rooms - placed == set(), "place these in [tool.importlinter] layers and docs/architecture.md"
    assert placed - rooms == set(), "layers name rooms that do not exist"


def test_the_docs_show_the_layers_the_check_uses():
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text.split("## Layering", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    written = [re.findall(r"`([a-z_]+)`", row.split("|")[2]) for row in rows]
    assert written == layers()
