"""The data of the Zextras mock as pydantic models: COSes, domains, accounts, the licence.

Every directory entry keeps its LDAP attributes as ``attrs`` (name -> one value, or a list
for a multi-valued attribute), exactly as the admin API reads and writes them. This module
holds data and the documented defaults; the rules live in :mod:`.state`.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEFAULT_COS_ID",
    "Account",
    "Cos",
    "Directory",
    "Domain",
    "Entry",
    "LicenceInfo",
    "LicenceStore",
    "default_directory",
    "new_id",
]

#: The zimbraId of the global ``default`` COS on every Zimbra / Carbonio server.
DEFAULT_COS_ID = "e00428a1-0c00-11d9-836a-000d93afea2a"
_GB = 1024**3
_DAY_MS = 86_400_000

AttrValue = str | list[str]


def new_id() -> str:
    """A fresh zimbraId (a UUID, as the server makes them)."""
    return str(uuid.uuid4())


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Entry(_Record):
    """A directory entry: zimbraId, name and LDAP attributes."""

    id: str = Field(default_factory=new_id)
    name: str
    attrs: dict[str, AttrValue] = Field(default_factory=dict)

    def values(self, attr: str) -> list[str]:
        """Every value of ``attr`` (attribute names compare case-insensitively)."""
        for key, value in self.attrs.items():
            if key.lower() == attr.lower():
                return list(value) if isinstance(value, list) else [value]
        return []

    def first(self, attr: str) -> str | None:
        """The (first) value of ``attr``, or ``None``."""
        found = self.values(attr)
        return found[0] if found else None

    def put(self, attr: str, values: list[str]) -> None:
        """Replace ``attr`` (no values: remove it)."""
        for key in [k for k in self.attrs if k.lower() == attr.lower()]:
            del self.attrs[key]
        if values:
            self.attrs[attr] = values[0] if len(values) == 1 else list(values)


class Cos(Entry):
    """A class of service (a plan template); ``attrs`` hold its feature and quota settings."""


class Domain(Entry):
    """A mail domain with its default COS (``zimbraDomainDefaultCOSId``) and account limits
    (``zimbraDomainMaxAccounts``, ``zimbraDomainCOSMaxAccounts`` = ``"{cosId}:{max}"``)."""


class Account(Entry):
    """A user account or, with ``calresource``, a calendar resource (room or equipment)."""

    password: str = ""
    calresource: bool = False

    @property
    def domain(self) -> str:
        """The mail domain of the account's name."""
        return self.name.rpartition("@")[2]


class LicenceInfo(_Record):
    """One Zextras licence, with the field names of ``getLicenseInfo``.

    ``licensedUsers`` is a number as text or ``"unlimited"``; dates are epoch milliseconds;
    ``editions`` and ``features`` are ``{name, quantity[, enabled]}`` objects.
    """

    type: str = "Purchased"
    subType: str = "REGULAR"
    licensedUsers: str = "100"
    dateStart: int = 0
    dateEnd: int = 0
    maintenanceEndDate: int | None = None
    customer: str = "Example Hosting"
    company: str = "Example Hosting Ltd"
    reseller: str = ""
    order_id: str = ""
    editions: list[dict[str, Any]] = Field(default_factory=list)
    features: list[dict[str, Any]] = Field(default_factory=list)


class LicenceStore(_Record):
    """The licence side of the server.

    ``active``: the activated licence (``None``: none, the server runs in trial mode for
    ``trial_days`` after ``installed_at`` with every feature on); ``token``: the token it
    was activated with; ``installed_at``: epoch ms (``None``: when the mock started);
    ``catalogue``: the licences ``activate-license`` accepts, by token (what the Zextras
    store would hand out); ``trial_users``: ``licensedUsers`` during the trial.
    """

    active: LicenceInfo | None = None
    token: str | None = None
    installed_at: int | None = None
    trial_days: int = Field(default=30, ge=0)
    trial_users: str = "50"
    catalogue: dict[str, LicenceInfo] = Field(default_factory=dict)


