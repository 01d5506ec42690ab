"""``/docs`` (Swagger UI) and ``/redoc`` served offline: their scripts and styles come from
this service, not a CDN.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on a machine or
cluster without internet access they stay blank. The assets here are those
of the ``fastapi-offline`` package (Swagger UI 5, which reads the OpenAPI 3.1
schema FastAPI writes, and ReDoc), mounted under :data:`ASSETS`.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = "/docs-assets"
DOC_PAGES = ("/docs", "/redoc")


def install_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets. ``app`` must have been made with
    ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages)."""
    static = resources.files("fastapi_offline") / "static"
    app.mount(ASSETS, StaticFiles(directory=str(static)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            redoc_js_url=f"{root}{ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS}/favicon.png",
            with_google_fonts=False,
        )
