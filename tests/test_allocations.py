"""Allocations mailadmin keeps for platforms that set no limit on shared and resource mailboxes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.capabilities import Capabilities
from mailadmin.contract.hookspecs import hookimpl
from mailadmin.contract.models import MailboxKind, NewMailbox, Outcome
from mailadmin.mock import MockServer
from mailadmin.mock.router import MockRouter
from mailadmin.orchestration.registry import Registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.reference.provider import MemoryProvider

BASE = "http://unlimited.test"


class Unlimited(MemoryProvider):
    """The reference provider on a platform that cannot limit shared or resource mailboxes."""

    name = "unlimited"
    capabilities = Capabilities(
        operations=MemoryProvider.capabilities.operations,
        mailbox_kinds=MemoryProvider.capabilities.mailbox_kinds,
        addons=frozenset({"mailboxes", "storage_gb"}),
        unsupported={
            "addon:shared_mailbox": "the platform sets no such limit",
            "addon:resource_mailbox": "the platform sets no such limit",
        },
    )


class _Plugin:
    @hookimpl
    def mailadmin_register_providers(self, register: Any) -> None:
        register("unlimited", provider=Unlimited)


@pytest.fixture
def server() -> MockServer:
    # The platform itself would allow 99: only mailadmin's allocation may refuse.
    mailboxes = [
        {"address": "anna@example.com", "kind": "user", "plan": "basic"},
        {"address": "info@example.com", "kind": "shared"},
        {"address": "room-1@example.com", "kind": "room"},
    ]
    allocations = {"shared_mailboxes": 99, "resource_mailboxes": 99}
    seed = {"tenants": {"example.com": {"allocations": allocations, "mailboxes": mailboxes}}}
    return MockServer(MemoryMock, seed=seed)


@pytest.fixture
def router(server: MockServer) -> MockRouter:
    return server.router(BASE)


@pytest.fixture
async def orch(server: MockServer, router: MockRouter, tmp_path):
    registry = Registry(load=[], disable=[], builtins=False)
    registry.register_plugin(_Plugin(), "unlimited")
    config = {
        "instances": {
            "eu": {
                "provider": "unlimited",
                "endpoint": BASE,
                "retries": 0,
                "credentials": {"username": "admin", "secret": "secret"},
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": f"sqlite:///{tmp_path / 'journal.sqlite'}"},
    }
    async with Orchestrator.from_dict(config, registry=registry, http={"eu": router}) as o:
        yield o


async def test_kept_allocations_limit_creation_of_shared_and_resource_mailboxes(
    orch: Orchestrator, server: MockServer
) -> None:
    # The tenant has one shared mailbox (info@) and one room (room-1@).
    bought = await orch.apply_addon("example.com", "shared_mailbox", 2)
    assert (bought.outcome, bought.before, bought.after) == (Outcome.CHANGED, None, 2)
    assert server.calls("set_allocation") == []  # kept by mailadmin, not sent
    await orch.create_mailbox(
        "example.com", NewMailbox(address="sales@example.com", kind=MailboxKind.SHARED)
    )
    with pytest.raises(errors.QuotaExceeded, match=r"uses all 2 shared mailboxes .*in use: 2"):
        await orch.create_mailbox(
            "example.com", NewMailbox(address="help@example.com", kind=MailboxKind.SHARED)
        )
    await orch.apply_addon("example.com", "resource_mailbox", 1)
    with pytest.raises(errors.QuotaExceeded, match="room and equipment"):
        await orch.create_mailbox(
            "example.com", NewMailbox(address="beamer@example.com", kind=MailboxKind.EQUIPMENT)
        )
    # User mailboxes are not limited by these add-ons.
    await orch.create_mailbox("example.com", NewMailbox(address="dora@example.com", plan=None))


async def test_a_kept_allocation_is_absolute_journalled_and_honours_dry_run(
    orch: Orchestrator,
) -> None:
    preview = await orch.apply_addon("example.com", "shared_mailbox", 5, dry_run=True)
    assert preview.dry_run and preview.outcome is Outcome.CHANGED
    assert orch.allocations.get("eu", "example.com", "shared_mailbox") is None
    await orch.apply_addon("example.com", "shared_mailbox", 5)
    again = await orch.apply_addon("example.com", "shared_mailbox", 5)
    assert again.outcome is Outcome.UNCHANGED and again.before == 5
    assert orch.journal is not None
    assert [(e.operation, e.dry_run, e.outcome) for e in orch.journal.entries()] == [
        ("apply_addon", False, "unchanged"),
        ("apply_addon", False, "changed"),
        ("apply_addon", True, "changed"),
    ]
    with pytest.raises(errors.ValidationError, match="whole number"):
        await orch.apply_addon("example.com", "shared_mailbox", -1)


async def test_without_a_recorded_allocation_creation_is_not_limited(orch: Orchestrator) -> None:
    for name in ("a", "b", "c"):
        created = await orch.create_mailbox(
            "example.com", NewMailbox(address=f"{name}@example.com", kind=MailboxKind.SHARED)
        )
        assert created.outcome is Outcome.CHANGED


async def test_the_report_rows_show_allocated_used_remaining_and_over_use(
    orch: Orchestrator,
) -> None:
    await orch.apply_addon("example.com", "shared_mailbox", 3)
    await orch.apply_addon("example.com", "resource_mailbox", 2)
    [resource, shared] = orch.allocation_use(await orch.count_mailboxes("example.com"))
    assert (shared.addon, shared.allocated, shared.used, shared.remaining) == (
        "shared_mailbox",
        3,
        1,
        2,
    )
    assert (resource.addon, resource.used, resource.over_used) == ("resource_mailbox", 1, False)
    # Lowering an allocation below what is in use is allowed, and shows as over-use.
    await orch.apply_addon("example.com", "shared_mailbox", 0)
    [_, shared] = orch.allocation_use(await orch.count_mailboxes("example.com"))
    assert (shared.remaining, shared.over_used) == (-1, True)


class _Policy:
    """Audits every call and refuses shared mailbox add-ons above 10."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    @hookimpl
    def mailadmin_before_call(self, call: Any, provider: Any) -> str | None:
        self.seen.append(("before", call.operation))
        if call.operation == "apply_addon" and call.arguments["quantity"] > 10:
            return "at most 10 shared mailboxes per tenant"
        return None

    @hookimpl
    def mailadmin_after_call(self, call: Any, provider: Any, result: Any) -> None:
        self.seen.append(("after", call.operation))


