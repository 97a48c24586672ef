"""Settings of an Exchange provider instance and of its plans.

Example (TOML)::

    [instances.exchange]
    provider = "exchange"
    tenant = "contoso.onmicrosoft.com"
    tenant_id = "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
    credentials = { username = "<app (client) id>", secret = "<client secret>" }

    [instances.exchange.plans.sync]            # quota mode: Set-Mailbox + Set-CASMailbox
    quota_mb = 5120
    features = { activesync = true, owa = true, mapi = false, pop = true, imap = true }

    [instances.exchange.plans.premium]         # licence mode: Graph assignLicense
    sku = "EXCHANGEENTERPRISE"

The plans choose the mode: plans that name a ``sku`` are licence plans, the others quota
plans; one instance uses one mode (see README "Plan modes").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mailadmin.sdk import PlanMapping, ProviderSettings

__all__ = [
    "DEFAULT_ENDPOINTS",
    "KNOWN_MAILBOX_PLANS",
    "ClientAccess",
    "ExchangePlan",
    "ExchangeSettings",
    "PlanMode",
]

#: Where each named endpoint answers in the public cloud (reference 1.1, 1.2, 3).
DEFAULT_ENDPOINTS: dict[str, str] = {
    "token": "https://login.microsoftonline.com",
    "admin": "https://outlook.office365.com",
    "graph": "https://graph.microsoft.com",
}

#: Exchange mailbox plan applied by each licence (reference 2.5, 3.2: "mailbox plan follows
#: licence"; the names are inferred from ``ExchangeOnlineEnterprise`` seen on the wire).
KNOWN_MAILBOX_PLANS: dict[str, str] = {
    "EXCHANGESTANDARD": "ExchangeOnline",
    "EXCHANGEENTERPRISE": "ExchangeOnlineEnterprise",
    "EXCHANGEDESKLESS": "ExchangeOnlineDeskless",
    "EXCHANGE_S_ESSENTIALS": "ExchangeOnlineEssentials",
}

PlanMode = Literal["quota", "licence"]


class ClientAccess(BaseModel):
    """The client-access features ``Set-CASMailbox`` switches (reference 2.4)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    activesync: bool = True
    owa: bool = True
    mapi: bool = True
    pop: bool = True
    imap: bool = True

    def parameters(self) -> dict[str, bool]:
        """The ``Set-CASMailbox`` parameters, by their cmdlet names."""
        return {
            "ActiveSyncEnabled": self.activesync,
            "OWAEnabled": self.owa,
            "MAPIEnabled": self.mapi,
            "PopEnabled": self.pop,
            "ImapEnabled": self.imap,
        }

    @classmethod
    def from_cas(cls, row: dict[str, object]) -> ClientAccess:
        """Read the flags of a ``Get-CASMailbox`` row (a missing flag is Exchange's default, on)."""

        def flag(name: str) -> bool:
            value = row.get(name, True)
            return value is True or (isinstance(value, str) and value.lower() == "true")

        return cls(
            activesync=flag("ActiveSyncEnabled"),
            owa=flag("OWAEnabled"),
            mapi=flag("MAPIEnabled"),
            pop=flag("PopEnabled"),
            imap=flag("ImapEnabled"),
        )

    def names(self) -> tuple[str, ...]:
        """The features switched on, for ``list_plans``."""
        return tuple(name for name, on in self.model_dump().items() if on)


class ExchangePlan(PlanMapping):
    """How one neutral plan maps onto Exchange.

    Licence mode: ``sku``: SKU part number (``"EXCHANGEENTERPRISE"``) or SKU GUID assigned
    with Graph ``assignLicense``; ``mailbox_plan``: the Exchange mailbox plan that licence
    applies (defaults from :data:`KNOWN_MAILBOX_PLANS`), how ``count_mailboxes`` tells the
    plan of a mailbox.

    Quota mode: ``quota_mb``: ``ProhibitSendReceiveQuota``; ``warning_percent`` and
    ``send_percent``: ``IssueWarningQuota`` and ``ProhibitSendQuota`` as a share of it
    (SolidCP's plan fields); ``features``: the client-access flags.
    ``description``: shown by ``list_plans``.
    """

    sku: str | None = None
    mailbox_plan: str | None = None
    features: ClientAccess | None = None
    warning_percent: int = Field(default=90, ge=1, le=100)
    send_percent: int = Field(default=95, ge=1, le=100)
    description: str = ""

    @model_validator(mode="after")
    def _one_mode(self) -> ExchangePlan:
        if self.sku is not None:
            if self.features is not None or self.quota_mb is not None:
                raise ValueError(
                    "a licence plan (sku) takes its quotas and features from the licence; "
                    "drop quota_mb and features, or drop sku"
                )
        else:
            if self.features is None and self.quota_mb is None:
                raise ValueError("a plan needs a sku (licence mode) or quota_mb and features")
            if self.warning_percent > self.send_percent:
                raise ValueError("warning_percent must not exceed send_percent")
        return self

    @property
    def mode(self) -> PlanMode:
        """``"licence"`` when the plan names a SKU, otherwise ``"quota"``."""
        return "licence" if self.sku is not None else "quota"

    @property
    def client_access(self) -> ClientAccess:
        """The flags the plan sets (all on when it names none)."""
        return self.features or ClientAccess()

    def native_name(self) -> str:
        """What ``list_plans`` and counts call the plan natively."""
        if self.sku is not None:
            return self.sku
        quota = f"{self.quota_mb} MB" if self.quota_mb is not None else "Unlimited"
        return f"{quota}; " + ",".join(self.client_access.names())

    def mailbox_plan_name(self) -> str | None:
        """The Exchange mailbox plan the licence applies, when known."""
        if self.mailbox_plan:
            return self.mailbox_plan
        return KNOWN_MAILBOX_PLANS.get((self.sku or "").upper())


