"""What the trainers' built-in HTTP modes print for an error: the status line's reason phrase.

OpenRLHF's ``--remote_rm_url`` posts with ``requests`` and calls
``response.raise_for_status()``, logging the exception; slime's ``remote_rm``
posts with aiohttp and calls ``resp.raise_for_status()``. Neither reads the
body, so the service names the error in the reason phrase of every non-2xx
reply on those routes (rewardgate/api/http/reason_phrase.py). The calls below
are made exactly that way, against the real service.
"""

from __future__ import annotations

import aiohttp
import httpx
import pytest
import requests

from rewardgate.auth.keys import digest
from tests.e2e.conftest import write_config
from tests.support.server import ServiceProcess

pytestmark = pytest.mark.slow

KEY = "rg_reason-phrase-key-0123456789"
MAX_BODY_BYTES = 20_000


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("reason")
    config = write_config(
        workdir / "pipelines.yaml",
        {
            "rules": {"math": {"type": "math_verify", "timeout_s": 10}},
            "pipelines": {"math": {"components": {"correct": {"rule": "math"}}}},
        },
    )
    env = {
        "REWARDGATE_API_KEYS": f"trainer {digest(KEY)}",
        "REWARDGATE_MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        "REWARDGATE_VERIFIER_WORKERS": "1",
    }
    process = ServiceProcess(config, env=env, log_path=workdir / "service.log")
    try:
        yield process.wait()
    finally:
        process.stop()


def openrlhf_post(url: str, data: dict) -> str:
    """OpenRLHF's remote reward call (``requests.post``, ``raise_for_status``): the exception text."""
    response = requests.post(url=url, json=data, headers={"Content-Type": "application/json"}, timeout=180)
    with pytest.raises(requests.HTTPError) as raised:
        response.raise_for_status()
    return str(raised.value)


async def slime_post(url: str, payload: dict) -> str:
    """slime's ``remote_rm`` (aiohttp ``session.post``, ``raise_for_status``): the exception text."""
    async with aiohttp.ClientSession() as session, session.post(url, json=payload) as resp:
        with pytest.raises(aiohttp.ClientResponseError) as raised:
            resp.raise_for_status()
        return str(raised.value)


def test_openrlhf_sees_the_error_of_a_malformed_batch(service):
    url = f"{service.url}/get_reward?pipeline=math&api_key={KEY}"
    text = openrlhf_post(url, {"query": ["2+2? 4", "2+2? 5"], "prompts": ["2+2?"]})
    assert text.startswith(
        "422 Client Error: Unprocessable Entity: invalid_input: prompts: has 1 entries but query has 2"
        " for url: "
    ), text


def test_openrlhf_sees_an_unknown_pipeline_and_a_refused_key(service):
    text = openrlhf_post(f"{service.url}/get_reward?pipeline=maths&api_key={KEY}", {"query": ["x"]})
    assert text.startswith("404 Client Error: Not Found: pipeline_not_found: "), text
    assert "maths" in text
    text = openrlhf_post(f"{service.url}/get_reward?pipeline=math&api_key=wrong", {"query": ["x"]})
    assert text.startswith("401 Client Error: Unauthorized: unauthenticated: invalid API key"), text


def test_openrlhf_sees_a_body_over_the_limit(service):
    url = f"{service.url}/get_reward?pipeline=math&api_key={KEY}"
    text = openrlhf_post(url, {"query": ["x" * MAX_BODY_BYTES]})
    assert text.startswith("413 Client Error: Request Entity Too Large: payload_too_large: "), text


async def test_slime_sees_the_error_of_a_malformed_sample(service):
    url = f"{service.url}/slime/reward?pipeline=math&api_key={KEY}"
    text = await slime_post(url, {"prompt": "2+2?", "label": "4"})
    assert text.startswith("422, message='Unprocessable Entity: invalid_input: body.response"), text
    text = await slime_post(url, {"prompt": "2+2?", "response": "4", "label": {"a": "4", "b": "5"}})
    assert text.startswith(
        "422, message='Unprocessable Entity: invalid_reference: sample 0, component correct: "
        "the reference is not a math answer"
    ), text


async def test_slime_sees_a_wrong_method(service):
    url = f"{service.url}/slime/reward?api_key={KEY}"
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        with pytest.raises(aiohttp.ClientResponseError) as raised:
            resp.raise_for_status()
    assert str(raised.value).startswith("405, message='Method Not Allowed: method_not_allowed: ")


def test_a_successful_reply_and_other_routes_keep_the_standard_phrase(service):
    headers = {"Authorization": f"Bearer {KEY}"}
    ok = requests.post(
        f"{service.url}/get_reward?pipeline=math",
        json={"query": ["2+2? \\boxed{4}"], "prompts": ["2+2?"], "labels": ["4"]},
        headers=headers,
        timeout=60,
    )
    assert (ok.status_code, ok.reason, ok.json()["rewards"]) == (200, "OK", [1.0])
    other = requests.post(f"{service.url}/v1/score", json={"pipeline": "math"}, headers=headers, timeout=60)
    assert (other.status_code, other.reason) == (422, "Unprocessable Entity")
    assert other.json()["error"]["type"] == "invalid_input"  # the body still names it
    missing = requests.get(f"{service.url}/nowhere", headers=headers, timeout=60)
    assert (missing.status_code, missing.reason) == (404, "Not Found")


def test_a_message_built_from_the_callers_input_cannot_split_the_status_line(service):
    """The pipeline name (caller input) reaches the 404 message: CR/LF and non-ASCII in it stay
    inside one printable-ASCII status line, and add no header."""
    pipeline = "x%0D%0ASet-Cookie:%20evil=1%0D%0A%0D%0Acaf%C3%A9%E2%9C%93"
    url = f"{service.url}/get_reward?pipeline={pipeline}&api_key={KEY}"
    response = httpx.post(url, json={"query": ["x"]}, timeout=60)
    assert response.status_code == 404
    assert "set-cookie" not in response.headers
    phrase = response.reason_phrase
    assert phrase.startswith("Not Found: pipeline_not_found: ")
    assert "Set-Cookie: evil=1" in phrase  # its text kept, on the one line
    assert all(32 <= ord(c) < 127 for c in phrase), phrase
    assert len(phrase) <= 200
    assert response.json()["error"]["type"] == "pipeline_not_found"  # the body is intact
