"""rewardgate_requests_total counts every HTTP request by route and status, the refused ones too
(401 before the body is read, 413, 422 for a body that does not parse, 404, 405), once each; and
/docs works offline: its scripts are served by the service itself."""

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rewardgate.api.http.app import create_app
from rewardgate.auth.keys import digest, new_key
from rewardgate.config.pipeline_file import parse_config
from rewardgate.config.settings import Settings

CONFIG = {
    "rules": {"exact": {"type": "exact_match"}},
    "pipelines": {"exact": {"components": {"match": {"rule": "exact"}}}},
}
KEY = new_key()


@pytest.fixture
async def client():
    settings = Settings(grpc_port=0, api_keys=f"trainer {digest(KEY)}", max_body_bytes=2000)
    app = create_app(settings, parse_config(CONFIG))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {KEY}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://rg", headers=headers) as http:
            yield http


async def requests_total(client) -> dict[tuple[str, str, str], float]:
    text = (await client.get("/metrics")).text
    return {
        (s.labels["route"], s.labels["pipeline"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "rewardgate_requests_total"
    }


async def counted(client, send) -> dict[tuple[str, str, str], float]:
    """What ``send`` added to rewardgate_requests_total (the /metrics reads themselves left out)."""
    before = await requests_total(client)
    response = await send()
    after = await requests_total(client)
    delta = {key: value - before.get(key, 0) for key, value in after.items() if value != before.get(key, 0)}
    delta.pop(("/metrics", "unknown", "200"), None)
    return response, delta


SCORE = {"pipeline": "exact", "items": [{"response": "a", "reference": "a"}]}


@pytest.mark.parametrize(
    ("send", "route", "pipeline", "status"),
    [
        (lambda c: c.post("/v1/score", json=SCORE), "/v1/score", "exact", "200"),
        (lambda c: c.post("/v1/score", content=b"{not json"), "/v1/score", "unknown", "422"),
        (lambda c: c.post("/v1/score", json={"pipeline": "exact"}), "/v1/score", "unknown", "422"),
        (lambda c: c.post("/v1/score", content=b"x" * 3000), "/v1/score", "unknown", "413"),
        (
            lambda c: c.post("/v1/score", json=SCORE, headers={"authorization": "Bearer no"}),
            "/v1/score",
            "unknown",
            "401",
        ),
        (
            lambda c: c.post("/get_reward?pipeline=nope", json={"query": ["q"]}),
            "/get_reward",
            "unknown",
            "404",
        ),
        (lambda c: c.post("/v1/compare", json={"pipeline": "exact"}), "/v1/compare", "unknown", "422"),
        (lambda c: c.get("/v1/stats", params={"pipeline": "nope"}), "/v1/stats", "unknown", "404"),
        (
            lambda c: c.delete("/v1/stats/reference", params={"pipeline": "nope"}),
            "/v1/stats/reference",
            "unknown",
            "404",
        ),
        (lambda c: c.get("/v1/score"), "/v1/score", "unknown", "405"),
        (lambda c: c.get("/no/such/path/4711"), "unmatched", "unknown", "404"),
        (lambda c: c.get("/healthz"), "/healthz", "unknown", "200"),
    ],
)
async def test_every_request_is_counted_once_by_route_and_status(client, send, route, pipeline, status):
    response, delta = await counted(client, lambda: send(client))
    assert response.status_code == int(status), response.text
    assert delta == {(route, pipeline, status): 1.0}


async def test_docs_load_their_assets_from_the_service_not_a_cdn(client):
    for page, assets in (
        ("/docs", ("swagger-ui-bundle.js", "swagger-ui.css")),
        ("/redoc", ("redoc.standalone.js",)),
    ):
        html = (await client.get(page)).text
        assert "cdn." not in html and "https://" not in html, page
        for asset in assets:
            assert f'"/docs-assets/{asset}"' in html
            served = await client.get(f"/docs-assets/{asset}")
            assert served.status_code == 200 and len(served.content) > 10_000, asset
    _, delta = await counted(client, lambda: client.get("/docs-assets/swagger-ui.css"))
    assert delta == {("/docs-assets", "unknown", "200"): 1.0}  # one label for every asset