class Directory(_Record):
    """Everything the mock holds (the seed and snapshot shape).

    ``admin``: the administrator ``AuthRequest`` accepts (an account of ``accounts`` with
    ``zimbraIsAdminAccount=TRUE``); ``token_lifetime_ms``: ``AuthResponse.lifetime``;
    ``version``: ``GetVersionInfo``'s version; ``max_search_results``: the server's
    ``zimbra_directory_max_search_result`` (localconfig, 5000 by default), the default of
    ``SearchDirectoryRequest``'s ``maxResults``.
    """

    coses: list[Cos] = Field(default_factory=list)
    domains: list[Domain] = Field(default_factory=list)
    accounts: list[Account] = Field(default_factory=list)
    licence: LicenceStore = Field(default_factory=LicenceStore)
    token_lifetime_ms: int = Field(default=43_200_000, ge=1)
    version: str = "24.12.0_GA_0001.CARBONIO"
    max_search_results: int = Field(default=5000, ge=0)


# -- defaults (documented in the plugin's README, "Mock defaults") --------------------------

_FEATURES_ALL = [
    "activesync_basic",
    "activesync_shared_folder",
    "backup_basic",
    "backup_realtime",
    "storages_basic",
    "storages_hsm",
    "admins_basic",
    "files_basic",
    "chats_basic",
    "wsc_basic",
    "auth_2fa",
]
# Which features each Zextras Suite edition brings (TD licensing.rst: Pro = Powerstore,
# Backup, Admin, Mobile, Docs, Drive, Team Basic, Auth; Mobile = Mobile, Team Basic, Auth;
# Team Pro adds the WSC chat).
EDITION_FEATURES: dict[str, list[str]] = {
    "pro": [
        "activesync_basic",
        "backup_basic",
        "backup_realtime",
        "storages_basic",
        "storages_hsm",
        "admins_basic",
        "files_basic",
        "chats_basic",
        "auth_2fa",
    ],
    "mobile": ["activesync_basic", "chats_basic", "auth_2fa"],
    "team_pro": ["wsc_basic"],
}


def _cos(name: str, cos_id: str, quota_gb: int, description: str, **features: bool) -> Cos:
    attrs: dict[str, AttrValue] = {
        "cn": name,
        "description": description,
        "zimbraMailQuota": str(quota_gb * _GB),
    }
    for attr, on in features.items():
        attrs[attr] = "TRUE" if on else "FALSE"
    return Cos(id=cos_id, name=name, attrs=attrs)


def _account(name: str, *, cos: str | None = None, **attrs: str) -> Account:
    values: dict[str, AttrValue] = {
        "zimbraAccountStatus": "active",
        "zimbraMailDeliveryAddress": name,
        "objectClass": ["inetOrgPerson", "zimbraAccount", "amavisAccount"],
    }
    if cos is not None:
        values["zimbraCOSId"] = cos
    values.update(attrs)
    return Account(name=name, password="secret", attrs=values)


def _resource(name: str, kind: str, display: str) -> Account:
    account = _account(
        name,
        displayName=display,
        zimbraCalResType=kind,
        zimbraAccountCalendarUserType="RESOURCE",
    )
    account.attrs["objectClass"] = ["inetOrgPerson", "zimbraAccount", "zimbraCalendarResource"]
    account.calresource = True
    return account


MAIL_COS_ID = "2a4f4c65-6d61-4696-a000-000000000001"
SYNC_COS_ID = "2a4f4c65-6d61-4696-a000-000000000002"
COLLABORATE_COS_ID = "2a4f4c65-6d61-4696-a000-000000000003"
DOMAIN_ID = "6b0a53f1-0e3c-4d43-9c3a-00000000e11c"


