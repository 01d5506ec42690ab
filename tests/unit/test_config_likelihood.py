"""The pipeline file's kind: likelihood models: what is refused at start-up, with the key."""

import pytest

from rewardgate.config.pipeline_file import parse_config
from rewardgate.errors import ConfigError


def config(likelihood=None, component=None, **model) -> dict:
    spec = {"kind": "likelihood", "path": "/m", **model}
    if likelihood is not None:
        spec["likelihood"] = likelihood
    return {
        "models": {"lm": spec},
        "pipelines": {"p": {"components": {"c": component or {"model": "lm"}}}},
    }


def test_defaults_score_the_mean_log_probability_of_the_reference():
    spec = parse_config(config()).models["lm"]
    assert spec.likelihood is None  # the runner reads LikelihoodSpec() defaults
    full = parse_config(config({"reference_model": "/ref", "beta": 0.1})).models["lm"].likelihood
    assert (full.span, full.reduce, full.heads) == ("reference", "mean", ["log_ratio", "logp", "ref_logp"])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (config({"reduce": "per_step"}), "models.lm.likelihood: reduce=per_step"),
        (
            config({"span": "response", "reasoning_end": "</think>"}),
            "reasoning_end applies to span=reference",
        ),
        (config({"reference_model": "/ref", "reduce": "prob"}), "a log-ratio needs log-probabilities"),
        (config({"beta": 0}), "models.lm.likelihood.beta"),
        (config({"spam": 1}), "models.lm.likelihood.spam"),
        (config({"truncation": "right"}), "models.lm.likelihood.truncation"),
        (config(backend="triton"), "backend=triton needs triton_url and triton_model"),
        ({**config(), "models": {"lm": {"kind": "likelihood"}}}, "path is required for kind=likelihood"),
        (
            {**config(), "models": {"lm": {"kind": "reward_model", "path": "/m", "likelihood": {}}}},
            "the likelihood block applies to kind=likelihood only",
        ),
        (
            config({"span": "response", "reduce": "per_step"}),
            "pipelines.p.components.c.steps: model 'lm' is reduced per_step and needs steps",
        ),
    ],
)
def test_invalid_likelihood_models_are_refused_naming_the_key(raw, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("[", r"\[")):
        parse_config(raw)


def test_per_step_component_with_steps_may_use_last():
    raw = config(
        {"span": "response", "reduce": "per_step", "reference_model": "/ref"},
        component={"model": "lm", "steps": {"split": {"delimiter": "\n"}, "aggregate": "last"}},
    )
    assert parse_config(raw).pipelines["p"].components["c"].steps.aggregate == "last"
