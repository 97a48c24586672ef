"""The one call pipeline, through the Python face, on every platform: each defect that
lived between two copies of the write order (issue: one call pipeline) has its test here;
the HTTP and CLI faces are in tests/api/test_pipeline_faces.py."""

from __future__ import annotations

import pytest

from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, NewMailbox, Outcome
from mailadmin.orchestration.pipeline import DEFAULT_STEPS
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import OTHER, Platform


def _creatable_kind(p: Platform) -> MailboxKind:
    for kind in (MailboxKind.SHARED, MailboxKind.USER, MailboxKind.ROOM):
        if p.capabilities.supports(f"create_mailbox:{kind.value}"):
            return kind
    pytest.skip(f"{p.name} creates no mailboxes")


def test_the_steps_are_in_the_documented_order() -> None:
    assert [step.name for step in DEFAULT_STEPS] == [
        "identify",
        "validate",
        "route",
        "hold",
        "policy",
        "intend",
        "send",
        "record",
    ]


def test_the_architecture_page_shows_the_steps_in_the_pipelines_order() -> None:
    import re
    from pathlib import Path

    page = Path(__file__).parents[2] / "docs" / "architecture.md"
    shown = re.findall(r"^ (\d) (\w+) ", page.read_text(encoding="utf-8"), flags=re.M)
    assert [name for _, name in shown] == [step.name for step in DEFAULT_STEPS]
    assert [int(n) for n, _ in shown] == list(range(1, len(DEFAULT_STEPS) + 1))


@pytest.mark.parametrize("identity", ["site-admin", "reseller:acme", "customer"])
async def test_a_mailbox_of_another_tenants_domain_is_refused_before_sending(
    platform: Platform, identity: str
) -> None:
    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme"))
    if identity == "customer":
        identity = f"customer:{platform.tenant}"
    kind = _creatable_kind(platform)
    orch = platform.orch.acting_as(identity)
    platform.server.clear_requests()
    for address in (f"yuri@{OTHER}", "ceo@victim.test"):
        with pytest.raises(errors.ValidationError) as caught:
            await orch.create_mailbox(platform.tenant, NewMailbox(address=address, kind=kind))
        assert f"is not an address of customer '{platform.tenant}'" in str(caught.value)
    assert platform.server.requests == []  # not even a read
    listed = await platform.orch.provider(platform.orch.instances[0]).list_mailboxes(
        platform.orch.config.tenant_ref(platform.tenant)
    )
    assert not [m for m in listed if m.address.startswith(("yuri@", "ceo@"))]


async def test_creating_what_exists_is_unchanged_on_every_platform(platform: Platform) -> None:
    kind = _creatable_kind(platform)
    new = NewMailbox(address=f"twice@{platform.tenant}", kind=kind)
    first = await platform.orch.create_mailbox(platform.tenant, new)
    assert first.outcome in (Outcome.CHANGED, Outcome.ACCEPTED)
    writes = len(platform.writes())
    again = await platform.orch.create_mailbox(platform.tenant, new)
    assert again.outcome is Outcome.UNCHANGED
    assert again.after is not None and again.after.address == new.address
    listed = await platform.orch.list_mailboxes(platform.tenant)
    assert [m.address for m in listed].count(new.address) == 1
    # The journal says so too.
    journal = platform.orch.journal
    assert journal is not None
    rows = [e for e in journal.entries(limit=10) if e.subject == new.address]
    assert rows[0].outcome == "unchanged"
    assert len(platform.writes()) - writes <= 1  # at most the platform's refused attempt


async def test_an_unknown_identity_is_refused_everywhere(platform: Platform) -> None:
    orch = platform.orch.acting_as("reseller:nope")
    platform.server.clear_requests()
    with pytest.raises(errors.ValidationError, match="No reseller 'nope'"):
        await orch.count_mailboxes(platform.tenant)
    with pytest.raises(errors.ValidationError, match="No reseller 'nope'"):
        await orch.set_plan(platform.users[0], "sync")
    with pytest.raises(errors.ValidationError, match="No reseller 'nope'"):
        await orch.count_all()
    assert platform.server.requests == []