def default_directory() -> Directory:
    """The documented start state (see the README, "Mock defaults")."""
    coses = [
        _cos(
            "default",
            DEFAULT_COS_ID,
            0,
            "The default COS",
            zimbraFeatureMobileSyncEnabled=False,
            zimbraFeatureCalendarEnabled=True,
            zimbraFeatureBriefcasesEnabled=True,
        ),
        _cos(
            "mail",
            MAIL_COS_ID,
            2,
            "Mail: webmail, calendar and contacts, POP/IMAP, 2 GB",
            zimbraFeatureMobileSyncEnabled=False,
            zimbraFeatureCalendarEnabled=True,
            zimbraFeatureContactsEnabled=True,
            zimbraFeatureTasksEnabled=False,
            zimbraFeatureBriefcasesEnabled=False,
            zimbraFeatureSharingEnabled=False,
        ),
        _cos(
            "sync",
            SYNC_COS_ID,
            5,
            "Sync: Mail plus mobile sync (ActiveSync) and tasks, 5 GB",
            zimbraFeatureMobileSyncEnabled=True,
            zimbraFeatureCalendarEnabled=True,
            zimbraFeatureContactsEnabled=True,
            zimbraFeatureTasksEnabled=True,
            zimbraFeatureBriefcasesEnabled=False,
            zimbraFeatureSharingEnabled=False,
        ),
        _cos(
            "collaborate",
            COLLABORATE_COS_ID,
            10,
            "Collaborate: Sync plus sharing and files (Briefcase), 10 GB",
            zimbraFeatureMobileSyncEnabled=True,
            zimbraFeatureCalendarEnabled=True,
            zimbraFeatureContactsEnabled=True,
            zimbraFeatureTasksEnabled=True,
            zimbraFeatureBriefcasesEnabled=True,
            zimbraFeatureSharingEnabled=True,
        ),
    ]
    domain = Domain(
        id=DOMAIN_ID,
        name="example.com",
        attrs={
            "zimbraDomainDefaultCOSId": MAIL_COS_ID,
            "zimbraDomainStatus": "active",
            # What zmprov generateDomainPreAuthKey stores: 64 hex digits (a fixture's, not
            # a secret).
            "zimbraPreAuthKey": "0f" * 32,
        },
    )
    accounts = [
        _account(
            "admin@example.com",
            displayName="Administrator",
            zimbraIsAdminAccount="TRUE",
        ),
        _account("anna@example.com", displayName="Anna"),
        _account("ben@example.com", cos=SYNC_COS_ID, displayName="Ben"),
        _account("carla@example.com", cos=COLLABORATE_COS_ID, displayName="Carla"),
        _account("info@example.com", displayName="Info", zimbraNotes="mailadmin-shared"),
        _resource("room-1@example.com", "Location", "Room 1"),
        _resource("projector@example.com", "Equipment", "Projector"),
        # The system accounts every install has: not mailboxes, never licensed or counted.
        _account(
            "galsync@example.com",
            zimbraIsSystemAccount="TRUE",
            zimbraIsSystemResource="TRUE",
            zimbraHideInGal="TRUE",
        ),
        _account(
            "spam.mck1@example.com",
            zimbraIsSystemAccount="TRUE",
            zimbraIsSystemResource="TRUE",
            zimbraHideInGal="TRUE",
        ),
    ]
    catalogue = {
        "MOCK-PRO-100": LicenceInfo(
            licensedUsers="100",
            dateStart=1_767_225_600_000,  # 2026-01-01
            dateEnd=1_767_225_600_000 + 365 * _DAY_MS,
            maintenanceEndDate=1_767_225_600_000 + 365 * _DAY_MS,
            order_id="ZX-1001",
            editions=[
                {"name": "pro", "quantity": "100"},
                {"name": "team_pro", "quantity": "10"},
            ],
        ),
        "MOCK-MOBILE-10": LicenceInfo(
            licensedUsers="10",
            dateStart=1_767_225_600_000,
            dateEnd=1_767_225_600_000 + 365 * _DAY_MS,
            order_id="ZX-1002",
            editions=[{"name": "mobile", "quantity": "10"}],
        ),
    }
    return Directory(
        coses=coses,
        domains=[domain],
        accounts=accounts,
        licence=LicenceStore(catalogue=catalogue),
    )


ALL_FEATURES = tuple(_FEATURES_ALL)
