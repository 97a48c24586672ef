"""The on-premises wire (one runspace pool, cmdlets as data, typed errors) on the mock."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from mailadmin_exchange.remoting import RemoteShell
from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState

from mailadmin.mock import MockServer, serve
from mailadmin.sdk import errors


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[MockServer, str]]:
    server = MockServer(ExchangeServerMock)
    with serve(server) as url:
        yield server, url


@pytest.fixture
def server(running: tuple[MockServer, str]) -> ServerState:
    running[0].reset()
    assert isinstance(running[0].state, ServerState)
    return running[0].state


def shell(running: tuple[MockServer, str], password: str = "Passw0rd!") -> RemoteShell:
    parts = urlsplit(running[1])
    return RemoteShell(
        server=parts.hostname or "127.0.0.1",
        port=parts.port or 80,
        ssl=False,
        username="admin@contoso.local",
        password=password,
        provider="onprem",
    )


def test_concurrent_calls_share_one_runspace_pool(
    running: tuple[MockServer, str], server: ServerState
) -> None:
    remote = shell(running)

    async def go() -> None:
        await asyncio.gather(
            *(
                remote.run(
                    "Set-Mailbox",
                    {"Identity": "anna@fabrikam.com", f"CustomAttribute{n}": "x"},
                )
                for n in range(1, 16)
            )
        )
        rows = (await remote.run("Get-Mailbox", {"Identity": "anna@fabrikam.com"})).rows
        assert rows[0]["CustomAttribute15"] == "x"
        await remote.close()

    asyncio.run(go())
    assert len(server.data.mailboxes["anna@fabrikam.com"].custom_attributes) == 15
    assert server.shells_opened == 1 and remote.pools_opened == 1
    assert not server.shells  # closed


def test_error_records_map_to_the_online_modes_typed_errors(
    running: tuple[MockServer, str], server: ServerState
) -> None:
    remote = shell(running)

    async def go() -> None:
        with pytest.raises(errors.NotFoundError) as missing:
            await remote.run("Get-Mailbox", {"Identity": "nobody@fabrikam.com"}, subject="nobody")
        assert "nobody" in str(missing.value)
        with pytest.raises(errors.ConflictError):
            await remote.run(
                "New-Mailbox",
                {"Name": "X", "Shared": None, "PrimarySmtpAddress": "info@fabrikam.com"},
            )
        with pytest.raises(errors.ValidationError):
            await remote.run("Set-Mailbox", {"Identity": "anna@fabrikam.com", "Colour": "red"})
        unchanged = await remote.run(
            "Set-CASMailbox", {"Identity": "anna@fabrikam.com", "PopEnabled": True}
        )
        assert unchanged.unchanged
        await remote.close()

    asyncio.run(go())
    assert server.shells_opened == 1


def test_a_dropped_shell_is_unavailable_then_a_new_pool_opens(
    running: tuple[MockServer, str], server: ServerState
) -> None:
    remote = shell(running)

    async def go() -> None:
        await remote.run("Get-AcceptedDomain")
        server.drop_shells()
        with pytest.raises(errors.Unavailable):
            await remote.run("Get-AcceptedDomain")
        await remote.run("Get-AcceptedDomain")
        await remote.close()

    asyncio.run(go())
    assert server.shells_opened == 2


def test_the_concurrency_limit_is_rate_limited(
    running: tuple[MockServer, str], server: ServerState
) -> None:
    server.data.max_concurrency = 1
    first, second = shell(running), shell(running)

    async def go() -> None:
        await first.run("Get-AcceptedDomain")
        with pytest.raises(errors.RateLimited):
            await second.run("Get-AcceptedDomain")
        await first.close()
        await second.run("Get-AcceptedDomain")
        await second.close()

    asyncio.run(go())


def test_a_wrong_password_is_an_authentication_error_without_the_password(
    running: tuple[MockServer, str], server: ServerState
) -> None:
    remote = shell(running, password="not-the-Secret-9")
    with pytest.raises(errors.AuthenticationError) as caught:
        asyncio.run(remote.run("Get-AcceptedDomain"))
    assert "not-the-Secret-9" not in str(caught.value) + repr(caught.value.debug)
