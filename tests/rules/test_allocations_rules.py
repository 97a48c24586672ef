"""Allocations: package + add-ons x quantity, shared and resource apart, capped by the parent,
enforced before a mailbox is created."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.models import MailboxKind, NewMailbox
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import Platform

U, S, R = Resource.USER_MAILBOXES, Resource.SHARED_MAILBOXES, Resource.RESOURCE_MAILBOXES


@pytest.fixture
def tenancy(tmp_path: Path):
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {name: {"instance": "eu"} for name in ("a.test", "b.test", "c.test")},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    return Orchestrator.from_dict(config).rules.tenancy


def test_allocation_is_package_plus_addons_times_quantity(tenancy) -> None:
    tenancy.add_customer("a.test", CustomerSpec(package={U: 3, S: 1}))
    tenancy.sell("customer", "a.test", "mailboxes", 2)
    tenancy.sell("customer", "a.test", "shared_mailbox", 9998)
    assert tenancy.allocation("customer", "a.test") == {U: 5, S: 9999}
    # Selling again sets the add-on's total, it does not add to it.
    tenancy.sell("customer", "a.test", "mailboxes", 4)
    # Shared and resource mailboxes stay apart from user mailboxes (seed 003).
    tenancy.sell("customer", "a.test", "resource_mailbox", 9999)
    assert tenancy.allocation("customer", "a.test") == {U: 7, S: 9999, R: 9999}


def test_no_resource_passes_9999(tenancy) -> None:
    tenancy.add_customer("a.test", CustomerSpec(package={S: 1}))
    with pytest.raises(errors.PolicyDenied) as caught:
        tenancy.sell("customer", "a.test", "shared_mailbox", 9999)
    assert caught.value.reason == "allocation_limit"
    assert "10000" in str(caught.value) and "9999" in str(caught.value)
    assert tenancy.allocation("customer", "a.test") == {S: 1}


def test_customers_are_capped_by_their_reseller(tenancy) -> None:
    tenancy.add_reseller("acme", ResellerSpec(package={U: 10}))
    tenancy.add_customer("a.test", CustomerSpec(reseller="acme", package={U: 6}))
    with pytest.raises(errors.PolicyDenied) as caught:
        tenancy.add_customer("b.test", CustomerSpec(reseller="acme", package={U: 5}))
    assert caught.value.reason == "exceeds_parent"
    assert str(caught.value) == (
        "Reseller 'acme' is allocated 10 user mailboxes; its customers would have 11"
    )
    assert tenancy.customer("b.test") is None
    with pytest.raises(errors.PolicyDenied):
        tenancy.sell("customer", "a.test", "mailboxes", 5)
    # Raising the reseller's own allocation makes room.
    tenancy.sell("reseller", "acme", "mailboxes", 1)
    tenancy.add_customer("b.test", CustomerSpec(reseller="acme", package={U: 5}))
    assert tenancy.oversells() == []


def test_a_prepaid_reseller_may_oversell_and_it_is_recorded(tenancy) -> None:
    tenancy.add_reseller("acme", ResellerSpec(prepaid=True, may_oversell=True, package={U: 10}))
    tenancy.add_customer("a.test", CustomerSpec(reseller="acme", package={U: 8}))
    oversold = tenancy.sell("customer", "a.test", "mailboxes", 4)
    assert [(o.resource, o.parent_allocation, o.children_allocation) for o in oversold] == [
        (U, 10, 12)
    ]
    assert tenancy.oversells("acme") == oversold
    # Prepaid alone is not enough: overselling must be allowed too.
    tenancy.add_reseller("globex", ResellerSpec(prepaid=True, package={U: 1}))
    with pytest.raises(errors.PolicyDenied):
        tenancy.add_customer("b.test", CustomerSpec(reseller="globex", package={U: 2}))


@pytest.mark.parametrize("kind", [MailboxKind.USER, MailboxKind.SHARED, MailboxKind.ROOM])
async def test_creation_beyond_the_allocation_is_refused_before_any_write(
    platform: Platform, kind: MailboxKind
) -> None:
    if not platform.capabilities.supports(f"create_mailbox:{kind.value}"):
        pytest.skip(f"{platform.name} does not create {kind.value} mailboxes")
    orch = platform.orch
    counts = await orch.count_mailboxes(platform.tenant)
    resource = {MailboxKind.USER: U, MailboxKind.SHARED: S, MailboxKind.ROOM: R}[kind]
    used = sum(
        counts.of(k)
        for k in MailboxKind
        if k is kind or (resource is R and k in (MailboxKind.ROOM, MailboxKind.EQUIPMENT))
    )
    orch.rules.tenancy.add_customer(platform.tenant, CustomerSpec(package={resource: used}))
    platform.server.clear_requests()
    new = NewMailbox(address=f"new-{kind.value}@{platform.tenant}", kind=kind)
    with pytest.raises(errors.PolicyDenied) as caught:
        await orch.create_mailbox(platform.tenant, new)
    label = resource.value.replace("_", " ")
    assert caught.value.reason == "allocation_exceeded"
    assert str(caught.value) == (
        f"{platform.tenant} is allocated {used} {label} and uses {used}; "
        "raise its allocation to create another"
    )
    # Only the count was read; nothing was written.
    assert platform.writes() == []
    assert orch.journal is not None
    assert orch.journal.entries(limit=1)[0].error_code == "policy_denied"

    # One more allocated, and the mailbox is created on the platform.
    orch.rules.tenancy.sell("customer", platform.tenant, _addon(resource), 1)
    created = await orch.create_mailbox(platform.tenant, new)
    assert created.after is not None and created.after.kind is kind
    listed = await orch.list_mailboxes(platform.tenant)
    assert new.address in {m.address for m in listed}


def _addon(resource: Resource) -> str:
    return {U: "mailboxes", S: "shared_mailbox", R: "resource_mailbox"}[resource]


async def test_a_reseller_setting_an_addon_total_stays_within_its_allocation(
    platform: Platform,
) -> None:
    addon, name = platform.settable_addon()
    resource = Resource(name)
    tenancy = platform.orch.rules.tenancy
    tenancy.add_reseller("acme", ResellerSpec(package={resource: 20}))
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme", package={resource: 10}))
    as_acme = platform.orch.acting_as("reseller:acme")
    platform.server.clear_requests()
    with pytest.raises(errors.PolicyDenied) as caught:
        await as_acme.apply_addon(platform.tenant, addon, 21)
    assert caught.value.reason == "exceeds_parent"
    assert platform.writes() == []
    result = await as_acme.apply_addon(platform.tenant, addon, 20)
    assert result.after == 20
