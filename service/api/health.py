"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from service.api.context import Context
from service.schemas import HealthResponse

router = APIRouter()


@router.get("/healthz", response_model=HealthResponse)
async def healthz() -> HealthResponse:
    """The process is up and its event loop answers."""
    return HealthResponse(status="ok")


@router.get(
    "/readyz",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Something is not ready."}},
)
async def readyz(ctx: Context):
    """200 only when every model of every pipeline is loaded (and rule workers run)."""
    problems = ctx.scorer.runtime.readiness()
    if problems:
        body = HealthResponse(status="not_ready", detail=problems)
        return JSONResponse(body.model_dump(), status_code=503)
    return HealthResponse(status="ready")


@router.get("/metrics", response_class=Response)
async def metrics(ctx: Context) -> Response:
    """Prometheus text exposition."""
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE_LATEST)
