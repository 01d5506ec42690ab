"""The OpenRLHF python-file adapter: prompt separation and the configurable timeout."""

import pytest
from rewardgate_client.errors import ItemFailed
from rewardgate_client.integrations import openrlhf


def test_the_response_is_what_follows_the_prompt_even_after_a_bos():
    assert openrlhf.response_of("<s>Q: 3+1? \\boxed{4}", "Q: 3+1?") == " \\boxed{4}"
    assert openrlhf.response_of("whole query", "") == "whole query"


def test_a_query_without_its_prompt_fails_instead_of_being_scored_whole():
    with pytest.raises(ItemFailed, match="does not contain its prompt"):
        openrlhf.response_of("Example: \\boxed{4}. I do not know", "another prompt")


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
