"""The shipped examples/verifree.yaml through the real service, on the tiny causal LMs that
`rewardgate random-model --kind causal_lm` writes: rewards against a direct transformers
computation, the documented outcomes of the hacks, and the log-ratio pair."""

import math
import subprocess
import sys

import httpx
import pytest
import torch
import yaml
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.e2e.conftest import write_config
from tests.support.server import REPO_ROOT, ServiceProcess, score_ok

pytestmark = pytest.mark.slow

PROMPT = "What is 2+2?"
HONEST = [
    "<think>Two plus two: count two, then two more.</think><answer>4</answer>",
    "<think>Add the numbers together carefully.</think><answer>5</answer>",
    "<think>Double two.</think><answer>4</answer>",
]


def random_causal_lm(out, *options):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rewardgate",
            "random-model",
            "--kind",
            "causal_lm",
            "--out",
            str(out),
            *options,
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "kind: likelihood" in result.stderr  # says how to use it
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("lms")
    return random_causal_lm(root / "tiny-lm"), random_causal_lm(root / "tiny-lm-ref", "--seed", "1")


@pytest.fixture(scope="module")
def service(tmp_path_factory, models):
    policy, reference = models
    text = (REPO_ROOT / "examples" / "verifree.yaml").read_text()
    text = text.replace("models/tiny-lm-ref", str(reference)).replace("models/tiny-lm", str(policy))
    directory = tmp_path_factory.mktemp("verifree")
    config = write_config(directory / "verifree.yaml", yaml.safe_load(text))
    env = {"REWARDGATE_MONITOR_WINDOW_ITEMS": "10", "REWARDGATE_MONITOR_MIN_ITEMS": "3"}
    process = ServiceProcess(config, env=env, log_path=directory / "log").wait()
    yield process
    process.stop()


def logprobs(path, context: str, spans: list[str]) -> list[torch.Tensor]:
    """Token log-probs of each span piece after a chat-rendered ``context``, straight from transformers."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    context_ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    pieces = [tokenizer(piece, add_special_tokens=False)["input_ids"] for piece in spans]
    ids = context_ids + [token for piece in pieces for token in piece]
    with torch.no_grad():
        table = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    out, position = [], len(context_ids)
    for piece in pieces:
        out.append(torch.stack([table[p - 1, ids[p]] for p in range(position, position + len(piece))]))
        position += len(piece)
    return out


def chat_prefix(path, assistant_before_span: str) -> str:
    """The chat template's text up to (not including) the span, the assistant turn begun."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    marker = "\x00SPAN\x00"
    rendered = tokenizer.apply_chat_template(
        [
            {"role": "user", "content": PROMPT},
            {"role": "assistant", "content": assistant_before_span + marker},
        ],
        tokenize=False,
    )
    return rendered[: rendered.index(marker)]


def test_verifree_rewards_match_a_direct_computation(service, models):
    policy, _ = models
    items = [{"prompt": PROMPT, "response": r, "reference": "4", "group": "g"} for r in HONEST]
    results = score_ok(service, "verifree", items)["results"]
    probabilities = []
    for response in HONEST:
        kept = response[: response.index("</think>") + len("</think>")]
        (tokens,) = logprobs(policy, chat_prefix(policy, kept + "<answer>"), ["4"])
        probabilities.append(math.exp(float(tokens.sum())))
    mean = sum(probabilities) / len(probabilities)
    for result, p in zip(results, probabilities, strict=True):
        assert result["status"] == "ok", result
        expected = 1 / (1 + math.exp(-(p - mean)))
        assert result["components"]["likelihood"] == pytest.approx(expected, abs=1e-5)
        assert result["reward"] == pytest.approx(1.0 + expected, abs=1e-5)
    # The response's own answer is not read: HONEST[0] and HONEST[1] differ only in reasoning.
    assert len({round(p, 9) for p in probabilities}) == 3