async def test_a_kept_allocation_takes_the_provider_call_path(orch: Orchestrator) -> None:
    policy = _Policy()
    orch.registry.register_plugin(policy, "policy")
    await orch.apply_addon("example.com", "shared_mailbox", 3)
    assert policy.seen == [("before", "apply_addon"), ("after", "apply_addon")]
    with pytest.raises(errors.PolicyDenied, match="at most 10"):
        await orch.apply_addon("example.com", "shared_mailbox", 11)
    assert orch.allocations.get("eu", "example.com", "shared_mailbox") == 3
    assert orch.journal is not None
    refused, done = orch.journal.entries()[:2]
    assert (refused.status, refused.error_code, refused.arguments["quantity"]) == (
        "refused",
        "policy_denied",
        11,
    )
    assert "at most 10" in (refused.error_message or "")
    assert (done.status, done.outcome, done.after) == ("done", "changed", 3)


async def test_racing_creations_cannot_both_take_the_last_bought_mailbox(
    orch: Orchestrator, server: MockServer
) -> None:
    await orch.apply_addon("example.com", "shared_mailbox", 2)  # info@ uses one
    results = await asyncio.gather(
        *(
            orch.create_mailbox(
                "example.com", NewMailbox(address=f"s{n}@example.com", kind=MailboxKind.SHARED)
            )
            for n in range(3)
        ),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, errors.QuotaExceeded)]
    assert len(refused) == 2
    # The never-counted tenant was counted once, by the first creation to hold its lock.
    assert len(server.calls("list_mailboxes")) == 1
    mailboxes = server.snapshot()["tenants"]["example.com"]["mailboxes"]
    assert sum(1 for m in mailboxes if m["kind"] == "shared") == 2


async def test_a_creation_beyond_a_kept_allocation_sends_no_request(
    orch: Orchestrator, server: MockServer, router: MockRouter
) -> None:
    await orch.apply_addon("example.com", "resource_mailbox", 2)
    await orch.count_mailboxes("example.com")  # room-1@: the use is known from here on
    await orch.create_mailbox(
        "example.com", NewMailbox(address="beamer@example.com", kind=MailboxKind.EQUIPMENT)
    )
    server.clear_requests()
    router.reset()
    with pytest.raises(errors.QuotaExceeded) as caught:
        await orch.create_mailbox(
            "example.com", NewMailbox(address="room-2@example.com", kind=MailboxKind.ROOM)
        )
    assert str(caught.value) == (
        "example.com uses all 2 room and equipment mailboxes it has bought (in use: 2); "
        "raise the 'resource_mailbox' add-on to create more"
    )
    assert router.calls.call_count == 0
    assert server.requests == []
    kinds = [m["kind"] for m in server.snapshot()["tenants"]["example.com"]["mailboxes"]]
    assert (kinds.count("room"), kinds.count("equipment")) == (1, 1)


async def test_deleting_frees_a_kept_slot_without_a_count(
    orch: Orchestrator, server: MockServer
) -> None:
    await orch.apply_addon("example.com", "shared_mailbox", 1)  # info@ uses it
    await orch.count_mailboxes("example.com")
    await orch.delete_mailbox("info@example.com")
    server.clear_requests()
    await orch.create_mailbox(
        "example.com", NewMailbox(address="sales@example.com", kind=MailboxKind.SHARED)
    )
    assert server.calls("list_mailboxes") == []  # checked from the kept use
    shared = [
        m["address"]
        for m in server.snapshot()["tenants"]["example.com"]["mailboxes"]
        if m["kind"] == "shared"
    ]
    assert shared == ["sales@example.com"]
