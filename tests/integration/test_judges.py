"""Judge sources and the judge client against a scripted OpenAI-compatible
server on a real socket (tests/support/openai_server.py)."""

import asyncio
import time

import pytest

from rewardgate.errors import (
    InvalidComponentInput,
    InvalidReference,
    JudgeInputRejected,
    JudgeParseError,
    JudgeRefusal,
    JudgeTimeout,
    JudgeUnavailable,
)
from rewardgate.items import ScoringItem
from rewardgate.sources.judge.source import JudgeSource
from tests.support.judge_sources import judge_sources
from tests.support.openai_server import ScriptedJudgeServer


@pytest.fixture(scope="module")
def server():
    scripted = ScriptedJudgeServer().start()
    yield scripted
    scripted.stop()


@pytest.fixture(autouse=True)
def fresh(server):
    server.reset()


@pytest.fixture
async def make(server):
    """Factory of judge sources on the scripted server, closed when the test ends."""
    async with judge_sources(server) as build:
        yield build


async def judge(source: JudgeSource, *items: ScoringItem, within_s: float = 10.0):
    result = await source.compute(list(items), time.monotonic() + within_s)
    return result.outcomes, result.judge_tokens


def item(response: str, reference: str | None = None, **metadata) -> ScoringItem:
    return ScoringItem("How do I boil an egg?", response, reference, metadata)


async def test_pointwise_score_is_normalised_to_the_unit_interval_and_tokens_are_counted(server, make):
    outcomes, tokens = await judge(make(), item("Boil it 8 minutes. [[score=8]]"))
    assert outcomes == [[pytest.approx((8 - 1) / 9)]]
    assert tokens > 0
    request = server.calls[0]["body"]
    assert request["response_format"] == {"type": "json_object"}
    assert request["model"] == "scripted-judge" and request["temperature"] == 0.0


async def test_pattern_output_parses_the_last_score_line(server, make):
    source = make(output="pattern", scale=(0, 10))
    outcomes, _ = await judge(source, item("[[score=3]]"))
    assert outcomes == [[pytest.approx(0.3)]]
    assert "response_format" not in server.calls[0]["body"]


async def test_logprobs_give_the_probability_weighted_expected_score(server, make):
    outcomes, _ = await judge(make(logprobs=True), item("[[score=8]]"))
    expected = 0.6 * 8 + 0.3 * 7 + 0.1 * 9
    assert outcomes == [[pytest.approx((expected - 1) / 9)]]
    assert server.calls[0]["body"]["top_logprobs"] == 10


@pytest.mark.parametrize(
    ("response", "error", "mentions"),
    [
        ("[[malformed]]", JudgeParseError, "not JSON"),
        ("[[score=42]]", JudgeParseError, "outside the scale"),
        ("[[truncate]] [[score=7]]", JudgeParseError, "truncated"),
        ("[[refuse]]", JudgeRefusal, "refused"),
    ],
)
async def test_bad_replies_are_typed_errors_never_scores(server, make, response, error, mentions):
    outcomes, _ = await judge(make(), item(response))
    assert isinstance(outcomes[0], error) and mentions in outcomes[0].message


async def test_a_slow_judge_times_out_at_the_deadline_as_an_item_error(server, make):
    started = time.monotonic()
    outcomes, _ = await judge(make(), item("[[sleep=3]] [[score=9]]"), within_s=0.5)
    assert isinstance(outcomes[0], JudgeTimeout) and outcomes[0].retryable
    assert time.monotonic() - started < 3  # answered before the judge would have


async def test_429_is_retried_after_the_servers_retry_after(server, make):
    outcomes, _ = await judge(make(), item("[[fail=429,times=1,retry_after=0.5]] [[score=10]]"))
    assert outcomes == [[1.0]]
    first, second = server.calls
    assert second["at"] - first["at"] >= 0.5


async def test_5xx_is_retried_with_backoff_then_succeeds(server, make):
    outcomes, _ = await judge(make(), item("[[fail=502,times=2]] [[score=1]]"))
    assert outcomes == [[0.0]] and len(server.calls) == 3


async def test_a_4xx_rejection_is_not_retried_and_not_retryable(server, make):
    outcomes, _ = await judge(make(), item("[[fail=401,times=5]] [[score=5]]"))
    assert isinstance(outcomes[0], JudgeUnavailable) and not outcomes[0].retryable
    assert outcomes[0].cause == "service"  # a bad key or model name is the service's
    assert len(server.calls) == 1


@pytest.mark.parametrize("status", [400, 413, 422])
async def test_a_rejected_prompt_is_the_responses_failure_not_retried(server, make, status):
    # A response that overflows the judge's context window gets HTTP 400 (vLLM, OpenAI).
    outcomes, _ = await judge(make(), item(f"[[fail={status},times=5]] [[score=5]]"))
    assert isinstance(outcomes[0], JudgeInputRejected) and outcomes[0].cause == "response"
    assert not outcomes[0].retryable and len(server.calls) == 1


