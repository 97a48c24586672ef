"""Shared fixtures of the Exchange plugin's tests: an in-process mock and a client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from mailadmin_exchange.mock import ExchangeMock

from mailadmin.mock import MockServer


@pytest.fixture
def server() -> MockServer:
    """An Exchange mock in its default state."""
    return MockServer(ExchangeMock)


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[httpx.AsyncClient]:
    """A plain httpx client talking to the in-process mock (any host)."""
    async with httpx.AsyncClient(transport=server.transport()) as http:
        yield http
