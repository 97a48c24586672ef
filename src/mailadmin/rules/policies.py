"""The policies hosts apply when they sell plans and seats, with the seed documents' values.

- Seed 000: a mailbox user may change its own plan only when the mailbox's "allow
  upgrade" switch is on; admins always may. After a self-service change the user must sign
  in again for it to take effect.
- Seed 001: a plan (package) upgrade and a seat upgrade are never in one order; a
  downgrade is accepted only inside a window before the renewal date (15 to 30 days).
- Seed 002: licensed mailboxes >= mailboxes on the server, at least 10; an upgrade states
  the new total (10 + 5 = 15); a trial lasts 30 days.

Each value is a default: ``[policies]`` changes it everywhere, ``[policies.instances.X]``
for one instance and ``[policies.resellers.Y]`` for one reseller's customers.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mailadmin.contract import errors
from mailadmin.contract.capabilities import LicenceModel
from mailadmin.rules.prices import Prices

__all__ = [
    "SELF_SERVICE_DENIED",
    "SIGN_IN_AGAIN",
    "DowngradeWindow",
    "LicenceUpgrade",
    "PoliciesConfig",
    "PolicySettings",
    "check_downgrade",
    "downgrade_window",
    "licence_upgrade",
    "licences_required",
]

#: Seed 000's exact words for a refused self-service plan change.
SELF_SERVICE_DENIED = "You are not allowed to upgrade or downgrade your account."
#: Seed 000: what a self-service change needs before it takes effect.
SIGN_IN_AGAIN = "Sign out and sign in again for the new plan to take effect."

Days = Annotated[int, Field(ge=0, le=3650)]


class PolicySettings(BaseModel):
    """The policy values in force for one instance or reseller."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Seed 000: the "allow upgrade" switch of a mailbox never set by its admin.
    allow_upgrade_default: bool = False
    #: Seed 001: downgrades are accepted from ``[1]`` to ``[0]`` days before the renewal.
    downgrade_window_days: tuple[Days, Days] = (15, 30)
    #: Seed 002: the fewest mailboxes a licence may cover.
    licence_minimum: int = Field(default=10, ge=0)
    #: Seed 002: how long a trial lasts, with every feature.
    trial_days: Days = 30
    #: Seeds 001 and 002: the billing cycle. Renewing extends the service by this many
    #: months, so a recorded renewal date rolls forward a term at a time (0: no cycle,
    #: the date is the one renewal). The default for a customer or reseller whose record
    #: has no ``term_months`` of its own.
    renewal_term_months: int = Field(default=12, ge=0, le=120)
    #: Seed 002: enforce "licensed >= mailboxes" on creation (``None``: as the provider
    #: declares its licence model).
    per_mailbox_licence: bool | None = None
    #: Seed 002: the host's prices of licence orders (none: orders carry no cost).
    prices: Prices = Field(default_factory=Prices)

    @model_validator(mode="after")
    def _window(self) -> PolicySettings:
        nearest, farthest = self.downgrade_window_days
        if nearest > farthest:
            raise ValueError("downgrade_window_days is [nearest, farthest] days before renewal")
        return self

    def term(self, own: int | None) -> int:
        """A customer's billing term in months: its own when recorded, else this policy's."""
        return self.renewal_term_months if own is None else own

    def licenses_per_mailbox(self, model: LicenceModel) -> bool:
        """True when creating a user mailbox must stay within the licence: as this policy
        says, else as the provider's declared licence ``model``."""
        if self.per_mailbox_licence is not None:
            return self.per_mailbox_licence
        return model.per_mailbox


