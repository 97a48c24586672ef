"""Bulk add-on sales (seed 003): quantity, only over quota, not when already sold, a copy under
the reseller; dry run, progress, per-item results and a summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailadmin import MailboxKind, Orchestrator
from mailadmin.rules.sales import BulkSale, SaleOutcome
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import OTHER, Platform

S, R = Resource.SHARED_MAILBOXES, Resource.RESOURCE_MAILBOXES


@pytest.fixture
def orch(tmp_path: Path) -> Orchestrator:
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {name: {"instance": "eu"} for name in ("a.test", "b.test")},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    return Orchestrator.from_dict(config)


async def test_seed_003_sell_to_resellers_with_a_copy_under_each(orch: Orchestrator) -> None:
    tenancy = orch.rules.tenancy
    for name in ("acme", "globex", "initech"):
        tenancy.add_reseller(name)
    tenancy.sell("reseller", "globex", "resource_mailbox", 10)
    seen: list[tuple[int, int, str]] = []
    # The seed's settings: un-check "only over quota", check "do not sell when already sold",
    # check "create copy under reseller".
    sale = BulkSale(
        addon="resource_mailbox",
        quantity=9999,
        to="resellers",
        skip_already_sold=True,
        copy_under_reseller=True,
    )
    report = await orch.runs.sell(
        sale, progress=lambda done, total, key: seen.append((done, total, key))
    )
    assert [(i.name, i.outcome, i.reason) for i in report.items] == [
        ("acme", SaleOutcome.SOLD, ""),
        ("globex", SaleOutcome.SKIPPED, "already sold"),
        ("initech", SaleOutcome.SOLD, ""),
    ]
    assert report.summary == {"sold": 2, "skipped": 1, "failed": 0}
    assert seen == [(1, 3, "acme"), (2, 3, "globex"), (3, 3, "initech")]
    (copy,) = tenancy.sales("reseller", "acme")
    assert (copy.addon, copy.copy_of, copy.quantity) == (
        "resource_mailbox@acme",
        "resource_mailbox",
        9999,
    )
    assert tenancy.allocation("reseller", "acme") == {R: 9999}
    # Shared mailboxes stay apart: a second add-on, sold the same way.
    shared = sale.model_copy(update={"addon": "shared_mailbox"})
    again = await orch.runs.sell(shared)
    assert again.summary["sold"] == 3
    assert tenancy.allocation("reseller", "acme") == {R: 9999, S: 9999}


async def test_failures_are_items_with_their_reason(orch: Orchestrator) -> None:
    tenancy = orch.rules.tenancy
    tenancy.add_reseller("acme", ResellerSpec(package={S: 2}))
    tenancy.add_customer("a.test", CustomerSpec(reseller="acme"))
    report = await orch.runs.sell(
        BulkSale(addon="shared_mailbox", quantity=1, to="resellers", resellers=("ghost", "acme")),
    )
    assert [(i.name, i.outcome) for i in report.items] == [
        ("ghost", SaleOutcome.FAILED),
        ("acme", SaleOutcome.SOLD),
    ]
    assert report.items[0].reason == "Unknown reseller 'ghost'"
    # Beyond the reseller's allocation (2 + 1): the customer's item fails, the rest goes on.
    customers = await orch.runs.sell(
        BulkSale(addon="shared_mailbox", quantity=5, to="customers", owner="acme")
    )
    assert customers.items[0].outcome is SaleOutcome.FAILED
    assert customers.items[0].reason == (
        "Reseller 'acme' is allocated 3 shared mailboxes; its customers would have 5"
    )
    assert not customers.ok


async def test_seed_003_sell_to_the_customers_of_all_owners(platform: Platform) -> None:
    orch, tenancy = platform.orch, platform.orch.rules.tenancy
    tenancy.add_reseller("acme")
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme", package={R: 2}))
    tenancy.add_customer(OTHER)  # the host's own customer, already sold
    tenancy.sell("customer", OTHER, "resource_mailbox", 1)
    platform.server.clear_requests()
    # The seed: owner All, quantity 1, "do not sell when already sold", not only over quota.
    sale = BulkSale(addon="resource_mailbox", quantity=1, to="customers", skip_already_sold=True)

    preview = await orch.runs.sell(sale, dry_run=True)
    assert preview.dry_run and [(i.name, i.outcome) for i in preview.items] == [
        (platform.tenant, SaleOutcome.SOLD),
        (OTHER, SaleOutcome.SKIPPED),
    ]
    assert platform.writes() == []
    assert tenancy.sales("customer", platform.tenant) == []

    report = await orch.runs.sell(sale)
    assert report.summary == {"sold": 1, "skipped": 1, "failed": 0}
    assert tenancy.allocation("customer", platform.tenant) == {R: 3}
    # The platform (or, where it sets no such limit, mailadmin's kept allocation) now
    # holds the new total: 2 from the package + 1 add-on.
    kept = orch.allocations.get(orch.instances[0], platform.tenant, "resource_mailbox")
    if kept is None:
        assert len(platform.writes()) == 1
    else:
        assert kept == 3 and platform.writes() == []


async def test_seed_003_sell_only_to_those_over_quota(platform: Platform) -> None:
    orch, tenancy = platform.orch, platform.orch.rules.tenancy
    counts = await orch.count_mailboxes(platform.tenant)
    users = counts.of(MailboxKind.USER)
    # Every user mailbox it is allocated is in use: over quota.
    tenancy.add_customer(platform.tenant, CustomerSpec(package={Resource.USER_MAILBOXES: users}))
    sale = BulkSale(addon="mailboxes", quantity=5, to="customers", only_over_quota=True)
    report = await orch.runs.sell(sale)
    assert [(i.name, i.outcome) for i in report.items] == [(platform.tenant, SaleOutcome.SOLD)]
    assert tenancy.allocation("customer", platform.tenant)[Resource.USER_MAILBOXES] == users + 5
    # Now 5 are free (from the live count): not over quota any more.
    again = await orch.runs.sell(sale.model_copy(update={"quantity": 9}))
    assert [(i.outcome, i.reason) for i in again.items] == [(SaleOutcome.SKIPPED, "not over quota")]


async def test_a_reseller_sells_only_to_its_own_customers(orch: Orchestrator) -> None:
    from mailadmin.contract import errors

    tenancy = orch.rules.tenancy
    tenancy.add_reseller("acme", ResellerSpec(prepaid=True, may_oversell=True))
    tenancy.add_reseller("globex")
    tenancy.add_customer("a.test", CustomerSpec(reseller="acme"))
    tenancy.add_customer("b.test", CustomerSpec(reseller="globex"))
    with orch.acting_as("reseller:acme"):
        report = await orch.runs.sell(
            BulkSale(addon="shared_mailbox", quantity=2, to="customers"), dry_run=True
        )
        assert [i.name for i in report.items] == ["a.test"]  # "all" means its own
        for sale in (
            BulkSale(addon="shared_mailbox", quantity=2, to="customers", owner="globex"),
            BulkSale(addon="shared_mailbox", quantity=2, to="resellers"),
        ):
            with pytest.raises(errors.PolicyDenied) as caught:
                await orch.runs.sell(sale)
            assert caught.value.reason == "cross_boundary"
    # The run service of an acting view acts as its identity too.
    with pytest.raises(errors.PolicyDenied) as caught:
        await orch.acting_as("reseller:acme").runs.sell(
            BulkSale(addon="shared_mailbox", quantity=2, to="resellers")
        )
    assert caught.value.reason == "cross_boundary"
    with orch.acting_as("customer:a.test"), pytest.raises(errors.PolicyDenied):
        await orch.runs.sell(BulkSale(addon="shared_mailbox", quantity=2, to="customers"))


@pytest.mark.parametrize(
    ("quantity", "accepted"), [(0, True), (1, True), (9999, True), (10000, False), (99999, False)]
)
def test_seed_003_a_sale_quantity_up_to_the_cap_and_the_seeds_99999_explained(
    quantity: int, accepted: bool
) -> None:
    from pydantic import ValidationError

    from mailadmin.rules.sales import BulkSale

    if accepted:
        assert (
            BulkSale(addon="shared_mailbox", quantity=quantity, to="resellers").quantity == quantity
        )
        return
    with pytest.raises(ValidationError) as caught:
        BulkSale(addon="shared_mailbox", quantity=quantity, to="resellers")
    assert "seed 003's bulk form sells 99999 to mean as many as the add-on holds" in str(
        caught.value
    )
