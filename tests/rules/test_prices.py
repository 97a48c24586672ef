"""Seed 002's costs of licence orders, with the host's prices (``[policies.prices]``).

The seed says how a cost is reached, never how much: the added mailboxes for the rest of
the licence's life, the days a renewal adds, and lapsed maintenance from its expiry date.
Without a configured price an order carries no cost.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from mailadmin import Orchestrator
from mailadmin.mock import MockServer
from mailadmin.reference.mock import MemoryMock

#: Ten licensed mailboxes, the licence valid to 2027-12-31, maintenance to 2027-06-30.
SEED = {
    "licence": {
        "seats": 10,
        "state": "active",
        "valid_from": "2027-01-01T00:00:00Z",
        "valid_until": "2027-12-31T00:00:00Z",
        "maintenance_until": "2027-06-30T00:00:00Z",
    }
}
PRICES = {"currency": "EUR", "licence_mailbox_year": "36.50", "maintenance_mailbox_year": "7.30"}


def _orch(tmp_path: Path, prices: dict | None, **instance_prices) -> Orchestrator:
    server = MockServer(MemoryMock, seed=SEED)
    policies: dict = {}
    if prices is not None:
        policies["prices"] = prices
    if instance_prices:
        policies["instances"] = {"eu": {"prices": instance_prices}}
    config = {
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "retries": 0,
            }
        },
        "journal": {"url": f"sqlite:///{tmp_path / 'store.sqlite'}"},
        "policies": policies,
    }
    return Orchestrator.from_dict(config, http={"eu": server.router("http://memory.test")})


@pytest.mark.parametrize(
    ("today", "missed", "amount"),
    [
        # Valid: one year runs on from 2027-06-30 (366 days, 2028 is a leap year).
        (date(2027, 6, 29), 0, "73.20"),
        (date(2027, 6, 30), 0, "73.20"),
        # Lapsed a day: still paid from 2027-06-30, the day missed included.
        (date(2027, 7, 1), 1, "73.20"),
    ],
)
async def test_maintenance_is_priced_from_its_end_missed_days_included(
    tmp_path: Path, today: date, missed: int, amount: str
) -> None:
    async with _orch(tmp_path, PRICES) as orch:
        orch.rules.today = lambda: today
        order = await orch.rules.order_maintenance("eu", 1)
    assert order.detail["missed_days"] == missed
    # 10 mailboxes x 7.30 a year x 366/365 days, from 2027-06-30 to 2028-06-30.
    assert order.detail["cost"] == {
        "amount": amount,
        "currency": "EUR",
        "basis": "10 mailboxes x 7.30 a year x 366/365 days (2027-06-30 to 2028-06-30)",
    }


async def test_a_licence_upgrade_costs_the_rest_of_the_licences_life(tmp_path: Path) -> None:
    async with _orch(tmp_path, PRICES) as orch:
        orch.rules.today = lambda: date(2027, 7, 4)  # 180 days before 2027-12-31
        order = await orch.rules.order_licence_upgrade("eu", 5)
    assert (order.detail["total"], order.detail["until"]) == (15, "2027-12-31")
    # 5 x 36.50 x 180 / 365 = 90.00
    assert order.detail["cost"]["amount"] == "90.00"


async def test_a_licence_renewal_costs_the_days_it_adds(tmp_path: Path) -> None:
    async with _orch(tmp_path, PRICES) as orch:
        orch.rules.today = lambda: date(2027, 7, 4)
        order = await orch.rules.order_licence_renewal("eu", date(2028, 12, 30))
    # From 2027-12-31 to 2028-12-30: 365 days, 10 x 36.50 = 365.00
    assert order.detail["cost"]["amount"] == "365.00"


async def test_without_a_price_an_order_carries_no_cost(tmp_path: Path) -> None:
    async with _orch(tmp_path, None) as orch:
        orch.rules.today = lambda: date(2027, 7, 4)
        maintenance = await orch.rules.order_maintenance("eu", 1)
        orch.rules.orders.confirm(maintenance.id)
        upgrade = await orch.rules.order_licence_upgrade("eu", 5)
    assert "cost" not in maintenance.detail and "cost" not in upgrade.detail


async def test_an_instance_prices_only_what_it_names(tmp_path: Path) -> None:
    async with _orch(
        tmp_path,
        {"currency": "EUR", "licence_mailbox_year": "36.50"},
        maintenance_mailbox_year="3.65",
    ) as orch:
        orch.rules.today = lambda: date(2027, 7, 4)
        settings = orch.rules.settings_for("eu")
    assert settings.prices.currency == "EUR"
    assert str(settings.prices.licence_mailbox_year) == "36.50"
    assert str(settings.prices.maintenance_mailbox_year) == "3.65"


def test_a_negative_price_is_refused() -> None:
    from pydantic import ValidationError

    from mailadmin.rules.policies import PoliciesConfig

    with pytest.raises(ValidationError):
        PoliciesConfig.model_validate({"prices": {"licence_mailbox_year": "-1"}})


@pytest.mark.parametrize(
    ("today", "said"),
    [
        (date(2027, 6, 29), "valid"),
        (date(2027, 6, 30), "valid"),  # its last day
        (date(2027, 7, 1), "lapsed 1 days"),
    ],
)
async def test_the_licences_report_says_whether_maintenance_is_valid(
    tmp_path: Path, today: date, said: str
) -> None:
    from mailadmin.reports import licences

    async with _orch(tmp_path, None) as orch:
        orch.rules.today = lambda: today
        (row,) = await licences.build(orch)
    assert (row.maintenance_until, row.maintenance) == (date(2027, 6, 30), said)
