"""The operator console: a small web UI under ``/console`` served by ``mailadmin serve``.

Server-rendered pages (Jinja2) over the services of the HTTP API, one small script that
refreshes a working run's progress, one style sheet; every asset ships in this package.
The session holds the API key in a cookie (:mod:`.session`); the pages are in
:mod:`.pages`, the seats chart in :mod:`.chart`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from mailadmin.api.admission import CONSOLE

__all__ = ["mount"]

_STATIC = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Serve the console's pages and its assets on ``app``."""
    from mailadmin.api.console.pages import router

    app.include_router(router)
    app.mount(f"{CONSOLE}/static", StaticFiles(directory=_STATIC), name="console-static")
