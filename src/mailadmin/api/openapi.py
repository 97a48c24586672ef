"""The OpenAPI document of the HTTP API, as checked into ``docs/openapi.json``.

``python -m mailadmin.api.openapi > docs/openapi.json`` regenerates it; a test keeps the
two the same.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["document", "render"]


def document() -> dict[str, Any]:
    """The OpenAPI document (needs no configuration: the routes do not depend on it)."""
    from mailadmin.api.app import create_app

    found: dict[str, Any] = create_app().openapi()
    return found


def render() -> str:
    """The document as stable, readable JSON."""
    return json.dumps(document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
