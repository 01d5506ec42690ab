"""The checked-in gRPC code matches proto/rewardgate/v1/reward.proto (run `make proto`)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "proto" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_up_to_date(tmp_path):
    generator = load_generator()
    for fresh in generator.generate(tmp_path):
        checked_in = generator.DEFAULT_OUT / fresh.name
        assert checked_in.read_text() == fresh.read_text(), f"{checked_in} is stale: run `make proto`"