def test_hacks_get_their_documented_outcomes(service):
    items = [
        {"prompt": PROMPT, "response": r, "reference": "4", "group": "h"}
        for r in [
            *HONEST,
            "<think>4 4 4 4</think><answer>4</answer>",  # states the reference for the model to copy
            "<think>\u200b</think><answer>4</answer>",  # no reasoning: the model's prior, gated
            "4",  # no format, no reasoning
            "<think>Two and two</think> 4",  # reasoning, but not the answer format
        ]
    ]
    results = score_ok(service, "verifree", items)["results"]
    honest, stated, blank, bare, unformatted = results[:3], *results[3:]
    assert stated["status"] == "partial" and stated["reward"] == 1.0
    assert stated["errors"]["likelihood"]["type"] == "invalid_component_input"
    assert "already states the reference" in stated["errors"]["likelihood"]["message"]
    assert blank["reward"] == 0.0 and blank["components"]["structure"] == 0.0  # no visible reasoning
    assert bare["reward"] == 0.0 and bare["errors"]["likelihood"]["type"] == "invalid_component_input"
    assert unformatted["reward"] == 0.0 and "likelihood" in unformatted["components"]  # gated
    assert all(h["reward"] > stated["reward"] for h in honest)


def test_missing_reference_is_a_typed_error_not_a_zero(service):
    (result,) = score_ok(service, "verifree", [{"prompt": PROMPT, "response": HONEST[0]}])["results"]
    assert result["errors"]["likelihood"]["type"] == "invalid_reference"


def test_dpo_implicit_reward_is_beta_times_the_log_ratio(service, models):
    policy, reference = models
    response = "Two plus two is four."
    (result,) = score_ok(service, "dpo_implicit", [{"prompt": PROMPT, "response": response}])["results"]
    prefix = chat_prefix(policy, "")
    (mine,) = logprobs(policy, prefix, [response])
    (theirs,) = logprobs(reference, prefix, [response])
    assert result["reward"] == pytest.approx(0.1 * float(mine.sum() - theirs.sum()), abs=1e-5)


def test_implicit_prm_is_the_weakest_steps_log_ratio(service, models):
    policy, reference = models
    steps = ["First, two plus two.", "That is four."]
    reply = score_ok(
        service, "implicit_prm", [{"prompt": PROMPT, "response": "\n\n".join(steps)}], return_steps=True
    )
    (result,) = reply["results"]
    spans = [step + "\n\n" for step in steps]
    prefix = chat_prefix(policy, "")
    per_step = [
        0.1 * float(a.sum() - b.sum())
        for a, b in zip(logprobs(policy, prefix, spans), logprobs(reference, prefix, spans), strict=True)
    ]
    assert result["steps"]["process"]["rewards"] == pytest.approx(per_step, abs=1e-5)
    assert result["reward"] == pytest.approx(min(per_step), abs=1e-5)


def test_overlong_input_is_a_typed_item_error(service):
    long_prompt = "word " * 5000
    body = {"pipeline": "dpo_implicit", "items": [{"prompt": long_prompt, "response": "four"}]}
    reply = httpx.post(service.url + "/v1/score", json=body, timeout=60)
    assert reply.status_code == 200
    (result,) = reply.json()["results"]
    assert result["status"] == "error" and result["reward"] is None
    assert "max_length 2048" in result["errors"]["implicit"]["message"]


def test_likelihood_drift_in_stats_and_metrics(service):
    """The model's raw values over the last 10 items against the 10 before, in /v1/stats and /metrics."""
    rewards = []
    for batch in range(2):
        items = [{"prompt": PROMPT, "response": f"Answer number {batch * 10 + k}."} for k in range(10)]
        rewards += [r["reward"] for r in score_ok(service, "dpo_implicit", items)["results"]]
    stats = httpx.get(service.url + "/v1/stats", timeout=10).json()["likelihood"]["model:implicit_lm"]
    shift = sum(rewards[10:]) / 10 - sum(rewards[:10]) / 10
    assert stats["items"] == 10
    assert stats["mean"] == pytest.approx(sum(rewards[10:]) / 10, abs=1e-9)
    assert stats["mean_shift"] == pytest.approx(shift, abs=1e-9)
    assert stats["drift"]["ks"] is not None
    assert service.metric(
        "rewardgate_window_likelihood_mean_shift", model="model:implicit_lm"
    ) == pytest.approx(shift, abs=1e-9)
