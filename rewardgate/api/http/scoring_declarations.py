"""FastAPI's view of the routes :class:`~rewardgate.api.http.scoring_routes.ScoringRoutes` serves.

A ``POST`` to these paths never reaches FastAPI: the scoring edge in front
of it (rewardgate/api/http/edge.py) answers it first. The declarations are what
FastAPI reads instead, as for any route: their signatures, reply models and
docstrings make the OpenAPI schema (``/docs``), and their paths make other
methods a 405. Reaching one means the edge is not installed: that is a
configuration bug, answered as an internal error rather than a silent reply.
"""

from __future__ import annotations

from fastapi import APIRouter, Query

from rewardgate.api.http.responses import SCORING
from rewardgate.api.http.schemas import (
    CompareRequest,
    CompareResponse,
    OpenRLHFRewardRequest,
    OpenRLHFRewardResponse,
    ScoreRequest,
    ScoreResponse,
    SlimeRewardRequest,
)

router = APIRouter()


@router.post("/v1/score", response_model=ScoreResponse, responses=SCORING)
async def score(body: ScoreRequest) -> None:
    """Score every item with the named pipeline."""
    raise _not_served()


@router.post("/v1/compare", response_model=CompareResponse, responses=SCORING)
async def compare(body: CompareRequest) -> None:
    """Pairwise preference: P(a preferred to b) = sigmoid(beta (r_a - r_b)) from the pipeline's reward."""
    raise _not_served()


@router.post("/get_reward", response_model=OpenRLHFRewardResponse, responses=SCORING)
async def get_reward(
    body: OpenRLHFRewardRequest,
    pipeline: str | None = Query(None, description="Pipeline; defaults to compat_pipeline."),
) -> None:
    """OpenRLHF: ``{"query", "prompts", "labels"}`` -> ``{"rewards", "scores", "extra_logs"}``.

    An error reply's reason phrase names the error (``422 Unprocessable Entity: invalid_input:
    ...``): OpenRLHF shows the status line, not the body."""
    raise _not_served()


@router.post("/slime/reward", response_model=float | dict[str, float], responses=SCORING)
async def slime_reward(
    body: SlimeRewardRequest,
    pipeline: str | None = Query(None, description="Pipeline; defaults to compat_pipeline."),
    components: bool = Query(False, description="Reply {'reward', COMPONENT...} instead of the bare reward."),
) -> None:
    """slime: ``{"prompt", "response", "label"}`` -> the reward (a JSON number).

    An error reply's reason phrase names the error (``422 Unprocessable Entity: invalid_input:
    ...``): slime shows the status line, not the body."""
    raise _not_served()


def _not_served() -> RuntimeError:
    return RuntimeError("a scoring route reached FastAPI: the scoring edge is not installed")
