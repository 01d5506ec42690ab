"""Cross-reference checks of a parsed pipeline file.

Each check returns problems as ``dotted.key: reason`` lines, so one start-up
failure lists everything wrong at once: names that do not resolve, cycles
(ensembles within a pipeline, routes across pipelines), and combinations the
evaluator cannot honour.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from rewardgate.algebra.functions import Condition
from rewardgate.algebra.spec import LogSigmoidTransform, ParTransform
from rewardgate.config.specs import ComponentSpec, PipelineConfig, PipelineSpec
from rewardgate.sources.judge.templates import template_problems


@dataclass(frozen=True)
class Declared:
    """The names a file declares per section, whether or not their entries are valid: a
    reference to a declared but invalid entry is not also reported as unknown."""

    models: frozenset[str]
    rules: frozenset[str]
    judges: frozenset[str]
    pipelines: frozenset[str]

    @classmethod
    def of(cls, config: PipelineConfig) -> Declared:
        return cls(
            frozenset(config.models),
            frozenset(config.rules),
            frozenset(config.judges),
            frozenset(config.pipelines),
        )


def reference_problems(config: PipelineConfig, declared: Declared | None = None) -> list[str]:
    """Cross-reference problems of ``config`` (whose sections may hold only the valid entries
    of a file; ``declared`` then names every entry the file has)."""
    declared = declared or Declared.of(config)
    problems: list[str] = []
    for pname, pipeline in config.pipelines.items():
        for cname, component in pipeline.components.items():
            key = f"pipelines.{pname}.components.{cname}"
            problems += _component_problems(config, declared, pipeline, component, key)
        problems += _combination_problems(pname, pipeline)
        problems += _ensemble_cycles(pname, pipeline)
        problems += _answer_format_problems(config, pname, pipeline)
    problems += _route_cycles(config)
    problems += _judge_problems(config)
    return problems


def _judge_problems(config: PipelineConfig) -> list[str]:
    problems = []
    for name, judge in config.judges.items():
        key = f"judges.{name}"
        if judge.template is not None:
            problems += [f"{key}.template: {problem}" for problem in template_problems(judge.template)]
        if judge.api_key_env and not os.environ.get(judge.api_key_env):
            problems.append(f"{key}.api_key_env: environment variable {judge.api_key_env} is not set")
        if judge.api_key_file and not os.path.isfile(judge.api_key_file):
            problems.append(f"{key}.api_key_file: {judge.api_key_file} is not a readable file")
    return problems


def _component_problems(
    config: PipelineConfig, declared: Declared, pipeline: PipelineSpec, component: ComponentSpec, key: str
) -> list[str]:
    problems = []
    if component.model:
        model = config.models.get(component.model)
        if component.model not in declared.models:
            problems.append(f"{key}.model: unknown model {component.model!r}")
        elif model is not None and model.kind == "process_reward_model" and component.steps is None:
            problems.append(
                f"{key}.steps: model {component.model!r} is a process_reward_model and needs steps"
            )
        elif model is not None and _per_step_likelihood(model) and component.steps is None:
            problems.append(f"{key}.steps: model {component.model!r} is reduced per_step and needs steps")
    problems += _name_problems(declared, component, key)
    problems += _steps_problems(config, component, key)
    judge = config.judges.get(component.group.judge or "") if component.group else None
    if judge is not None and judge.kind != "pairwise":
        problems.append(f"{key}.group.judge: a tournament needs a pairwise judge, not {judge.kind!r}")
    if component.ensemble:
        for member in component.ensemble.members:
            if member not in pipeline.components:
                problems.append(f"{key}.ensemble.members: {member!r} is not a component of this pipeline")
    if component.route:
        problems += _route_problems(config, declared, component, key)
    problems += _transform_problems(component, key)
    return problems


def _answer_format_problems(config: PipelineConfig, pname: str, pipeline: PipelineSpec) -> list[str]:
    """The think_answer rules of a pipeline declare its answer region: they must agree on it
    (rewardgate/pipeline/regions.py)."""
    formats = {
        (spec.params.get("think_tag", "think"), spec.params.get("answer_tag", "answer"))
        for component in pipeline.components.values()
        if (spec := config.rules.get(component.rule or "")) is not None and spec.type == "think_answer"
    }
    if len(formats) < 2:
        return []
    tags = ", ".join(f"<{think}>/<{answer}>" for think, answer in sorted(formats))
    return [f"pipelines.{pname}.components: think_answer rules disagree on the answer format ({tags})"]


def _steps_problems(config: PipelineConfig, component: ComponentSpec, key: str) -> list[str]:
    """``last`` of steps scored one by one is the final step alone, which an appended padding
    step replaces; a process reward model, or ``context: prefix``, scores it in context."""
    steps = component.steps
    if steps is None or steps.aggregate != "last" or steps.context != "step":
        return []
    model = config.models.get(component.model) if component.model else None
    if model is not None and (model.kind == "process_reward_model" or _per_step_likelihood(model)):
        return []
    return [
        f"{key}.steps.aggregate: 'last' of steps scored alone is the final step only, which an appended "
        "padding step replaces; use context: prefix (the response up to each step), or min, product "
        "or clipped_sum"
    ]


def _per_step_likelihood(model) -> bool:
    """A likelihood model that scores every step of a response in one pass."""
    return (
        model.kind == "likelihood" and model.likelihood is not None and model.likelihood.reduce == "per_step"
    )


def _name_problems(declared: Declared, component: ComponentSpec, key: str) -> list[str]:
    problems = []
    if component.rule and component.rule not in declared.rules:
        problems.append(f"{key}.rule: unknown rule {component.rule!r}")
    if component.judge and component.judge not in declared.judges:
        problems.append(f"{key}.judge: unknown judge {component.judge!r}")
    if component.fallback and component.fallback.judge not in declared.judges:
        problems.append(f"{key}.fallback.judge: unknown judge {component.fallback.judge!r}")
    if component.group and component.group.judge and component.group.judge not in declared.judges:
        problems.append(f"{key}.group.judge: unknown judge {component.group.judge!r}")
    return problems


def _route_problems(
    config: PipelineConfig, declared: Declared, component: ComponentSpec, key: str
) -> list[str]:
    route = component.route
    problems = []
    for value, target in route.pipelines.items():
        if target not in declared.pipelines:
            problems.append(f"{key}.route.pipelines.{value}: unknown pipeline {target!r}")
    if route.default and route.default not in declared.pipelines:
        problems.append(f"{key}.route.default: unknown pipeline {route.default!r}")
    if route.classifier:
        model = config.models.get(route.classifier)
        if route.classifier not in declared.models:
            problems.append(f"{key}.route.classifier: unknown model {route.classifier!r}")
        elif model is not None and model.kind != "reward_model":
            problems.append(f"{key}.route.classifier: {route.classifier!r} must be a reward_model (heads)")
    return problems


def _transform_problems(component: ComponentSpec, key: str) -> list[str]:
    """``ref: reference`` scores the reference text through the same chain, so
    it needs a model or rule leaf and nothing request-relative before it."""
    problems = []
    for index, transform in enumerate(component.transform):
        if not (isinstance(transform, LogSigmoidTransform | ParTransform) and transform.ref == "reference"):
            continue
        where = f"{key}.transform.{index}.ref"
        if component.kind not in ("model", "rule", "judge") or component.steps is not None:
            problems.append(f"{where}: 'reference' needs a model, rule or judge component without steps")
        for earlier in component.transform[:index]:
            if isinstance(earlier, LogSigmoidTransform | ParTransform) and isinstance(earlier.ref, str):
                problems.append(
                    f"{where}: 'reference' cannot follow another {earlier.ref!r}-relative transform"
                )
    return problems


def _combination_problems(pname: str, pipeline: PipelineSpec) -> list[str]:
    problems = []
    names = pipeline.components
    for wname in pipeline.combine.weights or {}:
        if wname not in names:
            problems.append(f"pipelines.{pname}.combine.weights.{wname}: not a component of this pipeline")
    if not any(weight != 0 for weight in pipeline.effective_weights().values()):
        problems.append(f"pipelines.{pname}.combine.weights: no component has a non-zero weight")
    for wname in pipeline.overridable.weights if pipeline.overridable else {}:
        if wname not in names:
            problems.append(
                f"pipelines.{pname}.overridable.weights.{wname}: not a component of this pipeline"
            )
    return problems + _gate_problems(pname, pipeline)


def _gate_problems(pname: str, pipeline: PipelineSpec) -> list[str]:
    problems = []
    names = pipeline.components
    for index, gate in enumerate(pipeline.gates):
        key = f"pipelines.{pname}.gates.{index}"
        condition = Condition.parse(gate.condition)
        if condition.component not in names:
            problems.append(f"{key}.if: {condition.component!r} is not a component of this pipeline")
        for gated in gate.components:
            if gated not in names:
                problems.append(f"{key}.components: {gated!r} is not a component of this pipeline")
            elif gated == condition.component:
                problems.append(f"{key}.components: {gated!r} cannot gate itself")
    for index, constraint in enumerate(pipeline.constraints):
        condition = Condition.parse(constraint.condition)
        if condition.component not in names:
            problems.append(
                f"pipelines.{pname}.constraints.{index}.if: {condition.component!r} is not a component "
                "of this pipeline"
            )
    return problems


def _ensemble_cycles(pname: str, pipeline: PipelineSpec) -> list[str]:
    graph = {
        name: [m for m in c.inputs() if m in pipeline.components] for name, c in pipeline.components.items()
    }
    cycle = find_cycle(graph)
    if cycle:
        return [f"pipelines.{pname}.components: ensemble cycle {' -> '.join(cycle)}"]
    return []


def _route_cycles(config: PipelineConfig) -> list[str]:
    graph = {
        name: [
            t for c in p.components.values() if c.route for t in c.route.targets() if t in config.pipelines
        ]
        for name, p in config.pipelines.items()
    }
    cycle = find_cycle(graph)
    return [f"pipelines: route cycle {' -> '.join(cycle)}"] if cycle else []


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a closed path ``[a, b, a]``, or None (iterative DFS)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in graph:
        if state.get(root):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, child = stack.pop()
            if child == 0:
                state[node] = 1
                path.append(node)
            edges = graph.get(node, [])
            if child < len(edges):
                stack.append((node, child + 1))
                nxt = edges[child]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if not state.get(nxt):
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None