async def test_5xx_bursts_open_the_breaker_and_recovery_closes_it(server, make):
    source = make(retry={"attempts": 1}, breaker={"failures": 3, "reset_s": 0.3})
    await asyncio.to_thread(server._loop.call_soon_threadsafe, lambda: setattr(server, "fail_status", 503))
    outcomes, _ = await judge(source, *(item(f"[[score=5]] {i}") for i in range(3)))
    assert all(isinstance(o, JudgeUnavailable) for o in outcomes)
    assert source.client.breaker.state == "open"
    outcomes, _ = await judge(source, *(item(f"[[score=5]] more {i}") for i in range(5)))
    assert all(isinstance(o, JudgeUnavailable) and "breaker is open" in o.message for o in outcomes)
    assert len(server.calls) == 3  # failing fast: nothing more reached the upstream
    server.fail_status = None
    await asyncio.sleep(0.35)  # the breaker's reset time
    outcomes, _ = await judge(source, item("[[score=10]] back"))
    assert outcomes == [[1.0]] and source.client.breaker.state == "closed"


async def test_bulkhead_bounds_concurrent_calls(server, make):
    source = make(max_concurrency=3)
    outcomes, _ = await judge(
        source, *(item(f"[[tag=bulk]] [[sleep=0.2]] [[score=6]] {i}") for i in range(12))
    )
    assert all(o == [pytest.approx(5 / 9)] for o in outcomes)
    assert server.max_open_by_tag["bulk"] == 3


async def test_requests_per_minute_budget_holds_until_the_deadline(server, make):
    source = make(requests_per_minute=2)
    outcomes, _ = await judge(source, *(item(f"[[score=6]] {i}") for i in range(4)), within_s=1.0)
    assert sum(isinstance(o, JudgeTimeout) for o in outcomes) == 2
    assert len(server.calls) == 2


async def test_pairwise_asks_both_orders_and_ties_when_they_disagree(server, make):
    source = make(kind="pairwise")
    outcomes, _ = await judge(
        source,
        item("Mine is better [[best]]", reference="The baseline answer"),
        item("Mine", reference="The baseline answer [[best]]"),
    )
    assert outcomes == [[1.0], [0.0]]
    assert len(server.calls) == 4
    firsts = [call["user"].split("[Response B]")[0] for call in server.calls]
    assert sum("Mine is better" in part for part in firsts) == 1  # once as A, once as B
    server.reset()
    biased, _ = await judge(source, item("x [[always=A]]", reference="y"))
    assert biased == [[0.5]]


async def test_pairwise_without_a_reference_response_is_invalid_reference(server, make):
    outcomes, _ = await judge(make(kind="pairwise"), item("x"))
    assert isinstance(outcomes[0], InvalidReference) and not server.calls


async def test_principle_comes_with_the_item(server, make):
    source = make(kind="principle", scale=(1, 5))
    outcomes, _ = await judge(source, item("[[score=5]]", principle="Answer in one sentence."))
    assert outcomes == [[1.0]]
    assert "Answer in one sentence." in server.calls[0]["user"]
    missing, _ = await judge(source, item("[[score=5]]"))
    assert isinstance(missing[0], InvalidComponentInput)


async def test_constraint_and_correctness_verdicts(server, make):
    constraint = make(kind="constraint", constraint="No personal data.")
    outcomes, _ = await judge(constraint, item("[[verdict=no]]"), item("[[verdict=yes]]"))
    assert outcomes == [[0.0], [1.0]]
    assert "No personal data." in server.calls[0]["user"]
    correctness = make(kind="correctness")
    outcomes, _ = await judge(correctness, item("four [[verdict=yes]]", reference="4"))
    assert outcomes == [[1.0]] and "[Reference answer]\n4" in server.calls[-1]["user"]


async def test_version_changes_with_what_changes_a_verdict_and_not_with_limits(server, make):
    base = make()
    assert make(max_concurrency=2, timeout_s=5).version == base.version
    assert make(temperature=0.5).version != base.version
    assert make(template="Rate {response} from {scale_min} to {scale_max}.").version != base.version
    assert make(model="another-judge").version != base.version


async def test_auto_output_falls_back_to_text_when_the_server_has_no_json_mode(server, make):
    server.json_mode = False
    source = make()  # output: auto
    json_version = source.version
    outcomes, _ = await judge(source, item("[[score=7]] a"), item("[[score=4]] b"))
    assert outcomes == [[pytest.approx(6 / 9)], [pytest.approx(3 / 9)]]
    assert source.version != json_version  # a different prompt: cached verdicts are not mixed
    bodies = [call["body"] for call in server.calls]
    assert "response_format" not in bodies[-1] and "Score: <integer>" in server.calls[-1]["user"]
    strict = make(output="json")
    (rejected,), _ = await judge(strict, item("[[score=7]] c"))
    assert isinstance(rejected, JudgeUnavailable) and not rejected.retryable


async def test_tokens_per_minute_budget_holds_until_the_deadline(server, make):
    # Each call is charged max_tokens up front: a budget of two calls' worth admits two.
    source = make(tokens_per_minute=2 * 512, max_tokens=512)
    outcomes, _ = await judge(source, *(item(f"[[score=6]] t{i}") for i in range(4)), within_s=1.0)
    assert sum(isinstance(o, JudgeTimeout) for o in outcomes) == 2
    assert len(server.calls) == 2


async def test_rate_limiting_and_rejections_do_not_open_the_breaker(server, make):
    source = make(retry={"attempts": 1}, breaker={"failures": 1, "reset_s": 60})
    outcomes, _ = await judge(
        source, item("[[fail=429,times=1]] [[score=5]] x"), item("[[fail=400,times=1]] y")
    )
    assert [type(o) for o in outcomes] == [JudgeUnavailable, JudgeInputRejected]
    assert source.client.breaker.state == "closed"  # the upstream answered: it is alive
    outcomes, _ = await judge(source, item("[[score=10]] z"))
    assert outcomes == [[1.0]]
