"""verl's REWARDGATE_ROUTES: a malformed value is one clear error at import, not a bare JSON error."""

import os
import subprocess
import sys

import pytest
from rewardgate_client.errors import InvalidInput
from rewardgate_client.integrations.verl import routes_from


def test_routes_are_a_json_object_of_pipeline_names():
    assert routes_from('{"openai/gsm8k": "math"}') == {"openai/gsm8k": "math"}
    assert routes_from(None) == routes_from("") == routes_from("  ") == {}


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{'gsm8k': 'math'}", "not valid JSON"),
        ('{"gsm8k": "math",}', "not valid JSON"),
        ('["math"]', "must be a JSON object"),
        ('{"gsm8k": 3}', "must be a JSON object"),
        ('{"gsm8k": ""}', "must be a JSON object"),
    ],
)
def test_a_malformed_value_names_the_variable_and_shows_the_form(text, says):
    with pytest.raises(InvalidInput, match=says) as refused:
        routes_from(text)
    assert "REWARDGATE_ROUTES" in refused.value.message and '"openai/gsm8k": "math"' in refused.value.message


def test_importing_the_module_with_a_malformed_variable_says_so():
    env = dict(os.environ, REWARDGATE_ROUTES="{gsm8k: math}")
    run = subprocess.run(
        [sys.executable, "-c", "import rewardgate_client.integrations.verl"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode != 0
    assert "InvalidInput: REWARDGATE_ROUTES is not valid JSON" in run.stderr.splitlines()[-1]
