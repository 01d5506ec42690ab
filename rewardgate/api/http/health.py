"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from rewardgate.api.http.context import Context
from rewardgate.api.http.responses import error_responses
from rewardgate.api.http.schemas import HealthResponse

router = APIRouter()


@router.get(
    "/healthz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The process cannot recover by itself."}},
)
async def healthz(ctx: Context):
    """The process is up, its event loop answers, and nothing is broken beyond self-repair
    (a verifier pool that keeps failing to restart): 503 tells the orchestrator to restart it."""
    problem = ctx.core.liveness_problem()
    if problem is not None:
        body = HealthResponse(status="broken", detail={"runtime": problem})
        return JSONResponse(body.model_dump(), status_code=503)
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Something is not ready."}},
)
async def readyz(ctx: Context):
    """200 only when every model of every pipeline is loaded (and rule workers run)."""
    problems = ctx.core.readiness()  # draining counts: the orchestrator stops sending at once
    if problems:
        body = HealthResponse(status="not_ready", detail=problems)
        return JSONResponse(body.model_dump(), status_code=503)
    return HealthResponse(status="ready")


@router.get("/metrics", response_class=Response, responses=error_responses(401))
async def metrics(ctx: Context) -> Response:
    """Prometheus text exposition (401 without a key only when REWARDGATE_AUTH_METRICS_OPEN=false)."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
