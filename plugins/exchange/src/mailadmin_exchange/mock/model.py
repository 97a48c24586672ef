"""The Exchange mock's data, as one pydantic model (seeded, snapshotted and reset whole).

Sizes are bytes (``None``: unlimited); the wire forms are written by the handlers.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_TENANT",
    "DEFAULT_TENANT_ID",
    "ENTERPRISE",
    "STANDARD",
    "ExchangeData",
    "ExchangeSeed",
    "MockApp",
    "MockMailbox",
    "MockSku",
    "MockTenant",
    "RecipientType",
    "TenantSeed",
]

#: The documented default tenant (DESIGN.md "Mock defaults").
DEFAULT_TENANT = "contoso.onmicrosoft.com"
DEFAULT_TENANT_ID = "6babcaad-604b-40ac-a9d7-9fd97c0b779f"
#: SKU GUIDs of Exchange Online Plan 1 and 2 (reference 3.1).
STANDARD = "4b9405b0-7788-4568-add1-99614e613b69"
ENTERPRISE = "19ec0d23-8335-4cbd-94ac-6050e30712fa"

#: The mailbox ``RecipientTypeDetails`` a seed may give (Get-Mailbox.md); New-Mailbox makes
#: only the first four, the others come from outside (linked, Bookings, team mailboxes).
RecipientType = Literal[
    "UserMailbox",
    "SharedMailbox",
    "RoomMailbox",
    "EquipmentMailbox",
    "LinkedMailbox",
    "LinkedRoomMailbox",
    "SchedulingMailbox",
    "TeamMailbox",
    "DiscoveryMailbox",
    "LegacyMailbox",
]

_GB = 1 << 30


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class MockSku(_Model):
    """A subscribed SKU: prepaid units by state, and the mailbox plan its licence applies.

    ``quota``: the ``ProhibitSendReceiveQuota`` of that mailbox plan, also the highest
    quota a mailbox with this licence may get.
    """

    sku_id: str
    part_number: str
    enabled: int = Field(default=0, ge=0)
    warning: int = Field(default=0, ge=0)
    suspended: int = Field(default=0, ge=0)
    locked_out: int = Field(default=0, ge=0)
    capability_status: str = "Enabled"
    mailbox_plan: str
    mailbox_plan_guid: str
    quota: int = 50 * _GB
    service_plan: str = ""
    service_plan_id: str = ""


class MockMailbox(_Model):
    """A recipient with a mailbox, and the Entra user object behind it (licences)."""

    name: str
    display_name: str = ""
    alias: str = ""
    address: str
    upn: str = ""
    type: RecipientType = "UserMailbox"
    exchange_guid: str
    object_id: str
    resource_capacity: int | None = None
    issue_warning_quota: int | None = 49 * _GB
    prohibit_send_quota: int | None = 49 * _GB + _GB // 2
    prohibit_send_receive_quota: int | None = 50 * _GB
    use_database_quota_defaults: bool = False
    #: Secondary SMTP addresses (``EmailAddresses`` entries ``smtp:...``), lower case.
    aliases: list[str] = Field(default_factory=list)
    #: ``ForwardingSmtpAddress`` without its ``smtp:`` prefix ("" for none).
    forwarding: str = ""
    deliver_and_forward: bool = False
    #: ``CustomAttribute1``..``15`` that hold a value (Exchange answers ``""`` for the rest).
    custom_attributes: dict[str, str] = Field(default_factory=dict)
    activesync: bool = True
    owa: bool = True
    mapi: bool = True
    pop: bool = True
    imap: bool = True
    ews: bool = True
    ecp: bool = True
    licenses: list[str] = Field(default_factory=list)
    usage_location: str | None = "US"
    account_enabled: bool = True
    #: The password set last through Graph ("" when never set: an unknown random one).
    password: str = ""
    created: str = "2024-05-22T16:00:00Z"


class MockApp(_Model):
    """An app registration allowed to sign in with client credentials.

    ``cmdlets``: what its Exchange role lets it run (``["*"]``: every cmdlet the mock
    knows); anything else answers 403 with a NUL body (reference 1.7).
    """

    client_id: str
    secret: str
    cmdlets: list[str] = Field(default_factory=lambda: ["*"])


class MockTenant(_Model):
    """One Microsoft 365 tenant.

    ``filler_users``: that many extra user mailboxes ``user000001@<first domain>``... that
    exist without being stored until a write touches one (how a test counts 100,000
    mailboxes without holding them); ``filler_taken``: filler numbers stored or removed.
    """

    id: str
    name: str
    domains: list[str] = Field(default_factory=list)
    mailboxes: dict[str, MockMailbox] = Field(default_factory=dict)
    skus: list[MockSku] = Field(default_factory=list)
    apps: list[MockApp] = Field(default_factory=list)
    filler_users: int = Field(default=0, ge=0)
    filler_taken: list[int] = Field(default_factory=list)


class ExchangeData(_Model):
    """Every tenant the mock holds, by tenant GUID."""

    tenants: dict[str, MockTenant] = Field(default_factory=dict)


class TenantSeed(_Model):
    """A tenant in a seed: each field given replaces the stored tenant's (a new tenant
    needs ``name``); ``id``, when given, repeats the key (so a snapshot loads back)."""

    id: str | None = None
    name: str | None = None
    domains: list[str] | None = None
    mailboxes: dict[str, MockMailbox] | None = None
    skus: list[MockSku] | None = None
    apps: list[MockApp] | None = None
    filler_users: int | None = Field(default=None, ge=0)
    filler_taken: list[int] | None = None


class ExchangeSeed(_Model):
    """A seed document: ``{"tenants": {"<tenant GUID>": {...}}}``, merged tenant by tenant."""

    tenants: dict[str, TenantSeed] = Field(default_factory=dict)