class PolicyOverride(BaseModel):
    """Some policy values for one instance or reseller; the rest come from above."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow_upgrade_default: bool | None = None
    downgrade_window_days: tuple[Days, Days] | None = None
    licence_minimum: int | None = Field(default=None, ge=0)
    trial_days: Days | None = None
    renewal_term_months: int | None = Field(default=None, ge=0, le=120)
    per_mailbox_licence: bool | None = None
    prices: Prices | None = None


class PoliciesConfig(PolicySettings):
    """``[policies]``: defaults, then ``instances`` and ``resellers`` overrides."""

    instances: dict[str, PolicyOverride] = Field(default_factory=dict)
    resellers: dict[str, PolicyOverride] = Field(default_factory=dict)

    def settings(self, instance: str | None = None, reseller: str | None = None) -> PolicySettings:
        """The values in force: defaults < instance < reseller."""
        values: dict[str, Any] = PolicySettings.model_validate(
            self.model_dump(exclude={"instances", "resellers"})
        ).model_dump()
        for override in (self.instances.get(instance or ""), self.resellers.get(reseller or "")):
            if override is not None:
                given = override.model_dump(exclude_none=True, exclude={"prices"})
                if override.prices is not None:
                    # Prices merge field by field: an instance may price maintenance only.
                    named = override.prices.model_dump(exclude_unset=True)
                    given["prices"] = {**values["prices"], **named}
                values.update(given)
        return PolicySettings.model_validate(values)


class DowngradeWindow(BaseModel):
    """When downgrades are accepted before one renewal date."""

    model_config = ConfigDict(frozen=True)

    renewal: date
    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        """True when ``day`` is inside the window."""
        return self.opens <= day <= self.closes

    def state(self, day: date) -> str:
        """``open``, ``upcoming`` or ``closed`` (for this renewal)."""
        if self.contains(day):
            return "open"
        return "upcoming" if day < self.opens else "closed"


def downgrade_window(renewal: date, settings: PolicySettings) -> DowngradeWindow:
    """The downgrade window before ``renewal`` (seed 001: 30 to 15 days before it)."""
    nearest, farthest = settings.downgrade_window_days
    return DowngradeWindow(
        renewal=renewal,
        opens=renewal - timedelta(days=farthest),
        closes=renewal - timedelta(days=nearest),
    )


def next_renewal(
    renewal: date, today: date, settings: PolicySettings, term_months: int | None = None
) -> date:
    """The renewal due on or after ``today``: the recorded date rolled forward a term at a
    time (each renewal extends the service by the customer's own ``term_months``, else the
    policy's ``renewal_term_months``); with no term, the recorded date itself, past or not."""
    months = settings.term(term_months)
    due, terms = renewal, 0
    while months and due < today:
        terms += 1
        due = _add_months(renewal, months * terms)
    return due


def _add_months(day: date, months: int) -> date:
    """``day`` that many months later, kept within the month (Jan 31 + 1 -> Feb 28)."""
    import calendar

    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_downgrade(
    renewal: date | None, today: date, settings: PolicySettings, term_months: int | None = None
) -> None:
    """Refuse a downgrade outside the window (``PolicyDenied``, reason ``downgrade_window``)
    before the next renewal of the billing cycle (the customer's own ``term_months``).

    Without a known renewal date there is no window to keep, so the downgrade is accepted.
    """
    if renewal is None:
        return
    renewal = next_renewal(renewal, today, settings, term_months)
    window = downgrade_window(renewal, settings)
    if not window.contains(today):
        raise errors.PolicyDenied(
            f"Downgrades are accepted only from {window.opens.isoformat()} to "
            f"{window.closes.isoformat()}, before the renewal on {renewal.isoformat()}",
            reason="downgrade_window",
        )


class LicenceUpgrade(BaseModel):
    """A licence upgrade stated as seed 002 wants it: the new total, never a delta."""

    model_config = ConfigDict(frozen=True)

    current: int
    added: int
    total: int

    def __str__(self) -> str:
        return f"{self.current} + {self.added} = {self.total}"


def licence_upgrade(
    current: int, added: int, settings: PolicySettings, model: LicenceModel | None = None
) -> LicenceUpgrade:
    """The order to add ``added`` licensed mailboxes to ``current``; the total is at least
    the minimum where the licence is per mailbox (``model``: the provider's declared
    licence model; ``None`` for the seed's own, per mailbox)."""
    if added <= 0:
        raise errors.ValidationError("A licence upgrade adds at least one mailbox")
    total = max(current + added, _minimum(settings, model))
    return LicenceUpgrade(current=current, added=total - current, total=total)


def licences_required(
    mailboxes: int, settings: PolicySettings, model: LicenceModel | None = None
) -> int:
    """The fewest mailboxes the licence must cover: every mailbox, and the minimum where
    the licence is per mailbox (seed 002 is Zextras's; a per-seat platform has none)."""
    return max(mailboxes, _minimum(settings, model))


def _minimum(settings: PolicySettings, model: LicenceModel | None) -> int:
    if model is not None and not settings.licenses_per_mailbox(model):
        return 0
    return settings.licence_minimum
