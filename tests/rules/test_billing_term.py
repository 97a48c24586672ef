"""Seeds 001 and 002: each customer's own billing cycle (renewal date and term).

The policy's ``renewal_term_months`` (12) is the default; a customer's own ``term_months``
wins, and the downgrade window (15 to 30 days before the renewal) and the renewals report
follow the customer's next renewal.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.reports import renewals
from mailadmin.rules.tenancy import CustomerSpec

#: Renewed on 2027-01-31; a quarterly customer's next renewal is 2027-04-30: its window
#: opens 2027-03-31 and closes 2027-04-15. A yearly one's is 2028-01-31.
RECORDED = date(2027, 1, 31)


@pytest.fixture
async def orch(tmp_path: Path):
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {name: {"instance": "eu"} for name in ("a.test", "b.test")},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    async with Orchestrator.from_dict(config) as built:
        built.rules.tenancy.add_reseller("acme")
        built.rules.tenancy.add_customer(
            "a.test", CustomerSpec(reseller="acme", renewal=RECORDED, term_months=3)
        )
        built.rules.tenancy.add_customer("b.test", CustomerSpec(renewal=RECORDED))
        yield built


@pytest.mark.parametrize(
    ("today", "accepted"),
    [
        (date(2027, 3, 30), False),  # the day before the window opens
        (date(2027, 3, 31), True),  # it opens
        (date(2027, 4, 15), True),  # it closes
        (date(2027, 4, 16), False),  # the day after
    ],
)
async def test_a_quarterly_customer_downgrades_in_the_window_of_its_own_next_renewal(
    orch: Orchestrator, today: date, accepted: bool
) -> None:
    orch.rules.today = lambda: today
    if accepted:
        order = orch.rules.place_order("a.test", "plan_downgrade", {})
        assert order.kind == "plan_downgrade"
    else:
        with pytest.raises(errors.PolicyDenied) as caught:
            orch.rules.place_order("a.test", "plan_downgrade", {})
        assert caught.value.reason == "downgrade_window"
        assert "before the renewal on 2027-04-30" in caught.value.message
    # The yearly customer with the same recorded date is a year away: refused each day.
    with pytest.raises(errors.PolicyDenied) as yearly:
        orch.rules.place_order("b.test", "plan_downgrade", {})
    assert "before the renewal on 2028-01-31" in yearly.value.message


async def test_the_renewals_report_follows_each_customers_term(orch: Orchestrator) -> None:
    orch.rules.today = lambda: date(2027, 4, 1)
    rows = {r.subject: r for r in await renewals.build(orch)}
    assert (rows["a.test"].renewal, rows["a.test"].term, rows["a.test"].window) == (
        date(2027, 4, 30),
        3,
        "open",
    )
    assert (rows["b.test"].renewal, rows["b.test"].term, rows["b.test"].window) == (
        date(2028, 1, 31),
        12,
        "upcoming",
    )


async def test_term_0_keeps_the_recorded_date_and_the_policy_is_the_default(
    orch: Orchestrator,
) -> None:
    from mailadmin.rules.policies import PoliciesConfig

    orch.rules.today = lambda: date(2027, 3, 5)
    orch.rules.set_billing("a.test", term_months=0)
    # No cycle: the renewal passed, so there is none to come.
    assert "a.test" not in {r.subject for r in await renewals.build(orch)}
    # A quarterly policy moves the customers without a term of their own, not the others.
    orch.rules.policies = PoliciesConfig(renewal_term_months=3)
    orch.rules.set_billing("a.test", term_months=1)
    rows = {r.subject: r for r in await renewals.build(orch)}
    assert (rows["a.test"].renewal, rows["b.test"].renewal) == (
        date(2027, 3, 31),
        date(2027, 4, 30),
    )
    assert rows["b.test"].term == 3


async def test_set_billing_keeps_what_is_not_given_and_survives_an_applied_order(
    orch: Orchestrator,
) -> None:
    rules = orch.rules
    changed = rules.set_billing("a.test", renewal=date(2027, 6, 30))
    assert (changed.renewal, changed.term_months) == (date(2027, 6, 30), 3)
    assert rules.tenancy.customer("a.test") == changed
    preview = rules.set_billing("a.test", term_months=6, dry_run=True)
    assert preview.term_months == 6 and rules.tenancy.customer("a.test").term_months == 3
    order = rules.place_order("a.test", "plan_upgrade", {"package": {"shared_mailboxes": 2}})
    rules.orders.confirm(order.id)
    await rules.apply_order(order.id)
    kept = rules.tenancy.customer("a.test")
    assert (kept.renewal, kept.term_months) == (date(2027, 6, 30), 3)
    for bad in (-1, 121):
        with pytest.raises(errors.ValidationError):
            rules.set_billing("a.test", term_months=bad)
    with pytest.raises(errors.ValidationError):
        rules.set_billing("a.test")


async def test_only_the_seller_sets_a_customers_billing(orch: Orchestrator) -> None:
    with orch.acting_as("reseller:acme"):
        assert orch.rules.set_billing("a.test", term_months=6).term_months == 6
        with pytest.raises(errors.PolicyDenied) as other:
            orch.rules.set_billing("b.test", term_months=3)  # the host's own customer
        assert other.value.reason == "not_permitted"
    with orch.acting_as("customer:a.test"), pytest.raises(errors.PolicyDenied):
        orch.rules.set_billing("a.test", term_months=12)
    assert orch.rules.tenancy.customer("a.test").term_months == 6
    with pytest.raises(errors.NotFoundError):
        orch.rules.set_billing("nobody.test", term_months=1)


async def test_the_configuration_declares_a_term(tmp_path: Path) -> None:
    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {"a.test": {"instance": "eu"}},
        "customers": {"a.test": {"renewal": "2027-01-31", "term_months": 1}},
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
    }
    async with Orchestrator.from_dict(config) as orch:
        assert orch.rules.tenancy.customer("a.test").term_months == 1


async def test_a_resellers_own_term_moves_its_renewal(orch: Orchestrator) -> None:
    from mailadmin.rules.tenancy import ResellerSpec

    orch.rules.tenancy.save_reseller("acme", ResellerSpec(renewal=RECORDED, term_months=6))
    orch.rules.today = lambda: date(2027, 3, 5)
    rows = {(r.kind, r.subject): r for r in await renewals.build(orch)}
    assert (rows["reseller", "acme"].renewal, rows["reseller", "acme"].term) == (
        date(2027, 7, 31),
        6,
    )
