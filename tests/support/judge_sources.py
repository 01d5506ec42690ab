"""Judge sources on the scripted OpenAI-compatible server, for tests of judge sources."""

import contextlib
from collections.abc import AsyncIterator, Callable

from rewardgate.sources.base import SourceKey
from rewardgate.sources.judge.client import JudgeClient
from rewardgate.sources.judge.source import JudgeSource
from rewardgate.sources.judge.spec import JudgeSpec
from tests.support.openai_server import ScriptedJudgeServer


@contextlib.asynccontextmanager
async def judge_sources(
    server: ScriptedJudgeServer, model: str = "scripted-judge"
) -> AsyncIterator[Callable[..., JudgeSource]]:
    """A factory ``build(kind="pointwise", **spec_fields)`` of judge sources on ``server``;
    every source it made is closed on exit."""
    made: list[JudgeSource] = []

    def build(kind="pointwise", **fields) -> JudgeSource:
        spec = JudgeSpec(kind=kind, base_url=server.url, **{"model": model, **fields})
        made.append(JudgeSource(SourceKey("judge", kind), spec=spec, client=JudgeClient(kind, spec)))
        return made[-1]

    try:
        yield build
    finally:
        for source in made:
            await source.close()