async def test_a_reseller_counts_what_it_reaches_and_only_that(platform: Platform) -> None:
    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme"))
    result = await platform.orch.acting_as("reseller:acme").count_all()
    assert [item.key for item in result.items] == [platform.tenant]
    assert result.failed == 0
    journal = platform.orch.journal
    assert journal is not None
    assert not [e for e in journal.entries(limit=50) if e.status == "refused"]


async def test_an_unsupported_operation_is_refused_before_anything_is_sent(
    platform: Platform,
) -> None:
    unsupported = [
        key for key in platform.capabilities.unsupported if key.startswith("create_mailbox:")
    ]
    if not unsupported:
        pytest.skip(f"{platform.name} creates every kind of mailbox")
    kind = MailboxKind(unsupported[0].split(":", 1)[1])
    platform.server.clear_requests()
    with pytest.raises(errors.UnsupportedOperation):
        await platform.orch.create_mailbox(
            platform.tenant, NewMailbox(address=f"x@{platform.tenant}", kind=kind)
        )
    assert platform.server.requests == []


async def test_a_seat_order_past_the_resellers_allocation_is_refused_before_sending(
    platform: Platform,
) -> None:
    if not platform.capabilities.supports("addon:mailboxes"):
        pytest.skip(f"{platform.name} holds no seat total")
    rules = platform.orch.rules
    rules.tenancy.add_reseller("acme", ResellerSpec(package={Resource.USER_MAILBOXES: 50}))
    rules.tenancy.add_customer(
        platform.tenant,
        CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: 15}),
    )
    rules.tenancy.add_customer(
        OTHER, CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: 25})
    )
    order = rules.place_order(platform.tenant, "seat_upgrade", {"add": 15})  # 15 + 15 = 30
    rules.orders.confirm(order.id)
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied, match="allocated 50 user mailboxes"):
        await rules.apply_order(order.id)
    assert platform.writes() == []  # the platform's seat limit was not touched
    assert rules.orders.get(order.id).state.value == "paid"
    journal = platform.orch.journal
    assert journal is not None
    changed = [e for e in journal.entries(limit=20) if e.outcome == "changed"]
    assert changed == []


async def test_one_addon_model_an_addon_total_is_the_allocation_creation_checks(
    platform: Platform,
) -> None:
    if not platform.capabilities.supports("create_mailbox:shared"):
        pytest.skip(f"{platform.name} creates no shared mailboxes")
    orch, tenant = platform.orch, platform.tenant
    used = (await orch.count_mailboxes(tenant)).by_kind.get(MailboxKind.SHARED, 0)
    orch.rules.tenancy.add_customer(tenant, CustomerSpec(package={Resource.SHARED_MAILBOXES: used}))
    result = await orch.apply_addon(tenant, "shared_mailbox", used + 1)
    assert result.after == used + 1
    assert orch.rules.tenancy.allocation("customer", tenant)[Resource.SHARED_MAILBOXES] == used + 1
    # The add-on's one more shared mailbox can be created; the next is past the allocation.
    made = await orch.create_mailbox(
        tenant, NewMailbox(address=f"shared-a@{tenant}", kind=MailboxKind.SHARED)
    )
    assert made.changed
    with pytest.raises((errors.PolicyDenied, errors.QuotaExceeded)):
        await orch.create_mailbox(
            tenant, NewMailbox(address=f"shared-b@{tenant}", kind=MailboxKind.SHARED)
        )
    listed = await orch.provider(orch.instances[0]).list_mailboxes(orch.config.tenant_ref(tenant))
    assert f"shared-a@{tenant}" in {m.address for m in listed}
    assert f"shared-b@{tenant}" not in {m.address for m in listed}


