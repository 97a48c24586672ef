"""``import mailadmin`` stays light: no plugin and no heavy dependency until a provider is used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "httpx",
    "pydantic",
    "sqlalchemy",
    "aiohttp",
    "pluggy",
    "rich",
    "click",
    "respx",
    "uvicorn",
    "fastapi",
    "starlette",
    "procrastinate",
    "psycopg",
)


def _modules_after(code: str) -> set[str]:
    script = f"import sys, json\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_mailadmin_loads_no_plugin_and_no_heavy_dependency() -> None:
    loaded = _modules_after("import mailadmin")
    assert not [m for m in loaded if m.split(".")[0] in HEAVY]
    assert not [m for m in loaded if m.startswith("mailadmin_")]
    assert [m for m in loaded if m.startswith("mailadmin.")] == []


def test_plugins_load_only_when_a_provider_is_asked_for() -> None:
    loaded = _modules_after("import mailadmin\nfrom mailadmin import Provider")
    assert "mailadmin.contract.provider" in loaded
    assert not [m for m in loaded if m.startswith("mailadmin_")]
    assert "mailadmin.orchestration.registry" not in loaded and "sqlalchemy" not in loaded


def test_the_cli_imports_the_http_api_only_to_serve() -> None:
    loaded = _modules_after("import mailadmin.cli")
    assert not [m for m in loaded if m.split(".")[0] in ("fastapi", "starlette", "uvicorn")]
    assert "mailadmin.api.app" not in loaded
