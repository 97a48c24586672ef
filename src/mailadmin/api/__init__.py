"""The HTTP service: ``mailadmin serve``, for control panels that do not speak Python.

Needs the ``api`` extra (``pip install 'mailadmin[api]'``); ``import mailadmin`` never
imports it. ``create_app(config_path)`` returns the ASGI application.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailadmin.api.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    # FastAPI is imported when the application is asked for, not with the package.
    if name == "create_app":
        from mailadmin.api.app import create_app

        return create_app
    raise AttributeError(name)
