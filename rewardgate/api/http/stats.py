"""``GET /v1/stats``: the reward monitor's sliding-window statistics as JSON;
``POST/DELETE /v1/stats/reference``: pin or release the drift reference.

docs/monitoring.md explains each statistic and what to do when it moves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from rewardgate.api.http.context import Context
from rewardgate.api.http.responses import error_responses
from rewardgate.api.http.schemas import RequestModel
from rewardgate.core.results import to_json

router = APIRouter(prefix="/v1")


class ReferenceRequest(RequestModel):
    pipelines: list[str] | None = None


@router.get("/stats", responses=error_responses(401, 404, 422))
async def stats(
    ctx: Context, pipeline: Annotated[str | None, Query(description="Only this pipeline.")] = None
) -> Response:
    """Per pipeline and component, over the monitoring window: reward mean, std and quantiles,
    reward-length correlation, drift (PSI, KS), status shares, zero-advantage group share,
    ensemble spread; per pairwise judge, how often the two orders disagree."""
    snapshot = ctx.core.stats().as_json()
    # Group votes (no-majority share, agreement) are counted since start-up, per group component.
    snapshot["groups"] = ctx.core.group_stats()
    if pipeline is not None:
        snapshot["groups"] = {pipeline: snapshot["groups"].get(pipeline, {})}
        _known(ctx, [pipeline])
        snapshot["pipelines"] = {pipeline: snapshot["pipelines"].get(pipeline)}
    return Response(to_json(snapshot), media_type="application/json")


@router.post("/stats/reference", responses=error_responses(401, 404, 413, 422))
async def pin_reference(body: ReferenceRequest, ctx: Context) -> dict[str, list[str]]:
    """Pin each named pipeline's (default: every pipeline's) current window as its drift reference,
    e.g. the rewards of a checkpoint known to be good. Returns the pipelines pinned (those with items)."""
    if body.pipelines is not None:
        _known(ctx, body.pipelines)
    return {"pinned": ctx.core.pin_reference(body.pipelines)}


@router.delete("/stats/reference", responses=error_responses(401, 404, 422))
async def release_reference(
    ctx: Context, pipeline: Annotated[list[str] | None, Query()] = None
) -> dict[str, str]:
    """Measure drift against the previous window again (for the given pipelines, default all)."""
    if pipeline is not None:
        _known(ctx, pipeline)
    ctx.core.unpin_reference(pipeline)
    return {"drift_reference": "previous_window"}


def _known(ctx: Context, pipelines: list[str]) -> None:
    """PipelineNotFound (404) for the first undeclared name, as a score request would get."""
    ctx.core.require(pipelines)
