"""kind: likelihood on tiny random-weight causal LMs: numbers against a direct transformers
computation (fp32, 1e-5), batch independence, the pair's log-ratio, per-step sums, and the
documented refusals (docs/reward-algebra.md#likelihood-rewards)."""

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rewardgate.errors import InvalidComponentInput, InvalidReference
from rewardgate.items import ScoringItem
from rewardgate.sources.likelihood.runner import LikelihoodRunner
from rewardgate.sources.likelihood.spec import LikelihoodSpec
from tests.support.tiny_models import build_causal_lm

pytestmark = pytest.mark.slow

ITEMS = [
    ScoringItem("What is 2+2?", "Two plus two makes", reference="four"),
    ScoringItem("Name a color.", "The sky on a clear day is", reference="blue"),
    ScoringItem(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Add 3 and 4."}],
        "Three and four together give",
        reference="7",
    ),
]


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("policy"), seed=1)


@pytest.fixture(scope="module")
def reference_dir(tmp_path_factory):
    return build_causal_lm(tmp_path_factory.mktemp("reference"), seed=2)


def runner(path, max_length=256, use_chat_template=False, **spec) -> LikelihoodRunner:
    return LikelihoodRunner(
        path,
        LikelihoodSpec(**spec),
        dtype="float32",
        max_length=max_length,
        use_chat_template=use_chat_template,
    )


def direct(path, context: str, span: list[str], *, template_item=None) -> list[torch.Tensor]:
    """Token log-probs of each span piece after ``context``, straight from transformers."""
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    context_ids = tokenizer(context, add_special_tokens=template_item is None)["input_ids"]
    pieces = [tokenizer(piece, add_special_tokens=False)["input_ids"] for piece in span]
    ids = context_ids + [token for piece in pieces for token in piece]
    with torch.no_grad():
        logprobs = model(torch.tensor([ids])).logits[0].log_softmax(-1)
    out, position = [], len(context_ids)
    for piece in pieces:
        out.append(torch.stack([logprobs[p - 1, ids[p]] for p in range(position, position + len(piece))]))
        position += len(piece)
    return out


REDUCTIONS = {
    "mean": lambda t: t.mean(),
    "sum": lambda t: t.sum(),
    "prob": lambda t: t.sum().exp(),
    "mean_prob": lambda t: t.exp().mean(),
}


@pytest.mark.parametrize("how", sorted(REDUCTIONS))
def test_reference_span_matches_direct_transformers(policy_dir, how):
    scored = runner(policy_dir, reduce=how).forward([runner(policy_dir).encoder.row(i) for i in ITEMS])
    for item, (value,) in zip(ITEMS, scored, strict=True):
        (tokens,) = direct(policy_dir, item.prompt_text() + item.response + "\n", [item.reference])
        assert value == pytest.approx(float(REDUCTIONS[how](tokens)), abs=1e-5)
        assert value < 0 if how in ("mean", "sum") else 0 < value < 1


def test_response_span_matches_direct_transformers(policy_dir):
    lm = runner(policy_dir, span="response", reduce="sum")
    for item, (value,) in zip(ITEMS, lm.forward([lm.encoder.row(i) for i in ITEMS]), strict=True):
        (tokens,) = direct(policy_dir, item.prompt_text(), [item.response])
        assert value == pytest.approx(float(tokens.sum()), abs=1e-5)


def test_chat_template_context_matches_direct_transformers(policy_dir):
    lm = runner(policy_dir, use_chat_template=True)
    item = ITEMS[2]
    rendered = lm.tokenizer.apply_chat_template(
        [*item.messages()[:-1], {"role": "assistant", "content": item.response + "\n" + item.reference}],
        tokenize=False,
    )
    context = rendered[: rendered.rfind(item.reference)]
    assert context.endswith("<|assistant|>" + item.response + "\n")
    (tokens,) = direct(policy_dir, context, [item.reference], template_item=item)
    assert lm.forward([lm.encoder.row(item)])[0][0] == pytest.approx(float(tokens.mean()), abs=1e-5)


def test_batched_equals_one_at_a_time(policy_dir, reference_dir):
    lm = runner(policy_dir, reference_model=str(reference_dir), beta=0.5)
    rows = [lm.encoder.row(item) for item in ITEMS]
    assert len({len(row.ids) for row in rows}) > 1  # padding is exercised
    together = lm.forward(rows)
    for row, values in zip(rows, together, strict=True):
        assert lm.forward([row])[0] == pytest.approx(values, abs=1e-5)
    assert len({round(values[0], 4) for values in together}) == len(ITEMS)  # not constant


def test_pair_log_ratio_matches_two_direct_computations(policy_dir, reference_dir):
    lm = runner(policy_dir, span="response", reduce="sum", reference_model=str(reference_dir), beta=0.1)
    assert lm.head_names == ["log_ratio", "logp", "ref_logp"]
    for item, (ratio, logp, ref_logp) in zip(
        ITEMS, lm.forward([lm.encoder.row(i) for i in ITEMS]), strict=True
    ):
        (mine,) = direct(policy_dir, item.prompt_text(), [item.response])
        (theirs,) = direct(reference_dir, item.prompt_text(), [item.response])
        assert logp == pytest.approx(float(mine.sum()), abs=1e-5)
        assert ref_logp == pytest.approx(float(theirs.sum()), abs=1e-5)
        assert ratio == pytest.approx(0.1 * float(mine.sum() - theirs.sum()), abs=1e-5)
        assert logp != pytest.approx(ref_logp, abs=1e-3)  # two different models


