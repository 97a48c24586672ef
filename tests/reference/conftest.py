"""Fixtures: the memory provider against its mock, in process (respx) and on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from mailadmin.contract.models import MailboxRef, TenantRef
from mailadmin.mock import MockRouter, MockServer, serve
from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.provider import MemoryProvider


@dataclass
class Memory:
    """A provider wired to a memory mock: ``server`` (inspect state and recordings),
    ``router`` (the respx router, ``None`` on loopback), ``sleeps`` (retry waits)."""

    provider: MemoryProvider
    server: MockServer
    router: MockRouter | None
    sleeps: list[float] = field(default_factory=list)
    tenant: TenantRef = field(default_factory=lambda: TenantRef(name="example.com"))

    def mailbox(self, local: str) -> MailboxRef:
        """``local@example.com``."""
        return MailboxRef(tenant=self.tenant, address=f"{local}@example.com")

    def state(self) -> dict[str, Any]:
        """The mock's state snapshot."""
        return self.server.snapshot()

    def writes(self) -> list[str]:
        """Names of the write routes the mock received."""
        return [r.operation or "" for r in self.server.writes()]


@pytest.fixture(params=["respx", "loopback"])
async def memory(request: pytest.FixtureRequest) -> AsyncIterator[Memory]:
    """The provider against a fresh memory mock, through each front door in turn.

    Seed with ``@pytest.mark.seed({...})``; provider settings with
    ``@pytest.mark.settings({...})``.
    """
    seed_mark = request.node.get_closest_marker("seed")
    settings_mark = request.node.get_closest_marker("settings")
    server = MockServer(MemoryMock, seed=seed_mark.args[0] if seed_mark else None)
    settings: dict[str, Any] = dict(settings_mark.args[0]) if settings_mark else {}
    if request.param == "respx":
        router = server.router("http://memory.test")
        provider = MemoryProvider(
            {"endpoint": "http://memory.test", **settings}, instance="mem", http=router
        )
        async with _wired(provider, server, router) as harness:
            yield harness
    else:
        with serve(server) as url:
            provider = MemoryProvider({"endpoint": url, **settings}, instance="mem")
            async with _wired(provider, server, None) as harness:
                yield harness


@asynccontextmanager
async def _wired(
    provider: MemoryProvider, server: MockServer, router: MockRouter | None
) -> AsyncIterator[Memory]:
    harness = Memory(provider, server, router)

    async def record(seconds: float) -> None:
        harness.sleeps.append(seconds)

    provider.http.sleep = record  # Retry-After waits are recorded, not slept
    try:
        yield harness
    finally:
        await provider.aclose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "seed(data): seed the memory mock")
    config.addinivalue_line("markers", "settings(data): extra memory provider settings")
