"""The reference provider against its mock, in process (respx) and on loopback."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import (
    AddonRef,
    LicenceState,
    MailboxKind,
    NewMailbox,
    Outcome,
    TenantRef,
)
from mailadmin.mock import Fault, Progression
from mailadmin.reference.provider import MemoryProvider

if TYPE_CHECKING:
    from conftest import Memory  # the fixture's type (conftest is not importable at run time)

SHARED = NewMailbox(address="team@example.com", kind=MailboxKind.SHARED)


async def test_memory_provider_just_works_without_an_endpoint() -> None:
    async with MemoryProvider({}) as provider:
        status = await provider.test_connection()
        count = await provider.count_mailboxes(TenantRef(name="example.com"))
        change = await provider.set_plan(
            {"tenant": {"name": "example.com"}, "address": "anna@example.com"}, "sync"
        )
    assert status.ok and status.version == "1.0"
    assert count.total == 5
    assert change.outcome is Outcome.CHANGED
    assert provider.mock_server is not None
    assert [r.operation for r in provider.mock_server.writes()] == ["change_plan"]
    assert MemoryProvider({}).mock_server is not provider.mock_server  # one platform each


async def test_test_connection(memory: Memory) -> None:
    status = await memory.provider.test_connection()
    assert (status.ok, status.platform, status.version) == (
        True,
        "In-memory reference platform",
        "1.0",
    )


@pytest.mark.settings({"credentials": {"username": "admin", "secret": "wrong-pass"}})
async def test_bad_credentials_are_an_authentication_error(memory: Memory) -> None:
    with pytest.raises(errors.AuthenticationError) as caught:
        await memory.provider.test_connection()
    assert str(caught.value) == "mem rejected the credentials"
    assert "wrong-pass" not in str(caught.value.debug)
    assert [r.status for r in memory.server.requests] == [401]


async def test_list_plans_maps_native_plans_to_neutral_names(memory: Memory) -> None:
    plans = await memory.provider.list_plans()
    assert [(p.native_name, p.neutral_name, p.quota_mb) for p in plans] == [
        ("basic", "mail", 2048),
        ("standard", "sync", 5120),
        ("premium", "collaborate", 10240),
    ]
    assert "mobile_sync" in plans[1].features


async def test_get_licence(memory: Memory) -> None:
    licence = await memory.provider.get_licence()
    assert (licence.seats_licensed, licence.seats_used, licence.seats_free) == (50, 3, 47)
    assert licence.state is LicenceState.ACTIVE
    assert licence.valid_until is not None and licence.valid_until.year == 2036
    assert {f.name: f.used for f in licence.features} == {"basic": 1, "standard": 1, "premium": 1}


@pytest.mark.seed({"licence": {"seats": 2, "state": "trial"}})
async def test_an_over_used_licence_is_reported(memory: Memory) -> None:
    licence = await memory.provider.get_licence()
    assert licence.over_used
    assert licence.state is LicenceState.TRIAL
    assert licence.valid_until is None


async def test_count_mailboxes_by_kind_and_plan(memory: Memory) -> None:
    count = await memory.provider.count_mailboxes(memory.tenant)
    assert count.tenant == "example.com"
    assert count.by_kind == {
        MailboxKind.USER: 3,
        MailboxKind.SHARED: 1,
        MailboxKind.ROOM: 1,
        MailboxKind.EQUIPMENT: 0,
    }
    assert count.by_plan == {"mail": 1, "sync": 1, "collaborate": 1}


@pytest.mark.seed({"page_size": 2})
@pytest.mark.settings({"plans": {"mail": {"native": "basic"}, "sync": {"native": "standard"}}})
async def test_count_follows_pages_and_counts_unmapped_plans(memory: Memory) -> None:
    count = await memory.provider.count_mailboxes(memory.tenant)
    assert count.total == 5
    assert count.by_plan == {"mail": 1, "sync": 1, "unmapped": 1}
    assert len(memory.server.calls("list_mailboxes")) == 3


async def test_unknown_tenant(memory: Memory) -> None:
    with pytest.raises(errors.NotFoundError):
        await memory.provider.count_mailboxes(TenantRef(name="nowhere.test"))


async def test_list_mailboxes(memory: Memory) -> None:
    mailboxes = await memory.provider.list_mailboxes(memory.tenant)
    assert [(m.address, m.kind, m.plan) for m in mailboxes] == [
        ("anna@example.com", MailboxKind.USER, "mail"),
        ("ben@example.com", MailboxKind.USER, "sync"),
        ("carla@example.com", MailboxKind.USER, "collaborate"),
        ("info@example.com", MailboxKind.SHARED, None),
        ("room-1@example.com", MailboxKind.ROOM, None),
    ]


# -- set_plan ----------------------------------------------------------------------------


async def test_set_plan_changes_then_answers_unchanged_without_a_write(memory: Memory) -> None:
    anna = memory.mailbox("anna")
    first = await memory.provider.set_plan(anna, "sync")
    again = await memory.provider.set_plan(anna, "sync")

    assert (first.outcome, first.before, first.after) == (Outcome.CHANGED, "mail", "sync")
    assert (again.outcome, again.before, again.after) == (Outcome.UNCHANGED, "sync", "sync")
    mailbox = memory.state()["tenants"]["example.com"]["mailboxes"][0]
    assert (mailbox["plan"], mailbox["quota_mb"]) == ("standard", 5120)
    assert memory.writes() == ["change_plan"]
    if memory.router is not None:
        assert memory.router["change_plan"].call_count == 1


async def test_set_plan_dry_run_reads_and_sends_no_write(memory: Memory) -> None:
    preview = await memory.provider.set_plan(memory.mailbox("anna"), "collaborate", dry_run=True)
    assert (preview.outcome, preview.before, preview.after) == (
        Outcome.CHANGED,
        "mail",
        "collaborate",
    )
    assert preview.dry_run
    assert memory.writes() == []
    assert memory.server.calls("get_mailbox")
    if memory.router is not None:
        assert memory.router["get_mailbox"].call_count == 1
        assert memory.router["change_plan"].call_count == 0
    assert memory.state()["tenants"]["example.com"]["mailboxes"][0]["plan"] == "basic"


async def test_set_plan_errors(memory: Memory) -> None:
    with pytest.raises(errors.NotFoundError, match="ghost@example.com does not exist"):
        await memory.provider.set_plan(memory.mailbox("ghost"), "sync")
    with pytest.raises(errors.ConflictError, match="shared mailbox"):
        await memory.provider.set_plan(memory.mailbox("info"), "sync")
    with pytest.raises(errors.ValidationError, match="Unknown plan 'platinum'"):
        await memory.provider.set_plan(memory.mailbox("anna"), "platinum")
    assert memory.writes() == []


@pytest.mark.seed(
    {"tenants": {"example.com": {
        "allocations": {"user_seats:premium": 1},
        "mailboxes": [
            {"address": "ben@example.com", "plan": "standard"},
            {"address": "carla@example.com", "plan": "premium"},
        ],
    }}}
)  # fmt: skip
async def test_seats_per_plan_are_enforced_on_a_plan_change(memory: Memory) -> None:
    with pytest.raises(errors.QuotaExceeded, match="No add-on allocation is left"):
        await memory.provider.set_plan(memory.mailbox("ben"), "collaborate")
    await memory.provider.apply_addon(memory.tenant, AddonRef.parse("mailboxes:collaborate"), 2)
    change = await memory.provider.set_plan(memory.mailbox("ben"), "collaborate")
    assert change.outcome is Outcome.CHANGED


@pytest.mark.seed({"asynchronous": ["set_plan"]})
async def test_an_asynchronous_plan_change_is_accepted(memory: Memory) -> None:
    memory.server.state.operations.set_progression(Progression.after_polls(1))
    accepted = await memory.provider.set_plan(memory.mailbox("anna"), "sync")
    assert accepted.outcome is Outcome.ACCEPTED
    assert accepted.operation_id == "op-1"
    assert memory.state()["tenants"]["example.com"]["mailboxes"][0]["plan"] == "basic"

    transport = memory.router or httpx.AsyncHTTPTransport()
    base = memory.provider.settings.endpoint
    async with httpx.AsyncClient(transport=transport, base_url=base or "") as http:
        polls = [
            (await http.get("/api/operations/op-1", auth=("admin", "secret"))).json()
            for _ in range(2)
        ]
    assert [p["state"] for p in polls] == ["in_progress", "succeeded"]
    assert polls[1]["result"]["after"] == {"plan": "standard", "quota_mb": 5120}
    assert (await memory.provider.set_plan(memory.mailbox("anna"), "sync")).outcome is (
        Outcome.UNCHANGED
    )


# -- apply_addon -------------------------------------------------------------------------


async def test_apply_addon_is_absolute_and_idempotent(memory: Memory) -> None:
    first = await memory.provider.apply_addon(memory.tenant, "shared_mailbox", 5)
    again = await memory.provider.apply_addon(memory.tenant, "shared_mailbox", 5)

    assert (first.outcome, first.before, first.after) == (Outcome.CHANGED, 2, 5)
    assert (again.outcome, again.before, again.after) == (Outcome.UNCHANGED, 5, 5)
    assert memory.writes() == ["set_allocation"]
    assert memory.state()["tenants"]["example.com"]["allocations"]["shared_mailboxes"] == 5


async def test_every_addon_maps_to_its_allocation(memory: Memory) -> None:
    for addon, quantity in [
        ("mailboxes", 20),
        ("mailboxes:sync", 4),
        ("shared_mailbox", 3),
        ("resource_mailbox", 6),
        ("storage_gb", 50),
    ]:
        await memory.provider.apply_addon(memory.tenant, addon, quantity)
    assert memory.state()["tenants"]["example.com"]["allocations"] == {
        "user_seats": 20,
        "user_seats:standard": 4,
        "shared_mailboxes": 3,
        "resource_mailboxes": 6,
        "extra_storage_gb": 50,
    }


async def test_apply_addon_dry_run_sends_no_write(memory: Memory) -> None:
    preview = await memory.provider.apply_addon(
        memory.tenant, AddonRef(name="storage_gb"), 10, dry_run=True
    )
    assert (preview.outcome, preview.before, preview.after, preview.dry_run) == (
        Outcome.CHANGED,
        0,
        10,
        True,
    )
    assert memory.writes() == []
    if memory.router is not None:
        assert memory.router["set_allocation"].call_count == 0


async def test_an_addon_cannot_go_below_what_is_in_use(memory: Memory) -> None:
    with pytest.raises(errors.ConflictError, match="cannot go below the 3 in use"):
        await memory.provider.apply_addon(memory.tenant, "mailboxes", 2)
    with pytest.raises(errors.ValidationError, match="not sold per plan"):
        await memory.provider.apply_addon(memory.tenant, "storage_gb:sync", 2)
    assert memory.writes() == []


# -- create_mailbox and delete_mailbox ---------------------------------------------------


async def test_create_every_kind_of_mailbox(memory: Memory) -> None:
    created = [
        await memory.provider.create_mailbox(memory.tenant, new)
        for new in [
            NewMailbox(address="dora@example.com", plan="sync", password="pw-1234"),
            NewMailbox(address="eve@example.com"),
            SHARED,
            NewMailbox(address="beamer@example.com", kind=MailboxKind.EQUIPMENT),
        ]
    ]
    assert [(c.outcome, c.after.kind, c.after.plan) for c in created if c.after] == [
        (Outcome.CHANGED, MailboxKind.USER, "sync"),
        (Outcome.CHANGED, MailboxKind.USER, "mail"),
        (Outcome.CHANGED, MailboxKind.SHARED, None),
        (Outcome.CHANGED, MailboxKind.EQUIPMENT, None),
    ]
    count = await memory.provider.count_mailboxes(memory.tenant)
    assert count.total == 9
    posted = memory.server.calls("create_mailbox")[0].json()
    assert posted["plan"] == "standard" and posted["password"] == "pw-1234"


async def test_allocations_are_enforced_when_shared_and_resource_mailboxes_are_created(
    memory: Memory,
) -> None:
    await memory.provider.create_mailbox(memory.tenant, SHARED)  # 2 of 2 shared
    with pytest.raises(errors.QuotaExceeded):
        await memory.provider.create_mailbox(
            memory.tenant, NewMailbox(address="sales@example.com", kind=MailboxKind.SHARED)
        )
    await memory.provider.create_mailbox(  # rooms and equipment share one allocation: 2 of 2
        memory.tenant, NewMailbox(address="van@example.com", kind=MailboxKind.EQUIPMENT)
    )
    room = NewMailbox(address="room-2@example.com", kind=MailboxKind.ROOM)
    with pytest.raises(errors.QuotaExceeded):
        await memory.provider.create_mailbox(memory.tenant, room)
    with pytest.raises(errors.QuotaExceeded):  # a dry run reports the same, sending nothing
        await memory.provider.create_mailbox(memory.tenant, room, dry_run=True)

    await memory.provider.apply_addon(memory.tenant, "resource_mailbox", 3)
    made = await memory.provider.create_mailbox(memory.tenant, room)
    assert made.outcome is Outcome.CHANGED
    assert memory.writes() == [
        "create_mailbox",
        "create_mailbox",
        "create_mailbox",
        "create_mailbox",
        "set_allocation",
        "create_mailbox",
    ]
    assert [r.status for r in memory.server.calls("create_mailbox")] == [201, 422, 201, 422, 201]


@pytest.mark.seed({"tenants": {"example.com": {"allocations": {"user_seats": 1}}}})
async def test_user_seats_are_enforced(memory: Memory) -> None:
    await memory.provider.create_mailbox(memory.tenant, NewMailbox(address="one@example.com"))
    with pytest.raises(errors.QuotaExceeded):
        await memory.provider.create_mailbox(memory.tenant, NewMailbox(address="two@example.com"))


async def test_create_mailbox_dry_run_and_repeat(memory: Memory) -> None:
    preview = await memory.provider.create_mailbox(memory.tenant, SHARED, dry_run=True)
    assert memory.writes() == []
    made = await memory.provider.create_mailbox(memory.tenant, SHARED)
    again = await memory.provider.create_mailbox(memory.tenant, SHARED)

    assert (preview.outcome, preview.dry_run) == (Outcome.CHANGED, True)
    assert preview.after is not None and preview.after.address == "team@example.com"
    assert made.outcome is Outcome.CHANGED
    assert again.outcome is Outcome.UNCHANGED
    assert memory.writes() == ["create_mailbox"]
    with pytest.raises(errors.ConflictError, match="already exists"):
        await memory.provider.create_mailbox(
            memory.tenant, NewMailbox(address="team@example.com", kind=MailboxKind.ROOM)
        )


async def test_delete_mailbox(memory: Memory) -> None:
    preview = await memory.provider.delete_mailbox(memory.mailbox("ben"), dry_run=True)
    assert memory.writes() == []
    gone = await memory.provider.delete_mailbox(memory.mailbox("ben"))
    again = await memory.provider.delete_mailbox(memory.mailbox("ben"))

    assert (preview.outcome, preview.dry_run) == (Outcome.CHANGED, True)
    assert gone.outcome is Outcome.CHANGED
    assert gone.before is not None and gone.before.plan == "sync"
    assert (again.outcome, again.before) == (Outcome.UNCHANGED, None)
    assert memory.writes() == ["delete_mailbox"]
    if memory.router is not None:
        assert memory.router["delete_mailbox"].call_count == 1


# -- faults ------------------------------------------------------------------------------


async def test_a_429_is_retried_then_succeeds(memory: Memory) -> None:
    memory.server.inject(
        Fault(kind="rate_limit", operation="get_licence", calls=[1], retry_after=3)
    )
    licence = await memory.provider.get_licence()
    assert licence.seats_used == 3
    assert [r.status for r in memory.server.calls("get_licence")] == [429, 200]
    assert memory.sleeps == [3]


async def test_a_persistent_429_is_rate_limited_with_retry_after(memory: Memory) -> None:
    memory.server.inject(Fault(kind="rate_limit", operation="ping", retry_after=7))
    with pytest.raises(errors.RateLimited) as caught:
        await memory.provider.test_connection()
    assert caught.value.retry_after == 7
    assert len(memory.server.calls("ping")) == 1 + memory.provider.settings.retries


async def test_an_absolute_write_is_retried_after_a_429(memory: Memory) -> None:
    memory.server.inject(Fault(kind="rate_limit", operation="set_allocation", calls=[1]))
    change = await memory.provider.apply_addon(memory.tenant, "storage_gb", 5)
    assert change.outcome is Outcome.CHANGED
    assert [r.status for r in memory.server.calls("set_allocation")] == [429, 200]


async def test_a_create_is_not_retried(memory: Memory) -> None:
    memory.server.inject(Fault(kind="status", status=503, operation="create_mailbox"))
    with pytest.raises(errors.Unavailable):
        await memory.provider.create_mailbox(memory.tenant, SHARED)
    assert len(memory.server.calls("create_mailbox")) == 1


async def test_a_dropped_read_is_retried(memory: Memory) -> None:
    memory.server.inject(Fault(kind="drop", operation="list_plans", calls=[1]))
    assert len(await memory.provider.list_plans()) == 3
    assert [r.status for r in memory.server.calls("list_plans")] == [None, 200]


async def test_a_malformed_answer_is_a_protocol_error(memory: Memory) -> None:
    memory.server.inject(Fault(kind="malformed", operation="get_licence"))
    with pytest.raises(errors.ProtocolError, match="could not be read"):
        await memory.provider.get_licence()


async def test_a_truncated_answer_is_a_protocol_error(memory: Memory) -> None:
    memory.server.inject(Fault(kind="truncate", operation="list_mailboxes"))
    with pytest.raises(errors.ProtocolError):
        await memory.provider.count_mailboxes(memory.tenant)
