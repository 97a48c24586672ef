"""Add-ons never drop another limit: seats, seats per plan and storage live side by side in
a context (reseller restrictions and ``maxQuota``), checked in the mock's state.

What OX does (middleware source, reseller bundle ``OXResellerContextImpl.change`` and
``OXResellerMySQLStorage.applyRestrictionsToContext``): a context ``change`` that carries
restrictions replaces the context's whole restriction list (delete all, insert the ones
sent); a ``change`` without any leaves the restrictions as they are.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest
from mailadmin_ox.mock.platform import OXMock

from mailadmin.mock import Fault, MockServer
from mailadmin.sdk import TenantRef

if TYPE_CHECKING:
    from conftest import Make, Post

EXAMPLE = TenantRef(name="example.com", native_id="1")
MODES = ["master_admin", "reseller"]


def _limits(server: MockServer) -> dict[str, str]:
    return dict(server.state.contexts[1].restrictions)  # type: ignore[attr-defined]


def _quota(server: MockServer) -> int:
    return int(server.state.contexts[1].max_quota)  # type: ignore[attr-defined]


@pytest.mark.parametrize("mode", MODES)
async def test_storage_after_seats_keeps_the_seat_limit(make: Make, mode: str) -> None:
    server = MockServer(OXMock)
    provider = make(server, mode=mode)

    await provider.apply_addon(EXAMPLE, "mailboxes", 20)
    await provider.apply_addon(EXAMPLE, "storage_gb", 6)

    assert _limits(server) == {"Context.MaxUser": "20"}
    assert _quota(server) == 1024 + 6 * 1024


@pytest.mark.parametrize("mode", MODES)
async def test_seats_after_storage_and_other_seats_keep_them_all(make: Make, mode: str) -> None:
    server = MockServer(OXMock)
    provider = make(server, mode=mode)

    await provider.apply_addon(EXAMPLE, "storage_gb", 2)
    await provider.apply_addon(EXAMPLE, "mailboxes:collaborate", 5)
    await provider.apply_addon(EXAMPLE, "mailboxes", 20)
    await provider.apply_addon(EXAMPLE, "mailboxes:collaborate", 6)

    assert _limits(server) == {
        "Context.MaxUser": "20",
        "Context.MaxUserByModuleaccess_groupware_premium": "6",
    }
    assert _quota(server) == 1024 + 2 * 1024


@pytest.mark.parametrize("mode", MODES)
async def test_concurrent_add_ons_on_one_context_keep_every_limit(make: Make, mode: str) -> None:
    server = MockServer(OXMock)
    # Writes take a moment to arrive, as on a real network, so the calls' reads overlap them.
    server.inject(Fault(kind="latency", operation="change", delay=0.05))
    provider = make(server, mode=mode)

    await asyncio.gather(
        provider.apply_addon(EXAMPLE, "mailboxes", 20),
        provider.apply_addon(EXAMPLE, "mailboxes:collaborate", 5),
        provider.apply_addon(EXAMPLE, "mailboxes:sync", 7),
    )

    assert _limits(server) == {
        "Context.MaxUser": "20",
        "Context.MaxUserByModuleaccess_groupware_premium": "5",
        "Context.MaxUserByModuleaccess_pim_mobility": "7",
    }


def _change(inner: str) -> bytes:
    return (
        '<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        # Unqualified children, as SOAP::Lite sends them (a default namespace here would
        # qualify them in the service namespace, which OX refuses).
        '<rs:change xmlns:rs="http://soap.reseller.admin.openexchange.com"><ctx><id>1</id>'
        f"{inner}</ctx><auth><login>reseller</login><password>secret</password></auth>"
        "</rs:change></e:Body></e:Envelope>"
    ).encode()


def _restriction(name: str, value: str) -> str:
    return f"<restriction><name>{name}</name><value>{value}</value></restriction>"


async def test_the_mock_keeps_restrictions_on_a_change_without_any(post: Post) -> None:
    server = MockServer(OXMock)
    server.state.contexts[1].restrictions = {"Context.MaxUser": "20"}  # type: ignore[attr-defined]

    response = await post(server, "OXResellerContextService", _change("<maxQuota>4096</maxQuota>"))

    assert response.status_code == 200
    assert _limits(server) == {"Context.MaxUser": "20"}
    assert _quota(server) == 4096


async def test_the_mock_replaces_the_whole_list_on_a_change_with_restrictions(post: Post) -> None:
    server = MockServer(OXMock)
    server.state.contexts[1].restrictions = {"Context.MaxUser": "20"}  # type: ignore[attr-defined]
    limit = _restriction("Context.MaxUserByModuleaccess_pim", "3")

    response = await post(server, "OXResellerContextService", _change(limit))

    assert response.status_code == 200
    assert _limits(server) == {"Context.MaxUserByModuleaccess_pim": "3"}