async def test_selling_an_addon_never_lowers_a_total_set_before(platform: Platform) -> None:
    from mailadmin.rules.sales import BulkSale

    if not platform.capabilities.supports("addon:mailboxes"):
        pytest.skip(f"{platform.name} holds no seat total")
    orch, tenant = platform.orch, platform.tenant
    used = (await orch.count_mailboxes(tenant)).by_kind.get(MailboxKind.USER, 0)
    orch.rules.tenancy.add_customer(
        tenant, CustomerSpec(package={Resource.USER_MAILBOXES: used + 15})
    )
    await orch.apply_addon(tenant, "mailboxes", used + 20)
    report = await orch.runs.sell(
        BulkSale(addon="mailboxes", quantity=5, to="customers", owner="all")
    )
    assert report.summary["failed"] == 0, report
    held = await orch.apply_addon(tenant, "mailboxes", used + 20, dry_run=True)
    assert held.outcome is Outcome.UNCHANGED  # the platform still holds used + 20
    assert orch.rules.tenancy.allocation("customer", tenant)[Resource.USER_MAILBOXES] == used + 20


async def test_a_seat_order_below_the_mailboxes_in_use_is_refused(platform: Platform) -> None:
    if not platform.capabilities.supports("addon:mailboxes"):
        pytest.skip(f"{platform.name} holds no seat total")
    rules, tenant = platform.orch.rules, platform.tenant
    used = (await platform.orch.count_mailboxes(tenant)).by_kind.get(MailboxKind.USER, 0)
    assert used >= 2
    rules.tenancy.add_customer(tenant)
    order = rules.place_order(tenant, "seat_upgrade", {"add": used - 1})  # 0 + (used - 1)
    rules.orders.confirm(order.id)
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied) as caught:
        await rules.apply_order(order.id)
    assert caught.value.reason == "below_use"
    assert platform.writes() == []


def test_a_declared_customer_keeps_what_mailadmin_changed_in_the_next_process(
    tmp_path,
) -> None:
    from mailadmin import Orchestrator

    def config(package: int) -> dict:
        return {
            "plans": {"mail": {"rank": 1}},
            "instances": {
                "eu": {
                    "provider": "memory",
                    "endpoint": "http://memory.test",
                    "credentials": {"username": "a", "secret": "s"},
                    "plans": {"mail": {"native": "basic"}},
                }
            },
            "tenants": {"example.com": {"instance": "eu"}},
            "customers": {"example.com": {"package": {"user_mailboxes": package}}},
            "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        }

    first = Orchestrator.from_dict(config(10))
    rules = first.rules
    assert rules.tenancy.allocation("customer", "example.com") == {Resource.USER_MAILBOXES: 10}
    # Until mailadmin changes it, the file wins: an edit of the file is taken.
    first.journal.close()
    second = Orchestrator.from_dict(config(12))
    tenancy = second.rules.tenancy
    assert tenancy.allocation("customer", "example.com") == {Resource.USER_MAILBOXES: 12}
    tenancy.save_customer(
        "example.com", CustomerSpec(package={Resource.USER_MAILBOXES: 20})
    )  # an order applied
    second.journal.close()
    # The next process: the store's record is kept, whatever the file still says.
    third = Orchestrator.from_dict(config(12))
    assert third.rules.tenancy.allocation("customer", "example.com") == {
        Resource.USER_MAILBOXES: 20
    }
    third.journal.close()


@pytest.mark.parametrize(("quantity", "refused"), [(9999, False), (10000, True)])
async def test_the_9999_cap_binds_the_site_admins_addon_total(
    platform: Platform, quantity: int, refused: bool
) -> None:
    """Seed 003's "up-to 9999" holds on every path, the site admin's apply_addon too."""
    addon, resource = platform.settable_addon()
    rules = platform.orch.rules
    platform.server.clear_requests()
    if refused:
        with pytest.raises(errors.PolicyDenied) as caught:
            await platform.orch.apply_addon(platform.tenant, addon, quantity)
        assert caught.value.reason == "allocation_limit"
        assert str(caught.value).endswith("the most is 9999")
        assert platform.writes() == []
        assert Resource(resource) not in rules.tenancy.allocation("customer", platform.tenant)
    else:
        result = await platform.orch.apply_addon(platform.tenant, addon, quantity, dry_run=True)
        assert result.after == quantity
