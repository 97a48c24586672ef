"""The Exchange Server mock's data: one organisation hosting tenants the on-premises way.

A tenant is an organizational unit, its accepted domain(s) and an address book policy
(Microsoft's hosting guidance for Exchange 2013 and later). Mailboxes are the Online
mock's :class:`MockMailbox` with what on-premises adds (OU, address book policy,
database, the Enterprise CAL features, statistics). The fault knobs are data too, so a
seed (``PUT /_mock/state``) sets them: ``max_concurrency`` is the throttling policy's
``PowerShellMaxConcurrency`` (open shells per user), ``cmdlet_errors`` makes a cmdlet
answer an error record with the given text.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mailadmin_exchange.mock.model import MockMailbox

__all__ = [
    "ORGANIZATION",
    "AcceptedDomain",
    "OnPremData",
    "OnPremMailbox",
    "OnPremTenant",
]

#: The Active Directory domain of the mock's organisation.
ORGANIZATION = "contoso.local"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class OnPremMailbox(MockMailbox):
    """A mailbox on an Exchange server: where it lives in the directory, its address book
    policy, and the figures Get-MailboxStatistics reports."""

    organizational_unit: str = f"{ORGANIZATION}/Users"
    address_book_policy: str | None = None
    database: str = "DB01"
    #: Enterprise CAL features in use (archive, retention, DLP): counted as an
    #: Enterprise CAL on top of the Standard one.
    enterprise_features: bool = False
    item_count: int = 0
    total_item_size: int = 0


class AcceptedDomain(_Model):
    """An accepted domain (Get-AcceptedDomain)."""

    name: str
    domain_name: str
    domain_type: Literal["Authoritative", "InternalRelay", "ExternalRelay"] = "Authoritative"
    default: bool = False


class OnPremTenant(_Model):
    """A hosted tenant: its OU (canonical name), accepted domains and address book policy."""

    name: str
    organizational_unit: str
    domains: list[str] = Field(default_factory=list)
    address_book_policy: str


class OnPremData(_Model):
    """The organisation: credentials, tenants, accepted domains, mailboxes, fault knobs."""

    #: User principal name -> password, for Basic authentication.
    credentials: dict[str, str] = Field(default_factory=dict)
    tenants: dict[str, OnPremTenant] = Field(default_factory=dict)
    accepted_domains: list[AcceptedDomain] = Field(default_factory=list)
    mailboxes: dict[str, OnPremMailbox] = Field(default_factory=dict)
    #: Exchange's version in CAL names ("Exchange Server 2019 Standard CAL").
    version: Literal["2016", "2019"] = "2019"
    max_concurrency: int = Field(default=18, ge=1)
    cmdlet_errors: dict[str, str] = Field(default_factory=dict)