def test_per_step_log_ratio_sums_each_steps_tokens(policy_dir, reference_dir):
    lm = runner(policy_dir, span="response", reduce="per_step", reference_model=str(reference_dir))
    steps = ("First add two and two.", "That gives four.", "Done.")
    item = ScoringItem("What is 2+2?", "", steps=steps)
    (values,) = lm.forward([lm.encoder.row(item)])
    span = [step + "\n\n" for step in steps]
    mine = direct(policy_dir, item.prompt_text(), span)
    theirs = direct(reference_dir, item.prompt_text(), span)
    expected = [float(a.sum() - b.sum()) for a, b in zip(mine, theirs, strict=True)]
    assert values == pytest.approx(expected, abs=1e-5)


def test_tokenizers_must_match_for_a_pair(policy_dir, tmp_path):
    other = tmp_path / "other"
    build_causal_lm(other)
    tokenizer = AutoTokenizer.from_pretrained(other)
    tokenizer.add_tokens(["<extra>"])
    tokenizer.save_pretrained(other)
    with pytest.raises(ValueError, match="tokenizer differs"):
        runner(policy_dir, reference_model=str(other))


# -- the documented refusals and rules (hacks) -------------------------------------------


@pytest.fixture(scope="module")
def lm(policy_dir):
    return runner(policy_dir, max_length=64)


@pytest.mark.parametrize(
    "response",
    [
        "four",
        "Four four four four four",
        "the answer is   FOUR.",
        "I think it is \\boxed{four}",
        "four\nfour",
        "it is \uff46\uff4f\uff55\uff52",  # fullwidth
        "it is fo\u200bur",  # a zero-width space inside
    ],
)
def test_response_that_states_the_reference_is_refused(lm, response):
    with pytest.raises(InvalidComponentInput, match="already states the reference"):
        lm.encoder.row(ScoringItem("What is 2+2?", response, reference="four"))


def test_reference_inside_another_word_is_not_a_statement(lm):
    assert lm.encoder.row(ScoringItem("What is 2+2?", "fourteen minus ten", reference="four"))


def test_allow_scores_a_response_that_states_the_reference(policy_dir):
    allowing = runner(policy_dir, reference_in_context="allow")
    assert (
        allowing.forward([allowing.encoder.row(ScoringItem("2+2?", "four four", reference="four"))])[0][0] < 0
    )


@pytest.mark.parametrize("response", ["", "   ", "\n\t", "\u200b\u200b", "\u3164"])
def test_empty_response_is_refused_for_either_span(policy_dir, lm, response):
    with pytest.raises(InvalidComponentInput, match="empty"):
        lm.encoder.row(ScoringItem("What is 2+2?", response, reference="four"))
    with pytest.raises(InvalidComponentInput, match="empty"):
        runner(policy_dir, span="response").encoder.row(ScoringItem("What is 2+2?", response))


@pytest.mark.parametrize("reference", [None, "", "  "])
def test_missing_reference_is_an_invalid_reference(lm, reference):
    with pytest.raises(InvalidReference):
        lm.encoder.row(ScoringItem("What is 2+2?", "Two plus two", reference=reference))


def test_reasoning_end_drops_the_responses_own_answer(policy_dir):
    cut = runner(policy_dir, reasoning_end="</think>")
    first = cut.encoder.row(ScoringItem("2+2?", "two and two</think> it is five", reference="4"))
    second = cut.encoder.row(ScoringItem("2+2?", "two and two</think>", reference="4"))
    assert first == second
    with pytest.raises(InvalidComponentInput, match="has no '</think>'"):
        cut.encoder.row(ScoringItem("2+2?", "two and two, so 5", reference="4"))
    with pytest.raises(InvalidComponentInput, match="empty"):
        cut.encoder.row(ScoringItem("2+2?", " </think> 4", reference="4"))


def test_overlong_input_is_refused_by_default(lm):
    with pytest.raises(InvalidComponentInput, match="max_length 64"):
        lm.encoder.row(ScoringItem("x " * 200, "Two plus two", reference="four"))


def test_left_truncation_drops_the_oldest_context_and_keeps_the_span(policy_dir):
    trimmed = runner(policy_dir, max_length=32, truncation="left")
    item = ScoringItem("padding words " * 40 + "What is 2+2?", "Two plus two makes", reference="four")
    row = trimmed.encoder.row(item)
    assert len(row.ids) == 32
    span = trimmed.tokenizer("four", add_special_tokens=False)["input_ids"]
    assert list(row.ids[row.start :]) == span
    full_context = trimmed.tokenizer(item.prompt_text() + item.response + "\n")["input_ids"]
    assert list(row.ids[: row.start]) == full_context[-row.start :]
    with pytest.raises(InvalidComponentInput, match="the span alone"):
        trimmed.encoder.row(ScoringItem("q", "a b", reference="four " * 40))


def test_per_step_without_steps_is_refused(policy_dir):
    stepwise = runner(policy_dir, span="response", reduce="per_step")
    with pytest.raises(InvalidComponentInput, match="steps"):
        stepwise.encoder.row(ScoringItem("q", "an answer"))


def test_settings_enter_the_version(policy_dir):
    assert runner(policy_dir).version != runner(policy_dir, reduce="sum").version
