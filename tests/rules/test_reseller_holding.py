"""A reseller sold less than its customers already hold (seed 003: "Prepaid resellers are
permitted to oversell their resources ... The resources oversold are then reported in the
Quota Over Usage report").

The seed's numbers: the reseller's customers hold 9,999 resource mailboxes between them
(9,000 + 999); the reseller is sold 9,999 (exactly what they hold), 9,998 (one below) or 0.
Anyone else than a prepaid reseller that may oversell is refused below it; a prepaid one is
sold it, the oversell recorded and reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.reports import usage
from mailadmin.rules.sales import BulkSale, SaleOutcome
from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

from .conftest import Platform

R, U = Resource.RESOURCE_MAILBOXES, Resource.USER_MAILBOXES
HELD = 9999  # what acme's customers hold: 9,000 + 999


def _config(tmp_path: Path, *, prepaid: bool) -> dict[str, Any]:
    return {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {name: {"instance": "eu"} for name in ("a.test", "b.test")},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        "resellers": {"acme": {"prepaid": prepaid, "may_oversell": prepaid}},
        "customers": {
            "a.test": {"reseller": "acme", "package": {"resource_mailboxes": 9000}},
            "b.test": {"reseller": "acme", "package": {"resource_mailboxes": 999}},
        },
    }


def _sale(quantity: int) -> BulkSale:
    return BulkSale(addon="resource_mailbox", quantity=quantity, to="resellers")


@pytest.mark.parametrize("quantity", [HELD, HELD - 1, 0])
async def test_a_reseller_is_not_sold_less_than_its_customers_hold(
    tmp_path: Path, quantity: int
) -> None:
    orch = Orchestrator.from_dict(_config(tmp_path, prepaid=False))
    tenancy = orch.rules.tenancy
    # A reseller without any resource mailboxes is unlimited: a first sale of fewer than
    # its customers hold would lower it, and is refused like any other.
    first = await orch.runs.sell(_sale(5))
    assert [(i.outcome, i.oversold) for i in first.items] == [(SaleOutcome.FAILED, False)]
    assert tenancy.allocation("reseller", "acme") == {}
    sold = await orch.runs.sell(_sale(HELD))
    assert sold.items[0].outcome is SaleOutcome.SOLD and not sold.items[0].oversold

    preview = await orch.runs.sell(_sale(quantity), dry_run=True)
    report = await orch.runs.sell(_sale(quantity))
    for done in (preview, report):
        (item,) = done.items
        if quantity == HELD:
            assert (item.outcome, item.oversold) == (SaleOutcome.SOLD, False)
        else:
            assert item.outcome is SaleOutcome.FAILED
            assert item.reason == (
                f"Reseller 'acme' would be allocated {quantity} resource mailboxes "
                "(resource_mailbox); its customers hold 9999: lower theirs first, or make "
                "it a prepaid reseller that may oversell"
            )
    # Refused: nothing changed, nothing recorded.
    assert tenancy.allocation("reseller", "acme") == {R: HELD}
    assert tenancy.oversells() == []
    if quantity < HELD:
        with pytest.raises(errors.PolicyDenied) as caught:
            tenancy.sell("reseller", "acme", "resource_mailbox", quantity)
        assert caught.value.reason == "exceeds_parent"
    assert tenancy.allocation("reseller", "acme") == {R: HELD}


@pytest.mark.parametrize("quantity", [HELD, HELD - 1, 0])
async def test_a_prepaid_reseller_sold_less_records_and_reports_the_oversell(
    tmp_path: Path, quantity: int
) -> None:
    config = _config(tmp_path, prepaid=True)
    orch = Orchestrator.from_dict(config)
    tenancy = orch.rules.tenancy
    await orch.runs.sell(_sale(HELD))
    report = await orch.runs.sell(_sale(quantity))
    (item,) = report.items
    assert (item.outcome, item.oversold) == (SaleOutcome.SOLD, quantity < HELD)
    assert tenancy.allocation("reseller", "acme") == {R: quantity}
    recorded = [
        (o.reseller, o.customer, o.resource, o.parent_allocation, o.children_allocation)
        for o in tenancy.oversells("acme")
    ]
    assert recorded == ([] if quantity == HELD else [("acme", "", R, quantity, HELD)])
    orch.journal.close()

    # Later commands still run: the next process loads the same configuration (its
    # declared customers are not written again), lists and sells to a customer (a prepaid
    # reseller's oversell is recorded again, never refused).
    later = Orchestrator.from_dict(config)
    tenancy = later.rules.tenancy
    assert tenancy.allocation("reseller", "acme") == {R: quantity}
    assert [c.name for c in tenancy.customers("acme")] == ["a.test", "b.test"]
    tenancy.sell("customer", "a.test", "resource_mailbox", 1)
    assert tenancy.allocation("customer", "a.test") == {R: 9001}
    later.journal.close()


async def test_a_sale_that_raises_a_short_reseller_is_not_refused(tmp_path: Path) -> None:
    """Only lowering is refused: a reseller already short of its customers (a prepaid one
    that may no longer oversell) may be raised, even if still short, not lowered."""
    orch = Orchestrator.from_dict(_config(tmp_path, prepaid=True))
    tenancy = orch.rules.tenancy
    tenancy.sell("reseller", "acme", "resource_mailbox", 0)
    tenancy.save_reseller("acme", ResellerSpec())
    assert tenancy.sell("reseller", "acme", "resource_mailbox", 5000) == []
    with pytest.raises(errors.PolicyDenied):
        tenancy.sell("reseller", "acme", "resource_mailbox", 4999)
    # A resource its customers do not hold is not held back by the short one.
    assert tenancy.sell("reseller", "acme", "mailboxes", 0) == []
    assert tenancy.allocation("reseller", "acme") == {R: 5000, U: 0}


async def test_the_oversell_row_on_every_platform(platform: Platform) -> None:
    """The reseller row of the usage report beside the platform's own customer rows."""
    orch, tenancy = platform.orch, platform.orch.rules.tenancy
    tenancy.add_reseller("acme", ResellerSpec(prepaid=True, may_oversell=True))
    tenancy.add_customer(platform.tenant, CustomerSpec(reseller="acme", package={R: HELD}))
    platform.server.clear_requests()
    report = await orch.runs.sell(_sale(HELD - 1))
    assert report.items[0].oversold
    assert platform.writes() == []  # a sale to a reseller is mailadmin's record only
    rows = await usage.build(orch, reseller="acme")
    (held,) = [r for r in rows if r.level == "reseller"]
    assert (held.allocated, held.utilised, held.over_use) == (HELD - 1, HELD, 1)
    customer = [r for r in rows if r.subscription == platform.tenant and r.resource is R]
    assert [(r.allocated, r.error) for r in customer] == [(HELD, "")]
