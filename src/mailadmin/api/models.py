"""Request and response bodies of the HTTP API that the core's models do not cover."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from mailadmin.orchestration.config import AddonSpec, PlanSpec
from mailadmin.rules.sales import SaleQuantity
from mailadmin.rules.tenancy import Package, TermMonths

__all__ = [
    "AddonRunItem",
    "AddonRunRequest",
    "AddonTotal",
    "AllowUpgrade",
    "Catalogue",
    "CustomerIn",
    "CustomerPatch",
    "DeliveryOut",
    "Health",
    "InstanceInfo",
    "JournalRecord",
    "KeyIn",
    "NewTenant",
    "NewWebhook",
    "OrderIn",
    "PlanChange",
    "PlanRunItem",
    "PlanRunRequest",
    "ProviderInfo",
    "Readiness",
    "ResellerIn",
    "ResellerPatch",
    "WebhookIn",
    "WebhookOut",
]


class _In(BaseModel):
    # Unknown fields are refused: a misspelt option must not be silently ignored.
    model_config = ConfigDict(extra="forbid")


class Health(BaseModel):
    """The process answers."""

    status: str = "ok"


class Readiness(BaseModel):
    """Ready to serve: the store answers and instances are configured."""

    status: str
    checks: dict[str, str]


class ProviderInfo(BaseModel):
    """An installed provider (plugin) and what it supports."""

    name: str
    platform: str
    distribution: str
    version: str
    capabilities: list[str]
    mock: bool
    #: The declared licence model: none, per_mailbox (with its minimum), per_seat, cals.
    licence: str = "per_seat"


class InstanceInfo(BaseModel):
    """A configured provider instance and its capabilities (no endpoint, no credentials)."""

    name: str
    provider: str
    platform: str
    capabilities: list[str]
    tenants: list[str] = Field(description="The tenants of this instance the caller reaches")


class Catalogue(BaseModel):
    """The provider-neutral plans and add-ons sold."""

    plans: dict[str, PlanSpec]
    addons: dict[str, AddonSpec]


class ResellerIn(_In):
    """A reseller to record."""

    name: str = Field(min_length=1, max_length=255)
    instance: str | None = None
    prepaid: bool = False
    may_oversell: bool = False
    package: Package = Field(default_factory=dict)
    renewal: date | None = None
    term_months: TermMonths | None = Field(
        default=None, description="Its own billing term (default: the policy's)"
    )


class KeyIn(_In):
    """An API key to create: the identity it acts as and a note to tell keys apart."""

    identity: str = Field(
        min_length=1,
        max_length=400,
        description="site-admin, reseller:NAME, customer:TENANT or mailbox:ADDRESS",
        examples=["reseller:acme"],
    )
    label: str = Field(default="", max_length=255, description="Which panel uses it")
    read_only: bool = Field(
        default=False, description="The key may only read: GET and HEAD; anything else is 403"
    )


class CustomerIn(_In):
    """A customer (a configured tenant) to record under a reseller or the host."""

    name: str = Field(min_length=1, max_length=255)
    reseller: str | None = Field(default=None, description="Filled in for a reseller's key")
    package: Package = Field(default_factory=dict)
    renewal: date | None = None
    term_months: TermMonths | None = Field(
        default=None, description="Its own billing term (default: the policy's)"
    )


class BillingIn(_In):
    """A customer's billing cycle (seeds 001, 002); what is left out is kept."""

    renewal: date | None = Field(default=None, description="The next renewal date")
    term_months: TermMonths | None = Field(
        default=None,
        description="Months each renewal extends the service by (0: no cycle); "
        "the policy's renewal_term_months when never set",
    )


class CustomerPatch(_In):
    """The fields of a customer record to change (a field left out stays as it is)."""

    reseller: str | None = Field(default=None, description="null: the host's own customer")
    package: Package | None = Field(default=None, description="Replaces the whole package")
    renewal: date | None = None


class ResellerPatch(_In):
    """The fields of a reseller record to change (a field left out stays as it is)."""

    instance: str | None = None
    prepaid: bool | None = None
    may_oversell: bool | None = None
    package: Package | None = Field(default=None, description="Replaces the whole package")
    renewal: date | None = None


class AllowUpgrade(_In):
    """A mailbox's "allow upgrade" switch (seed 000)."""

    allow_upgrade: bool


class OrderIn(_In):
    """An order to open: ``add`` is the number of accounts (``seat_upgrade``) or licensed
    mailboxes (``licence_upgrade``) to add; the order states the resulting total."""

    subject: str = Field(min_length=1, max_length=255, examples=["example.com"])
    kind: Literal[
        "plan_upgrade",
        "plan_downgrade",
        "seat_upgrade",
        "licence_upgrade",
        "licence_renewal",
        "maintenance",
        "edition_change",
    ]
    years: int | None = Field(default=None, ge=1, le=10, description="Years (maintenance)")
    until: date | None = Field(default=None, description="The new expiry (licence_renewal)")
    package: Package | None = None
    add: int | None = Field(default=None, ge=1, le=9999, examples=[5])
    edition: str | None = Field(default=None, min_length=1, max_length=64, examples=["pro"])
    current: str | None = Field(
        default=None, min_length=1, max_length=64, description="The edition held now"
    )
    mailboxes: int | None = Field(
        default=None, ge=1, le=9999, description="Mailboxes licensed with Team Pro (10 or more)"
    )


