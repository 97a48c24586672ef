"""What the reports find becomes an event, once per finding: an over-use (every platform),
a licence not compliant and one ending soon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mailadmin import MailboxKind
from mailadmin.mock import MockServer
from mailadmin.orchestration.events import Webhooks
from mailadmin.reference.mock import MemoryMock
from mailadmin.reports import licences, usage
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import Platform


async def test_an_over_use_found_is_one_event_until_its_figures_change(platform: Platform) -> None:
    orch = platform.orch
    tenancy = orch.rules.tenancy
    users = (await orch.count_mailboxes(platform.tenant)).of(MailboxKind.USER)
    tenancy.add_reseller("acme", ResellerSpec(prepaid=True, may_oversell=True))
    tenancy.add_customer(
        platform.tenant,
        CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: users - 1}),
    )
    hooks = Webhooks(orch.rules.store)
    assert [e for e in hooks.events() if e.kind == "usage.over_use"] == []
    await usage.build(orch, reseller="acme")
    await usage.build(orch, reseller="acme")  # the same finding again: no new event
    (found,) = [e for e in hooks.events() if e.kind == "usage.over_use"]
    assert found.data["subscription"] == platform.tenant
    assert (found.data["allocated"], found.data["utilised"], found.data["over_use"]) == (
        users - 1,
        users,
        1,
    )
    # Allocated two fewer: a new figure, a new event.
    assert users >= 2, "every platform's seed has two user mailboxes or more"
    tenancy.save_customer(
        platform.tenant,
        CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: users - 2}),
    )
    await usage.build(orch, reseller="acme")
    over = [e.data["over_use"] for e in hooks.events() if e.kind == "usage.over_use"]
    assert over == [1, 2]


async def test_a_licence_not_compliant_and_ending_soon_are_events_once() -> None:
    from mailadmin import Orchestrator

    started = datetime.now(UTC) - timedelta(days=20)
    seed = {"licence": {"seats": 2, "state": "trial", "valid_from": started.isoformat()}}
    server = MockServer(MemoryMock, seed=seed)
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "journal": {"url": "sqlite://"},
        "policies": {"instances": {"eu": {"per_mailbox_licence": True}}},
    }
    orch = Orchestrator.from_dict(config, http={"eu": server.router("http://memory.test")})
    try:
        await licences.build(orch)
        await licences.build(orch)
        found = Webhooks(orch.rules.store).events()
    finally:
        await orch.aclose()
    assert sorted(e.kind for e in found) == ["licence.expiring", "licence.non_compliant"]
    assert all(e.data["instance"] == "eu" for e in found)
    expiring = next(e for e in found if e.kind == "licence.expiring")
    assert expiring.data["days_left"] == 10
