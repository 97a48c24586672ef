"""``/docs`` and ``/redoc`` work offline: every asset they reference is served by the app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from apihelpers import config_text
from fastapi.testclient import TestClient

from mailadmin.api.app import create_app
from mailadmin.mock.server import MockServer

_REFERENCES = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_and_every_asset_it_names_come_from_the_app(
    mock: MockServer, tmp_path: Path, page: str
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(mock.url, tmp_path))  # type: ignore[attr-defined]
    with TestClient(create_app(config)) as client:
        answer = client.get(page)  # no API key: the docs are public
        assert answer.status_code == 200, answer.text
        html = answer.text
        references = {a or b for a, b in _REFERENCES.findall(html)}
        assert references, html
        # Nothing from another host: no scheme, no protocol-relative URL.
        assert not re.search(r"""["'](?:https?:)?//""", html), html
        assert "/openapi.json" in references or "/openapi.json" in html
        for reference in sorted(references):
            assert reference.startswith("/"), reference
            fetched = client.get(reference)
            assert fetched.status_code == 200, (reference, fetched.text[:200])
            assert len(fetched.content) > 0, reference
        scripts = [r for r in references if r.endswith(".js")]
        assert scripts and all(len(client.get(s).content) > 100_000 for s in scripts)


def test_only_the_known_assets_are_served_and_nothing_else_without_a_key(
    mock: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(mock.url, tmp_path))  # type: ignore[attr-defined]
    with TestClient(create_app(config)) as client:
        assert (
            client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
        )
        assert client.get("/docs/assets/core.py").status_code == 404
        assert client.get("/docs/assets/x/../../v1/runs").status_code in (401, 404)
        assert client.get("/v1/runs").status_code == 401
