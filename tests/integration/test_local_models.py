"""Model runners on tiny locally built models, through the real loading code."""

import shutil

import pytest

from rewardgate.errors import InvalidComponentInput, InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.model.runners.reward_model import RewardModelRunner
from rewardgate.sources.model.runners.similarity import SimilarityRunner
from tests.support.tiny_models import build_reward_model

pytestmark = pytest.mark.slow

ITEMS = [
    ScoringItem("What is 2+2?", "four"),
    ScoringItem("What is 2+2?", "The answer is four, because two plus two is four."),
    ScoringItem([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "Hello"),
]


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory):
    return build_reward_model(tmp_path_factory.mktemp("rm"), num_labels=2)


@pytest.fixture(scope="module")
def runner(rm_dir):
    return RewardModelRunner(rm_dir, max_length=64)


def test_scores_do_not_depend_on_batch_composition(runner):
    encoded = [runner.encode(item).payload for item in ITEMS]
    batched = runner.forward(encoded)
    for ids, row in zip(encoded, batched, strict=True):
        alone = runner.forward([ids])[0]
        assert alone == pytest.approx(row, abs=1e-5)
    assert len({round(row[0], 4) for row in batched}) == len(ITEMS)  # not constant


def test_multi_head_model_reports_every_head_by_name(runner):
    assert runner.head_names == ["head0", "head1"]
    assert all(len(row) == 2 for row in runner.forward([runner.encode(ITEMS[0]).payload]))


def test_chat_template_is_applied_to_prompt_and_response(runner):
    ids = runner.token_ids(ITEMS[2])
    text = runner.tokenizer.decode(ids)
    assert "<|system|>Be brief.<|end|><|user|>Hi<|end|><|assistant|>Hello<|end|>" in text


def test_without_chat_template_prompt_and_response_are_concatenated(tmp_path):
    plain = RewardModelRunner(build_reward_model(tmp_path, chat_template=False))
    assert not plain.use_chat_template
    assert plain.tokenizer.decode(plain.token_ids(ScoringItem("ab", "cd"))) == "abcd"


def test_too_long_input_is_refused_not_truncated(runner):
    with pytest.raises(InvalidComponentInput, match="max_length 64"):
        runner.encode(ScoringItem("x " * 200, "y"))


def test_version_is_a_content_hash_that_changes_with_the_weights(rm_dir, tmp_path):
    copy = shutil.copytree(rm_dir, tmp_path / "copy")
    assert RewardModelRunner(copy).version == RewardModelRunner(rm_dir).version
    build_reward_model(tmp_path / "other", num_labels=2, seed=1)
    assert RewardModelRunner(tmp_path / "other").version != RewardModelRunner(rm_dir).version


@pytest.fixture(scope="module")
def minilm():
    return SimilarityRunner(max_length=256)


def test_minilm_similarity_ranks_paraphrases_above_unrelated_text(minilm):
    pairs = [
        ScoringItem("", "A cat sits on the mat.", "A cat sits on the mat."),
        ScoringItem("", "The cat is sitting on the rug.", "A cat sits on the mat."),
        ScoringItem("", "Quarterly revenue fell sharply.", "A cat sits on the mat."),
    ]
    scores = minilm.forward([minilm.encode(pair).payload for pair in pairs])
    same, paraphrase, unrelated = (row[0] for row in scores)
    assert same == pytest.approx(1.0, abs=1e-4)
    assert paraphrase > 0.5 > unrelated


def test_similarity_requires_a_reference(minilm):
    with pytest.raises(InvalidReference):
        minilm.encode(ScoringItem("", "text", None))
