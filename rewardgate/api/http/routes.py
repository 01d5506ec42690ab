"""The v1 HTTP routes: score and list pipelines."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from rewardgate.api.http.codec import compare_call
from rewardgate.api.http.context import Context, cancel_on_disconnect, timing_headers
from rewardgate.api.http.responses import SCORING, error_responses
from rewardgate.api.http.schemas import CompareRequest, CompareResponse, PipelinesResponse
from rewardgate.core.results import CompareOutcome, to_json

router = APIRouter(prefix="/v1")


@router.post("/compare", response_model=CompareResponse, responses=SCORING)
async def compare(body: CompareRequest, request: Request, ctx: Context):
    """Pairwise preference: P(a preferred to b) = sigmoid(beta (r_a - r_b)) from the pipeline's reward."""
    with ctx.observe("/v1/compare", body.pipeline):
        result, timings = await cancel_on_disconnect(request.receive, ctx.core.compare(compare_call(body)))
    return json_response(result, timings)


def json_response(result: CompareOutcome, timings) -> Response:
    """The outcome encoded once (FastAPI would validate it again against ``response_model``)."""
    return Response(to_json(result), media_type="application/json", headers=timing_headers(timings))


@router.get("/pipelines", response_model=PipelinesResponse, responses=error_responses(401))
async def pipelines(ctx: Context) -> Response:
    """Declared pipelines, their components and readiness."""
    # Encoded once from the core's dataclasses (tests/unit/api check they match the model).
    return Response(to_json({"pipelines": ctx.core.pipelines()}), media_type="application/json")