class ExchangeSettings(ProviderSettings):
    """Settings of one Exchange Online instance.

    ``tenant``: the ``*.onmicrosoft.com`` name; ``tenant_id``: the tenant GUID (preferred in
    the admin API URL and the anchor mailbox, reference 1.1; the name is used without it).
    ``credentials``: the app registration's client id (``username``) and client secret.
    ``endpoints``: base URLs of ``token``, ``admin`` and ``graph`` (defaults: the public
    cloud); ``endpoint`` (when set) is the default for all three, which is how one mock
    serves them. ``page_size``: ``Prefer: odata.maxpagesize`` (1..1000).
    ``result_size``: ``ResultSize`` sent with ``Get-Mailbox`` (``"Unlimited"`` or a number).
    ``storage_attribute``: the mailbox attribute (``CustomAttribute1``..``15``, default
    ``CustomAttribute15``) holding a mailbox's storage add-on apart from its plan's quota.
    ``licence_skus``: the SKUs ``get_licence`` adds up (default: the two Exchange Online
    plans plus every plan's SKU). ``anchor_mailbox``: ``X-AnchorMailbox`` (default:
    ``APP:SystemMailbox{bb558c35-...}@<tenant_id or tenant>``).
    """

    default_endpoints: ClassVar[Mapping[str, str]] = DEFAULT_ENDPOINTS

    tenant: str = Field(min_length=3)
    tenant_id: str | None = None
    plans: dict[str, ExchangePlan] = Field(default_factory=dict)  # type: ignore[assignment]
    page_size: int = Field(default=1000, ge=1, le=1000)
    result_size: int | Literal["Unlimited"] = "Unlimited"
    licence_skus: tuple[str, ...] = ("EXCHANGESTANDARD", "EXCHANGEENTERPRISE")
    anchor_mailbox: str | None = None
    #: Where a mailbox's storage add-on (whole GB) is kept, apart from its plan's quota:
    #: the mailbox attribute ``Set-Mailbox`` writes with the quotas (``None``: not kept;
    #: the add-on is then inferred from the quotas, which cannot tell a larger plan from
    #: a smaller plan plus storage).
    storage_attribute: str | None = Field(
        default="CustomAttribute15", pattern=r"^CustomAttribute([1-9]|1[0-5])$"
    )

    @model_validator(mode="before")
    @classmethod
    def _fill_endpoints(cls, data: Any) -> Any:
        # ``endpoint`` serves every name (one mock answers all three); without it each name
        # takes its public-cloud host. Either way every name ends up in ``endpoints``.
        if not isinstance(data, dict) or not data.get("endpoint"):
            return data
        given = dict(data.get("endpoints") or {})
        single = data["endpoint"]
        return {
            **data,
            "endpoints": {name: given.get(name) or single for name in DEFAULT_ENDPOINTS},
        }

    @model_validator(mode="after")
    def _one_plan_mode(self) -> ExchangeSettings:
        modes = {plan.mode for plan in self.plans.values()}
        if len(modes) > 1:
            raise ValueError(
                "the plans mix licence plans (sku) and quota plans; one instance uses one mode"
            )
        if self.plan_mode == "quota":
            seen: dict[tuple[bool, ...], str] = {}
            for name, plan in self.plans.items():
                key = tuple(plan.client_access.parameters().values())
                if key in seen:
                    raise ValueError(
                        f"quota plans '{seen[key]}' and '{name}' switch the same client-access "
                        "features; a mailbox's plan is told by its features, so they must differ"
                    )
                seen[key] = name
        unknown = set(self.endpoints) - set(DEFAULT_ENDPOINTS)
        if unknown:
            raise ValueError(f"unknown endpoints: {', '.join(sorted(unknown))}")
        return self

    @property
    def plan_mode(self) -> PlanMode:
        """The mode the plans choose (``"quota"`` when there are none)."""
        for plan in self.plans.values():
            return plan.mode
        return "quota"

    @property
    def tenant_key(self) -> str:
        """How the admin API URL names the tenant: its GUID, else its name."""
        return self.tenant_id or self.tenant
