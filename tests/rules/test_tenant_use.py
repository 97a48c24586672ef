"""The use kept per tenant: allocation refusals from the store, with no request sent."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.hookspecs import hookimpl
from mailadmin.contract.models import MailboxKind, NewMailbox, Outcome
from mailadmin.mock import Fault, MockServer
from mailadmin.orchestration.registry import Registry, get_registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.mock.state import Mailbox as MockMailbox
from mailadmin.reference.provider import MemoryProvider
from mailadmin.reports import usage
from mailadmin.rules.tenancy import CustomerSpec, Resource

from .conftest import Platform

U, S, R = Resource.USER_MAILBOXES, Resource.SHARED_MAILBOXES, Resource.RESOURCE_MAILBOXES
RESOURCE = {MailboxKind.USER: U, MailboxKind.SHARED: S, MailboxKind.ROOM: R}
BASE = "http://memory.test"
TENANT = "example.com"


def kept_use(orch: Orchestrator, tenant: str = TENANT) -> dict[str, int]:
    """The rows of the use table itself, not read back through the code under test."""
    with orch.rules.store.connect() as db:
        rows = db.execute(
            sa.text("select resource, used from mailadmin_tenant_use where tenant = :tenant"),
            {"tenant": tenant},
        ).all()
    return {resource: used for resource, used in rows}


def mock_kinds(server: MockServer, tenant: str = TENANT) -> dict[str, int]:
    """Mailboxes per kind in the mock's own state."""
    found: dict[str, int] = {}
    for mailbox in server.snapshot()["tenants"][tenant]["mailboxes"]:
        found[mailbox["kind"]] = found.get(mailbox["kind"], 0) + 1
    return found


@pytest.mark.parametrize("kind", [MailboxKind.USER, MailboxKind.SHARED, MailboxKind.ROOM])
async def test_once_the_use_is_known_a_creation_beyond_the_allocation_sends_nothing(
    platform: Platform, kind: MailboxKind
) -> None:
    if not platform.capabilities.supports(f"create_mailbox:{kind.value}"):
        pytest.skip(f"{platform.name} does not create {kind.value} mailboxes")
    orch, resource = platform.orch, RESOURCE[kind]
    counts = await orch.count_mailboxes(platform.tenant)  # the use is known from here on
    used = kept_use(orch, platform.tenant)[resource.value]
    assert used == sum(
        counts.of(k)
        for k in MailboxKind
        if k is kind or (resource is R and k in (MailboxKind.ROOM, MailboxKind.EQUIPMENT))
    )
    orch.rules.tenancy.add_customer(platform.tenant, CustomerSpec(package={resource: used}))
    platform.server.clear_requests()
    platform.router.reset()  # call counts of the router and of every route

    new = NewMailbox(address=f"new-{kind.value}@{platform.tenant}", kind=kind)
    with pytest.raises(errors.PolicyDenied) as caught:
        await orch.create_mailbox(platform.tenant, new)

    label = resource.value.replace("_", " ")
    assert str(caught.value) == (
        f"{platform.tenant} is allocated {used} {label} and uses {used}; "
        "raise its allocation to create another"
    )
    assert caught.value.debug == {"resource": resource.value, "allocated": used, "used": used}
    # Not one request of any kind, read or write, on any route (the platform's own, its
    # sign-in, the mock's control API or an unknown address).
    assert platform.router.calls.call_count == 0
    assert platform.server.requests == []
    assert kept_use(orch, platform.tenant)[resource.value] == used


