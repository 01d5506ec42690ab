"""The OpenRLHF python-file adapter: prompt separation and the configurable timeout."""

import pytest
from rewardgate_client.errors import ItemFailed
from rewardgate_client.integrations import openrlhf


def test_the_response_is_what_follows_the_prompt_even_after_a_bos():
    assert openrlhf.response_of("<s>Q: 3+1? \\boxed{4}", "Q: 3+1?") == " \\boxed{4}"
    assert openrlhf.response_of("whole query", "") == "whole query"


PROMPT = "<image>\nExample: 2+2 is \\boxed{4}. Now look at the picture: what is 3+1? Answer in a box."


def test_expanded_image_placeholders_leave_only_the_response():
    query = "<s>" + PROMPT.replace("<image>", "<image>" * 4) + " I do not know"
    assert openrlhf.response_of(query, PROMPT) == " I do not know"


def test_a_prompt_truncated_at_either_end_leaves_only_the_response():
    assert openrlhf.response_of(PROMPT[:40] + " I do not know", PROMPT) == " I do not know"
    assert openrlhf.response_of("<s>" + PROMPT[-40:] + " I do not know", PROMPT) == " I do not know"


def test_copying_the_prompt_into_the_response_only_cuts_the_copy():
    """However much of the prompt a response repeats, what is scored is a suffix of the
    response: never text of the prompt's own (its worked example's \\boxed{4})."""
    placeholders = PROMPT.replace("<image>", "<image>" * 4)
    for remnant in (placeholders, PROMPT[:40], PROMPT[-40:], PROMPT[:20]):
        for copy in (PROMPT, PROMPT[:30], PROMPT[-30:], PROMPT[5:60], ""):
            response = f" {copy} so \\boxed{{7}}"
            scored = openrlhf.response_of("<s>" + remnant + response, PROMPT)
            assert response.endswith(scored), (remnant, copy, scored)


def test_a_query_holding_nothing_of_its_prompt_is_all_response():
    assert openrlhf.response_of("\\boxed{4}", "a prompt the query does not hold at all") == "\\boxed{4}"


def test_an_empty_batch_gets_empty_rewards_without_a_call(monkeypatch):
    def shared_client(url, **kwargs):
        raise AssertionError("no call for an empty batch")

    monkeypatch.setattr(openrlhf, "shared_client", shared_client)
    reply = openrlhf.make_reward_func("http://x", "math")([], [], [])
    assert [list(reply["rewards"]), list(reply["scores"]), reply["extra_logs"]] == [[], [], {}]


def test_the_timeout_reaches_the_client(monkeypatch):
    seen = {}

    class Client:
        def score(self, items, pipeline, **options):
            raise ItemFailed("stop here")

    def shared_client(url, **kwargs):
        seen.update(kwargs)
        return Client()

    monkeypatch.setattr(openrlhf, "shared_client", shared_client)
    with pytest.raises(ItemFailed):
        openrlhf.make_reward_func("http://x", "math", timeout_s=180)(["q a"], ["q"], ["a"])
    assert seen == {"timeout_s": 180}
