"""The API's interactive docs (``/docs``: Swagger UI, ``/redoc``: ReDoc), served from
assets shipped in a Python package, so they work with no network (FastAPI's own pages load
them from a CDN and are blank offline).

The assets come from the ``fastapi-offline`` distribution (Swagger UI 5, which renders
OpenAPI 3.1, and ReDoc); the pages are FastAPI's own, pointed at ``/docs/assets/``.
"""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from starlette.responses import HTMLResponse, Response

from mailadmin.contract import errors

__all__ = ["ASSETS_PATH", "router"]

#: Where the assets are served; the admission layer lets it through without a key.
ASSETS_PATH = "/docs/assets/"

#: The files served, with their media types (nothing else of the package is reachable).
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_TITLE = "mailadmin HTTP API"

router = APIRouter(include_in_schema=False)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over ``/openapi.json``."""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{_TITLE} - docs",
        swagger_js_url=f"{root}{ASSETS_PATH}swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_PATH}swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_PATH}favicon.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        # No badge from the public validator: the page asks nothing of another host.
        swagger_ui_parameters={"validatorUrl": None},
    )


@router.get("/docs/oauth2-redirect")
async def oauth2_redirect() -> HTMLResponse:
    """The page Swagger UI's OAuth2 flow returns to."""
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc over ``/openapi.json``."""
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{_TITLE} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_PATH}redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_PATH}favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS_PATH + "{name}")
async def asset(name: str) -> Response:
    """One packaged asset of the docs pages."""
    media = _ASSETS.get(name)
    if media is None:
        raise errors.NotFoundError(f"No docs asset '{name}'")
    body = resources.files("fastapi_offline").joinpath("static", name).read_bytes()
    # The files change only with the package: let browsers keep them for a day.
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