@pytest.fixture(params=["sqlite", "postgresql"])
async def memory(request: pytest.FixtureRequest, tmp_path):
    """The memory platform behind an orchestrator whose store is SQLite or PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    else:
        url = str(request.getfixturevalue("postgres_schema_url"))
    allocations = {"user_seats": 99, "shared_mailboxes": 99, "resource_mailboxes": 99}
    mailboxes = [
        {"address": "anna@example.com", "kind": "user", "plan": "basic"},
        {"address": "info@example.com", "kind": "shared"},
    ]
    server = MockServer(
        MemoryMock,
        seed={"tenants": {TENANT: {"allocations": allocations, "mailboxes": mailboxes}}},
    )
    router = server.router(BASE)
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": BASE,
                "retries": 0,
                "credentials": {"username": "admin", "secret": "secret"},
            }
        },
        "tenants": {TENANT: {"instance": "eu"}},
        "journal": {"url": url},
    }
    async with Orchestrator.from_dict(config, registry=get_registry(), http={"eu": router}) as o:
        yield o, server, router


async def test_a_never_counted_tenant_is_counted_once_then_kept(memory) -> None:
    orch, server, _ = memory
    orch.rules.tenancy.add_customer(TENANT, CustomerSpec(package={S: 3}))
    assert kept_use(orch) == {}
    for name in ("sales", "help"):
        await orch.create_mailbox(
            TENANT, NewMailbox(address=f"{name}@{TENANT}", kind=MailboxKind.SHARED)
        )
    # One count for the first check; the second check used the kept use.
    assert len(server.calls("list_mailboxes")) == 1
    assert kept_use(orch) == {U.value: 1, S.value: 3, R.value: 0}
    assert mock_kinds(server)["shared"] == 3
    server.clear_requests()
    with pytest.raises(errors.PolicyDenied, match="allocated 3 shared mailboxes and uses 3"):
        await orch.create_mailbox(
            TENANT, NewMailbox(address=f"more@{TENANT}", kind=MailboxKind.SHARED)
        )
    assert server.requests == []


async def test_a_tenant_without_an_allocation_is_never_counted_for_a_creation(memory) -> None:
    orch, server, _ = memory
    await orch.create_mailbox(TENANT, NewMailbox(address=f"dora@{TENANT}"))
    assert server.calls("list_mailboxes") == []
    assert kept_use(orch) == {}  # unknown, not zero: nothing to move
    assert mock_kinds(server)["user"] == 2


async def test_create_then_delete_moves_the_kept_use(memory) -> None:
    orch, server, _ = memory
    await orch.count_mailboxes(TENANT)
    assert kept_use(orch) == {U.value: 1, S.value: 1, R.value: 0}

    room = NewMailbox(address=f"room-2@{TENANT}", kind=MailboxKind.ROOM)
    preview = await orch.create_mailbox(TENANT, room, dry_run=True)
    assert preview.dry_run and "room" not in mock_kinds(server)
    assert kept_use(orch)[R.value] == 0  # a dry run uses nothing

    created = await orch.create_mailbox(TENANT, room)
    assert created.outcome is Outcome.CHANGED
    assert mock_kinds(server)["room"] == 1
    assert kept_use(orch)[R.value] == 1
    again = await orch.create_mailbox(TENANT, room)  # already there: nothing more used
    assert again.outcome is Outcome.UNCHANGED
    assert kept_use(orch)[R.value] == 1

    await orch.delete_mailbox(f"info@{TENANT}", dry_run=True)
    assert kept_use(orch)[S.value] == 1
    deleted = await orch.delete_mailbox(f"info@{TENANT}")
    assert deleted.outcome is Outcome.CHANGED
    assert "shared" not in mock_kinds(server)
    assert kept_use(orch) == {U.value: 1, S.value: 0, R.value: 1}


async def test_a_count_refreshes_a_stale_use(memory) -> None:
    orch, server, _ = memory
    orch.rules.tenancy.add_customer(TENANT, CustomerSpec(package={S: 3}))
    await orch.count_mailboxes(TENANT)
    assert kept_use(orch)[S.value] == 1
    # Two shared mailboxes made on the platform itself, outside mailadmin.
    for name in ("x", "y"):
        server.state.create_mailbox(
            TENANT, MockMailbox(address=f"{name}@{TENANT}", kind=MailboxKind.SHARED)
        )
    assert kept_use(orch)[S.value] == 1  # stale until the next count

    counts = (await orch.count_all()).items[0].value
    assert counts is not None and counts.of(MailboxKind.SHARED) == 3
    assert kept_use(orch)[S.value] == 3
    server.clear_requests()
    with pytest.raises(errors.PolicyDenied, match="allocated 3 shared mailboxes and uses 3"):
        await orch.create_mailbox(TENANT, NewMailbox(address=f"z@{TENANT}", kind="shared"))
    assert server.requests == []
    assert mock_kinds(server)["shared"] == 3

    # The usage report counts live too, and so refreshes the use: one removed outside.
    server.state.delete_mailbox(TENANT, f"x@{TENANT}")
    rows = await usage.build(orch)
    [shared] = [r for r in rows if r.subscription == TENANT and r.resource is S]
    assert (shared.allocated, shared.utilised) == (3, 2)
    assert kept_use(orch)[S.value] == 2


async def test_racing_creations_for_the_last_slot_take_it_once(memory) -> None:
    orch, server, _ = memory
    orch.rules.tenancy.add_customer(TENANT, CustomerSpec(package={U: 2}))  # anna@ uses one
    await orch.count_mailboxes(TENANT)
    results = await asyncio.gather(
        *(orch.create_mailbox(TENANT, NewMailbox(address=f"u{n}@{TENANT}")) for n in range(3)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, errors.PolicyDenied)]
    created = [r for r in results if not isinstance(r, BaseException)]
    assert (len(refused), len(created)) == (2, 1)
    assert all(r.reason == "allocation_exceeded" for r in refused)
    assert mock_kinds(server)["user"] == 2
    assert kept_use(orch)[U.value] == 2


async def test_a_failed_creation_uses_nothing(memory) -> None:
    orch, server, _ = memory
    orch.rules.tenancy.add_customer(TENANT, CustomerSpec(package={S: 5}))
    await orch.count_mailboxes(TENANT)
    server.inject(Fault(kind="status", status=503, operation="create_mailbox", calls=[1]))
    with pytest.raises(errors.Unavailable):
        await orch.create_mailbox(TENANT, NewMailbox(address=f"a@{TENANT}", kind="shared"))
    assert mock_kinds(server)["shared"] == 1
    assert kept_use(orch)[S.value] == 1


class _Unsettled(MemoryProvider):
    """The reference provider on a platform whose lost answers cannot be read back: a
    creation whose answer was lost ends ``unknown`` (it may or may not exist)."""

    name = "unsettled"

    async def _create_mailbox(self, tenant: Any, mailbox: NewMailbox) -> Any:
        try:
            return await super()._create_mailbox(tenant, mailbox)
        except errors.Unavailable as exc:
            raise errors.OutcomeUnknown(f"{mailbox.address} may or may not exist") from exc


class _UnsettledPlugin:
    @hookimpl
    def mailadmin_register_providers(self, register: Any) -> None:
        register("unsettled", provider=_Unsettled)


async def test_a_creation_of_unknown_outcome_is_counted_as_used(tmp_path) -> None:
    registry = Registry(load=[], disable=[], builtins=False)
    registry.register_plugin(_UnsettledPlugin(), "unsettled")
    mailboxes = [{"address": f"info@{TENANT}", "kind": "shared"}]
    tenant = {"allocations": {"shared_mailboxes": 99}, "mailboxes": mailboxes}
    server = MockServer(MemoryMock, seed={"tenants": {TENANT: tenant}})
    config = {
        "instances": {
            "eu": {
                "provider": "unsettled",
                "endpoint": BASE,
                "retries": 0,
                "credentials": {"username": "admin", "secret": "secret"},
            }
        },
        "tenants": {TENANT: {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    async with Orchestrator.from_dict(
        config, registry=registry, http={"eu": server.router(BASE)}
    ) as orch:
        orch.rules.tenancy.add_customer(TENANT, CustomerSpec(package={S: 2}))
        await orch.count_mailboxes(TENANT)
        # The platform makes it, then the answer is lost.
        server.inject(Fault(kind="drop", operation="create_mailbox", handled=True, calls=[1]))
        with pytest.raises(errors.OutcomeUnknown):
            await orch.create_mailbox(TENANT, NewMailbox(address=f"b@{TENANT}", kind="shared"))
        assert mock_kinds(server)["shared"] == 2
        # Counted: had it been taken as not made, the next creation would pass the allocation.
        assert kept_use(orch)[S.value] == 2
        server.clear_requests()
        with pytest.raises(errors.PolicyDenied, match="allocated 2 shared mailboxes and uses 2"):
            await orch.create_mailbox(TENANT, NewMailbox(address=f"c@{TENANT}", kind="shared"))
        assert server.requests == []
