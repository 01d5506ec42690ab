"""The v1 HTTP routes: score and list pipelines."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rewardgate.api.http.codec import compare_call
from rewardgate.api.http.context import Context, cancel_on_disconnect, timing_headers
from rewardgate.api.http.responses import SCORING, error_responses
from rewardgate.api.http.schemas import (
    CompareRequest,
    CompareResponse,
    ComponentInfo,
    PipelineInfo,
    PipelinesResponse,
)
from rewardgate.core.results import CompareOutcome, to_json
from rewardgate.core.runtime import ScoringRuntime

router = APIRouter(prefix="/v1")


@router.post("/compare", response_model=CompareResponse, responses=SCORING)
async def compare(body: CompareRequest, request: Request, ctx: Context):
    """Pairwise preference: P(a preferred to b) = sigmoid(beta (r_a - r_b)) from the pipeline's reward."""
    with ctx.observe("/v1/compare", body.pipeline):
        result, timings = await cancel_on_disconnect(request.receive, ctx.scorer.compare(compare_call(body)))
    return json_response(result, timings)


def json_response(result: CompareOutcome, timings) -> Response:
    """The outcome encoded once (FastAPI would validate it again against ``response_model``)."""
    return Response(to_json(result), media_type="application/json", headers=timing_headers(timings))


@router.get("/pipelines", response_model=PipelinesResponse, responses=error_responses(401))
async def pipelines(ctx: Context) -> PipelinesResponse:
    """Declared pipelines, their components and readiness."""
    return describe_pipelines(ctx.scorer.runtime)


def describe_pipelines(runtime: ScoringRuntime) -> PipelinesResponse:
    """Every declared pipeline with its components and readiness (HTTP and gRPC)."""
    return PipelinesResponse(
        pipelines=[
            PipelineInfo(
                name=p.name,
                description=p.description,
                hash=p.hash,
                ready=all(runtime.source_problem(s) is None for s in p.reachable_sources),
                components={
                    c.name: ComponentInfo(
                        kind=c.kind,
                        source=(c.source or c.pairs).name if (c.source or c.pairs) else None,
                        head=c.head,
                        required=c.required,
                        weight=c.weight,
                        transforms=[t.type for t in c.spec.transform],
                    )
                    for c in p.components
                },
            )
            for p in runtime.pipelines.values()
        ]
    )
