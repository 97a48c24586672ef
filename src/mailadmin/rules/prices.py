"""What a licence order costs, where the host configures the price (seed 002).

Seed 002 says the store "will calculate and display" the cost of each licence order and
shows it with the order; it states how, never how much: an upgrade costs "the additional
mailboxes for the remainder of the life of your current licence", a renewal the extended
period, and lapsed maintenance "the whole period missed, beginning with the expiration
date". The amounts are the host's (``[policies.prices]``); without one, an order carries
no cost rather than an invented one.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Cost", "Prices", "licence_upgrade_cost", "maintenance_cost", "period_cost"]

Price = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=4)]
_YEAR = Decimal(365)
_CENT = Decimal("0.01")


class Prices(BaseModel):
    """The host's prices (``[policies.prices]``), per licensed mailbox and year."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str = Field(default="", max_length=8)
    #: A licensed mailbox for a year (upgrades pro rata, renewals by the days added).
    licence_mailbox_year: Price | None = None
    #: A year of the maintenance service for one licensed mailbox.
    maintenance_mailbox_year: Price | None = None


class Cost(BaseModel):
    """An order's cost and how it was reached (shown with the order)."""

    model_config = ConfigDict(frozen=True)

    amount: str
    currency: str
    basis: str


def _cost(amount: Decimal, prices: Prices, basis: str) -> Cost:
    return Cost(
        amount=str(amount.quantize(_CENT, rounding=ROUND_HALF_UP)),
        currency=prices.currency,
        basis=basis,
    )


def period_cost(
    price: Decimal | None, prices: Prices, mailboxes: int, start: date, end: date
) -> Cost | None:
    """``mailboxes`` x ``price`` a year, for the days from ``start`` to ``end``."""
    if price is None or end <= start:
        return None
    days = (end - start).days
    amount = price * mailboxes * days / _YEAR
    return _cost(
        amount,
        prices,
        f"{mailboxes} mailboxes x {price} a year x {days}/365 days "
        f"({start.isoformat()} to {end.isoformat()})",
    )


def licence_upgrade_cost(
    prices: Prices, added: int, today: date, expires: date | None
) -> Cost | None:
    """Seed 002: the added mailboxes "for the remainder of the life of your current
    licence" (none without an expiry or a price)."""
    if expires is None:
        return None
    return period_cost(prices.licence_mailbox_year, prices, added, today, expires)


def maintenance_cost(prices: Prices, mailboxes: int, start: date, end: date) -> Cost | None:
    """Seed 002: maintenance from its end (the expiration date, when lapsed) to the new
    end, for every licensed mailbox."""
    return period_cost(prices.maintenance_mailbox_year, prices, mailboxes, start, end)
