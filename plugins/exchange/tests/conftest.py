"""Shared fixtures of the Exchange plugin's tests: an in-process mock and a token for it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mailadmin_exchange.mock import ExchangeMock
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID

from mailadmin.mock import MockServer

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN_URL = f"https://login.microsoftonline.com/{DEFAULT_TENANT}/oauth2/v2.0/token"
INVOKE_URL = f"https://outlook.office365.com/adminapi/beta/{DEFAULT_TENANT_ID}/InvokeCommand"
ADMIN_SCOPE = "https://outlook.office365.com/.default"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"


def fixture_json(name: str) -> Any:
    """A JSON file under ``fixtures/``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def server() -> MockServer:
    """An Exchange mock in its default state."""
    return MockServer(ExchangeMock)


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client talking to the in-process mock (any host)."""
    async with httpx.AsyncClient(transport=server.transport()) as http:
        yield http


async def get_token(http: httpx.AsyncClient, scope: str = ADMIN_SCOPE) -> str:
    """A client-credentials token of the mock's default app."""
    answer = await http.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": "mock-client",
            "client_secret": "secret",
            "scope": scope,
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token
