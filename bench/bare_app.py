"""The yardstick of bench/hot_path.py: a bare FastAPI route with an equivalent request model.

``POST /v1/score`` takes the same body as rewardgate's (a pipeline, items with
prompt/response/reference/group/metadata, options), validated by pydantic
models of the same shape, and answers the same reply shape for an exact-match
reward computed inline. No middleware, no metrics, no scoring machinery: what
a hand-written reward endpoint in FastAPI costs. Run with the same uvicorn
settings as rewardgate (``python bench/bare_app.py PORT``).
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    content: str


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = None
    prompt: str | list[Message] = ""
    response: str
    reference: str | None = None
    group: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Options(BaseModel):
    model_config = ConfigDict(extra="forbid")
    return_components: bool = True
    deadline_ms: int | None = Field(None, gt=0)
    cache: bool = True


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pipeline: str
    items: list[Item] = Field(min_length=1)
    options: Options = Field(default_factory=Options)


class Result(BaseModel):
    id: str
    reward: float | None
    status: str
    components: dict[str, float] | None = None


class Reply(BaseModel):
    pipeline: str
    results: list[Result]


app = FastAPI()


@app.post("/v1/score")
async def score(body: Request) -> Reply:
    results = []
    for index, item in enumerate(body.items):
        reward = float(item.response.strip() == (item.reference or "").strip())
        results.append(
            Result(id=item.id or str(index), reward=reward, status="ok", components={"match": reward})
        )
    return Reply(pipeline=body.pipeline, results=results)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="info", http="httptools")
