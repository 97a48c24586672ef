"""The Zextras provider passes the whole conformance kit against its mock, in process and on
loopback, with the sample configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from mailadmin_zextras.demo import sample_config
from mailadmin_zextras.mock.model import DEFAULT_COS_ID
from mailadmin_zextras.mock.refusals import REFUSALS

from mailadmin.sdk import (
    AddonRef,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    ProviderSettings,
    TenantRef,
)
from mailadmin.testing import ConformanceTarget, StateProbe, suite

State = Mapping[str, Any]
_GIB = 1024**3


def _values(entry: Mapping[str, Any], attr: str) -> list[str]:
    for key, value in entry.get("attrs", {}).items():
        if key.lower() == attr.lower():
            return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return []


def _first(entry: Mapping[str, Any], attr: str) -> str | None:
    found = _values(entry, attr)
    return found[0] if found else None


class ZextrasProbe(StateProbe):
    """The kit's view of the mock's state: plans are effective COSes, add-ons domain attributes, mailboxes accounts by kind."""

    def plan(self, state: State, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        account = self._account(state, mailbox.address)
        if account is None:
            return None
        domain = self._domain(state, mailbox.address.rpartition("@")[2])
        cos_id = _first(account, "zimbraCOSId") or _first(domain, "zimbraDomainDefaultCOSId")
        names = {c["id"]: c["name"] for c in state["coses"]}
        return self.neutral_plan(settings, names.get(cos_id or DEFAULT_COS_ID), "cos")

    def addon(
        self, state: State, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        domain = self._domain(state, tenant.key)
        if addon.name == "storage_gb":
            raw = _first(domain, "zimbraDomainAggregateQuota")
            return None if raw is None else int(raw) // _GIB
        if addon.plan is None:
            raw = _first(domain, "zimbraDomainMaxAccounts")
            return None if raw is None else int(raw)
        cos_name = getattr(settings.plans[addon.plan], "cos", addon.plan)
        cos_id = next(c["id"] for c in state["coses"] if c["name"] == cos_name)
        for value in _values(domain, "zimbraDomainCOSMaxAccounts"):
            limited, _, maximum = value.partition(":")
            if limited == cos_id:
                return int(maximum)
        return None

    def mailboxes(
        self, state: State, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        marker = (
            getattr(settings, "shared_mailbox_attribute", "zimbraNotes"),
            getattr(settings, "shared_mailbox_value", "mailadmin-shared"),
        )
        found: dict[str, MailboxKind] = {}
        for account in state["accounts"]:
            if account["name"].rpartition("@")[2] != tenant.key.lower():
                continue
            if any(
                (_first(account, flag) or "").upper() == "TRUE"
                for flag in ("zimbraIsSystemAccount", "zimbraIsSystemResource")
            ):
                continue
            kind = MailboxKind.USER
            if account.get("calresource"):
                located = _first(account, "zimbraCalResType") == "Location"
                kind = MailboxKind.ROOM if located else MailboxKind.EQUIPMENT
            elif marker[1] in _values(account, marker[0]):
                kind = MailboxKind.SHARED
            found[account["name"].lower()] = kind
        return found

    def password_matches(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        account = self._account(state, mailbox.address)
        return account is not None and account["password"] == password

    def mailbox_suspended(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        account = self._account(state, mailbox.address)
        return account is not None and _first(account, "zimbraAccountStatus") == "locked"

    def tenant_suspended(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        return _first(self._domain(state, tenant.key), "zimbraDomainStatus") == "suspended"

    def mailbox_settings(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        account = self._account(state, mailbox.address) or {}
        quota = _first(account, "zimbraMailQuota")
        return MailboxSettings(
            display_name=_first(account, "displayName") or "",
            forwarding=_first(account, "zimbraPrefMailForwardingAddress") or "",
            quota_mb=int(quota) // (1024 * 1024) if quota and int(quota) else None,
            aliases=tuple(sorted(_values(account, "zimbraMailAlias"))),
        )

    def tenant_exists(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        return any(d["name"] == tenant.key.lower() for d in state["domains"])

    @staticmethod
    def _account(state: State, address: str) -> Mapping[str, Any] | None:
        return next((a for a in state["accounts"] if a["name"] == address.lower()), None)

    @staticmethod
    def _domain(state: State, name: str) -> Mapping[str, Any]:
        return next((d for d in state["domains"] if d["name"] == name.lower()), {})


def _settings(url: str) -> dict[str, Any]:
    instance = sample_config()["instances"]["zextras"]
    return {**{k: v for k, v in instance.items() if k != "provider"}, "endpoint": url}


#: An activated licence of two seats: the default domain's five mailboxes over-use it.
OVER_LICENCE = {
    "licence": {
        "active": {
            "licensedUsers": "2",
            "dateStart": 1_767_225_600_000,
            "dateEnd": 4_102_444_800_000,
            "editions": [{"name": "mobile", "quantity": "2"}],
        },
        "token": "MOCK-SMALL-2",
    }
}


@pytest.fixture
def mailadmin_target() -> ConformanceTarget:
    return ConformanceTarget.registered(
        "zextras",
        settings=_settings,
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        over_licence_seed=OVER_LICENCE,
        probe=ZextrasProbe(),
        refusals=REFUSALS,
    )


class TestConformance(suite.ConformanceSuite):
    pass
