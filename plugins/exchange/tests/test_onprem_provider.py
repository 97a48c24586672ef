"""The Exchange provider's on-premises mode against the Exchange Server mock on loopback:
every effect checked in the mock's state, one runspace pool for all the calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from mailadmin_exchange.demo import sample_config
from mailadmin_exchange.onprem import ExchangeServerProvider
from mailadmin_exchange.server_mock import ExchangeServerMock, ServerState

from mailadmin.mock import MockServer, serve
from mailadmin.sdk import AddonRef, MailboxKind, MailboxRef, NewMailbox, TenantRef, errors

MB = 1 << 20
GB = 1 << 30
FABRIKAM = TenantRef(name="fabrikam.com", native_id="contoso.local/Hosting/Fabrikam")
TAILSPIN = TenantRef(name="tailspintoys.com", native_id="contoso.local/Hosting/Tailspin")


@pytest.fixture(scope="module")
def running() -> Iterator[tuple[MockServer, str]]:
    server = MockServer(ExchangeServerMock)
    with serve(server) as url:
        yield server, url


@pytest.fixture
def state(running: tuple[MockServer, str]) -> ServerState:
    running[0].reset()
    assert isinstance(running[0].state, ServerState)
    return running[0].state


def settings(url: str, **extra: Any) -> dict[str, Any]:
    plans = sample_config()["instances"]["exchange"]["plans"]
    return {
        "endpoint": f"{url}/PowerShell",
        "auth": "basic",
        "credentials": {"username": "admin@contoso.local", "secret": "Passw0rd!"},
        "plans": plans,
        "tenancy": {
            "fabrikam.com": {
                "organizational_unit": "contoso.local/Hosting/Fabrikam",
                "address_book_policy": "Fabrikam ABP",
            }
        },
        "cals": {"standard": 10, "enterprise": 2},
        **extra,
    }


def run(running: tuple[MockServer, str], body: Any) -> Any:
    async def go() -> Any:
        async with ExchangeServerProvider(settings(running[1])) as provider:
            return await body(provider)

    return asyncio.run(go())


def test_set_plan_writes_quotas_and_flags_in_one_pool(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        first = await provider.set_plan(
            MailboxRef(tenant=FABRIKAM, address="anna@fabrikam.com"), "sync"
        )
        again = await provider.set_plan(
            MailboxRef(tenant=FABRIKAM, address="anna@fabrikam.com"), "sync"
        )
        return first, again

    first, again = run(running, body)
    assert first.changed and not again.changed
    anna = state.data.mailboxes["anna@fabrikam.com"]
    assert anna.prohibit_send_receive_quota == 5120 * MB
    assert anna.use_database_quota_defaults is False
    assert (anna.activesync, anna.mapi, anna.owa) == (True, False, True)
    assert state.shells_opened == 1 and not state.shells


def test_another_tenants_mailbox_is_not_found_and_untouched(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> None:
        with pytest.raises(errors.NotFoundError):
            await provider.set_plan(
                MailboxRef(tenant=FABRIKAM, address="tom@tailspintoys.com"), "sync"
            )

    run(running, body)
    assert state.data.mailboxes["tom@tailspintoys.com"].prohibit_send_receive_quota is None


def test_count_is_within_the_tenants_ou(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        await provider.set_plan(
            MailboxRef(tenant=FABRIKAM, address="ben@fabrikam.com"), "collaborate"
        )
        return await provider.count_mailboxes(FABRIKAM), await provider.count_mailboxes(TAILSPIN)

    fabrikam, tailspin = run(running, body)
    in_ou = [m for m in state.mailboxes("contoso.local/Hosting/Fabrikam")]
    assert sum(fabrikam.by_kind.values()) == len(in_ou)
    assert fabrikam.by_kind[MailboxKind.USER] == 2 and fabrikam.by_kind[MailboxKind.ROOM] == 1
    # Anna was never written: her flags (all on) read as Collaborate, as in Online mode.
    assert fabrikam.by_plan == {"collaborate": 2}
    assert tailspin.by_kind[MailboxKind.USER] == 1 and tailspin.by_kind[MailboxKind.SHARED] == 1


def test_a_shared_mailbox_is_made_in_the_tenants_ou_with_its_policy(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        new = NewMailbox(address="support@fabrikam.com", kind=MailboxKind.SHARED)
        return await provider.create_mailbox(FABRIKAM, new)

    result = run(running, body)
    assert result.changed
    made = state.data.mailboxes["support@fabrikam.com"]
    assert made.type == "SharedMailbox"
    assert made.organizational_unit == "contoso.local/Hosting/Fabrikam"
    assert made.address_book_policy == "Fabrikam ABP"


def test_storage_addon_on_every_plan_mailbox_of_the_tenant(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        await provider.set_plan(MailboxRef(tenant=FABRIKAM, address="anna@fabrikam.com"), "mail")
        return await provider.apply_addon(FABRIKAM, AddonRef(name="storage_gb"), 3)

    result = run(running, body)
    assert result.after == 3
    anna = state.data.mailboxes["anna@fabrikam.com"]
    assert anna.prohibit_send_receive_quota == 2048 * MB + 3 * GB
    assert state.data.mailboxes["tom@tailspintoys.com"].prohibit_send_receive_quota is None


def test_licence_reports_cal_use(running: tuple[MockServer, str], state: ServerState) -> None:
    licence = run(running, lambda provider: provider.get_licence())
    users = [m for m in state.mailboxes() if m.type == "UserMailbox"]
    assert licence.seats_used == len(users) and licence.seats_licensed == 10
    enterprise = licence.features[1]
    assert "Enterprise CAL" in enterprise.name and enterprise.used == 1
    assert ExchangeServerProvider.capabilities.licence.kind.value == "cals"


def test_delete_removes_a_shared_mailbox(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        return await provider.delete_mailbox(
            MailboxRef(tenant=FABRIKAM, address="info@fabrikam.com")
        )

    assert run(running, body).changed
    assert "info@fabrikam.com" not in state.data.mailboxes


def test_basic_over_plain_http_is_refused_off_loopback() -> None:
    with pytest.raises(errors.ConfigurationError):
        ExchangeServerProvider(settings("http://ex1.example.net", auth="basic"))


def test_deleting_another_tenants_mailbox_removes_nothing(
    running: tuple[MockServer, str], state: ServerState
) -> None:
    async def body(provider: ExchangeServerProvider) -> Any:
        return await provider.delete_mailbox(
            MailboxRef(tenant=FABRIKAM, address="sales@tailspintoys.com")
        )

    result = run(running, body)
    assert not result.changed
    assert "sales@tailspintoys.com" in state.data.mailboxes