class PlanChange(_In):
    """The neutral plan to put a mailbox on."""

    plan: str = Field(min_length=1, max_length=64, examples=["sync"])


class PasswordChange(_In):
    """A mailbox's new password (never stored, logged or journalled)."""

    password: SecretStr = Field(min_length=1, max_length=128)


class Suspension(_In):
    """Why a mailbox or customer is suspended or resumed, journalled with the change."""

    reason: str = Field(default="", max_length=200, examples=["non-payment"])


class DisplayName(_In):
    """The name shown for a mailbox."""

    display_name: str = Field(min_length=1, max_length=256, examples=["Carla Rossi"])


class Forwarding(_In):
    """Where a mailbox's mail is forwarded (a copy stays); ``""`` stops forwarding."""

    address: str = Field(max_length=320, examples=["carla@elsewhere.example"])


class Quota(_In):
    """A mailbox's storage quota in MB."""

    quota_mb: int = Field(ge=1, le=2**31 - 1, examples=[4096])


class NewTenant(_In):
    """A configured tenant to create on its platform, with its customer record."""

    name: str = Field(min_length=1, max_length=255, examples=["new.example.com"])
    reseller: str | None = Field(default=None, description="The owner (default: the host)")
    plan: str | None = Field(default=None, description="The plan new mailboxes get")
    max_mailboxes: int | None = Field(default=None, ge=0, le=2**31 - 1)


class Termination(_In):
    """The confirmation of a termination: the tenant's name, repeated."""

    confirm: str = Field(min_length=1, max_length=255, examples=["example.com"])


class AddonTotal(_In):
    """The total quantity of an add-on (absolute, so a retry is harmless)."""

    quantity: int = Field(ge=0, le=2**31 - 1)


class PlanRunItem(_In):
    """One plan change of a bulk run."""

    address: str = Field(min_length=3, max_length=320)
    plan: str = Field(min_length=1, max_length=64)


class PlanRunRequest(_In):
    """Many plan changes, worked in the background."""

    items: list[PlanRunItem] = Field(min_length=1, max_length=10000)
    concurrency: int = Field(default=8, ge=1, le=64)


class AddonRunItem(_In):
    """One add-on total of a bulk run."""

    tenant: str = Field(min_length=1, max_length=255)
    addon: str = Field(min_length=1, max_length=129)
    quantity: int = Field(ge=0, le=2**31 - 1)


class AddonRunRequest(_In):
    """Many add-on totals, worked in the background."""

    items: list[AddonRunItem] = Field(min_length=1, max_length=10000)
    concurrency: int = Field(default=8, ge=1, le=64)


class SaleRequest(_In):
    """Sell one add-on to many resellers or customers at once (each its own item).

    ``to="resellers"``: the resellers named in ``resellers`` (every one when empty).
    ``to="customers"``: the customers of ``owner`` (a reseller, ``host`` for the host's
    own customers, ``all`` for everyone's); a reseller's key sells only to its own.
    """

    addon: str = Field(min_length=1, max_length=128, examples=["shared_mailbox"])
    quantity: SaleQuantity = Field(
        description="How many of the add-on each target holds (0 to 9999); each grants "
        "the add-on's value, and value x quantity is at most 9999"
    )
    to: Literal["resellers", "customers"]
    resellers: list[Annotated[str, Field(min_length=1, max_length=255)]] = Field(
        default_factory=list, max_length=1000, description="With to=resellers: whom"
    )
    owner: str = Field(default="all", min_length=1, max_length=255)
    only_over_quota: bool = Field(
        default=False, description="Only targets that use all they are allocated"
    )
    skip_already_sold: bool = Field(
        default=False, description="Skip targets that already bought this add-on"
    )
    copy_under_reseller: bool = Field(
        default=False, description="Sell a reseller its own copy, named ADDON@RESELLER"
    )


class JournalRecord(BaseModel):
    """One journalled write (or refused call)."""

    id: int
    at: datetime
    call_id: str
    instance: str
    operation: str
    subject: str
    arguments: dict[str, Any]
    dry_run: bool
    status: str
    outcome: str | None
    before: Any = None
    after: Any = None
    error_code: str | None
    error_message: str | None

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite returns the stored UTC time without its zone; say it is UTC.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class WebhookIn(_In):
    """A webhook endpoint to register: where events are POSTed, and which."""

    url: str = Field(
        min_length=1,
        max_length=2000,
        description="An http:// or https:// URL",
        examples=["https://panel.example.net/hooks/mailadmin"],
    )
    events: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Event kinds to deliver (none: every kind)",
        examples=[["run.finished", "run.item_failed"]],
    )
    label: str = Field(default="", max_length=255, description="A note to tell endpoints apart")


class WebhookOut(BaseModel):
    """A registered endpoint (never its secret)."""

    id: str
    url: str
    events: list[str]
    label: str
    created: datetime
    removed: datetime | None = None


class NewWebhook(WebhookOut):
    """An endpoint just registered: ``secret`` signs its deliveries, shown this once."""

    secret: str


class DeliveryOut(BaseModel):
    """One event for one endpoint: state (``pending``, ``delivered``, ``failed``),
    attempts, the last answer."""

    id: int
    webhook_id: str
    event: str
    type: str
    state: str
    attempts: int
    due: datetime
    status: int | None = None
    error: str | None = None
    delivered: datetime | None = None
