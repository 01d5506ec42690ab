"""The v1 HTTP route FastAPI serves itself: the declared pipelines.

The scoring calls (``/v1/score``, ``/v1/compare`` and the trainers' routes)
are answered by the scoring edge (scoring_routes.py) in front of FastAPI.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from rewardgate.api.http.context import Context
from rewardgate.api.http.responses import error_responses
from rewardgate.api.http.schemas import PipelinesResponse
from rewardgate.core.results import to_json

router = APIRouter(prefix="/v1")


@router.get("/pipelines", response_model=PipelinesResponse, responses=error_responses(401))
async def pipelines(ctx: Context) -> Response:
    """Declared pipelines, their components and readiness."""
    # Encoded once from the core's dataclasses (tests/unit/api checks they match the model).
    return Response(to_json({"pipelines": ctx.core.pipelines()}), media_type="application/json")
