"""The Exchange provider passes the whole conformance kit against its mock, in process and
on loopback, with quota plans (Set-Mailbox + Set-CASMailbox) and with licence plans (Graph
assignLicense)."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_exchange.demo import sample_config
from mailadmin_exchange.mock.model import DEFAULT_TENANT, DEFAULT_TENANT_ID, STANDARD
from mailadmin_exchange.mock.refusals import LICENCE_REFUSALS, REFUSALS

from mailadmin.sdk import (
    AddonRef,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    ProviderSettings,
    TenantRef,
)
from mailadmin.testing import ConformanceTarget, suite
from mailadmin.testing.probe import StateProbe

_MB = 1 << 20
_GB = 1 << 30
_KINDS = {
    "UserMailbox": MailboxKind.USER,
    "SharedMailbox": MailboxKind.SHARED,
    "RoomMailbox": MailboxKind.ROOM,
    "EquipmentMailbox": MailboxKind.EQUIPMENT,
}
_FLAGS = ("activesync", "owa", "mapi", "pop", "imap")


class ExchangeProbe(StateProbe):
    """Reads the Exchange mock's snapshot in Exchange's own terms: a mailbox's licences
    (licence plans), or its three quotas and client-access flags (quota plans)."""

    def plan(self, state: Any, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        tenant = _tenant(state, mailbox.tenant)
        record = tenant["mailboxes"].get(mailbox.address.lower())
        if record is None:
            return None
        plans: dict[str, Any] = dict(settings.plans)
        if any(getattr(p, "sku", None) for p in plans.values()):
            ids = {s["part_number"]: s["sku_id"] for s in tenant["skus"]}
            held = [n for n, p in plans.items() if ids.get(p.sku) in record["licenses"]]
            return held[0] if len(held) == 1 else ",".join(record["licenses"]) or "unlicensed"
        for name, plan in plans.items():
            if (
                _flags(plan) == tuple(record[f] for f in _FLAGS)
                and _extra(plan, record) is not None
            ):
                return name
        return f"{record['prohibit_send_receive_quota']} bytes, flags {_flags_of(record)}"

    def addon(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        assert addon.name == "storage_gb"
        plans: dict[str, Any] = dict(settings.plans)
        extras = []
        for record in _tenant(state, tenant)["mailboxes"].values():
            if record["type"] != "UserMailbox":
                continue
            for plan in plans.values():
                if _flags(plan) == tuple(record[f] for f in _FLAGS):
                    extra = _extra(plan, record)
                    extras.append((extra or 0) // _GB)
        return min(extras) if extras else None

    def mailboxes(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        records = _tenant(state, tenant)["mailboxes"].values()
        return {r["address"].lower(): _KINDS[r["type"]] for r in records}

    def password_matches(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        record = _tenant(state, mailbox.tenant)["mailboxes"].get(mailbox.address.lower())
        return record is not None and record["password"] == password

    def mailbox_suspended(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        record = _tenant(state, mailbox.tenant)["mailboxes"].get(mailbox.address.lower())
        return record is not None and record["account_enabled"] is False

    def mailbox_settings(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        record = _tenant(state, mailbox.tenant)["mailboxes"].get(mailbox.address.lower()) or {}
        quota = record.get("prohibit_send_receive_quota")
        return MailboxSettings(
            display_name=record.get("display_name", ""),
            forwarding=record.get("forwarding", ""),
            quota_mb=None if quota is None else quota // (1024 * 1024),
            aliases=tuple(sorted(record.get("aliases", []))),
        )


def _tenant(state: Any, ref: TenantRef) -> Any:
    key = ref.key.lower()
    for guid, tenant in state["tenants"].items():
        if key in (guid.lower(), tenant["name"].lower(), *(d.lower() for d in tenant["domains"])):
            return tenant
    raise AssertionError(f"the mock has no tenant {ref.key}")


def _flags(plan: Any) -> tuple[bool, ...]:
    return tuple(getattr(plan.client_access, f) for f in _FLAGS)


def _flags_of(record: Any) -> str:
    return ",".join(f for f in _FLAGS if record[f]) or "none"


def _extra(plan: Any, record: Any) -> int | None:
    """Bytes above the plan's quota when all three quotas are at the plan's proportions."""
    limit = record["prohibit_send_receive_quota"]
    base = plan.quota_mb * _MB
    if limit is None or limit < base:
        return None
    warning, send = limit * plan.warning_percent // 100, limit * plan.send_percent // 100
    if (record["issue_warning_quota"], record["prohibit_send_quota"]) != (warning, send):
        return None
    return int(limit - base)


_LICENCE_PLANS = {
    "mail": {"sku": "EXCHANGESTANDARD", "description": "Exchange Online Plan 1"},
    "sync": {"sku": "EXCHANGEENTERPRISE", "description": "Exchange Online Plan 2"},
}
#: Plan 1 with one prepaid unit while anna and carla hold it: over-used.
_OVER_LICENCE = {
    "tenants": {
        DEFAULT_TENANT_ID: {
            "skus": [
                {
                    "sku_id": STANDARD,
                    "part_number": "EXCHANGESTANDARD",
                    "enabled": 1,
                    "mailbox_plan": "ExchangeOnline",
                    "mailbox_plan_guid": "0a0e7a3b-1f3c-4d8e-9a55-0d2b7f1c2e11",
                }
            ]
        }
    }
}


def _settings(mode: str) -> Any:
    sample = sample_config()["instances"]["exchange"]
    plans = sample["plans"] if mode == "quota" else _LICENCE_PLANS

    def settings(url: str) -> dict[str, Any]:
        return {
            "endpoint": url,
            "tenant": DEFAULT_TENANT,
            "tenant_id": DEFAULT_TENANT_ID,
            "credentials": {"username": "mock-client", "secret": "secret"},
            "plans": plans,
            "page_size": 2,  # small pages, so every listing follows next links
        }

    return settings


@pytest.fixture(params=["quota", "licence"])
def mailadmin_target(request: pytest.FixtureRequest) -> ConformanceTarget:
    return ConformanceTarget.registered(
        "exchange",
        settings=_settings(request.param),
        tenant=DEFAULT_TENANT,
        mailbox=f"anna@{DEFAULT_TENANT}",
        plans=("mail", "sync"),
        over_licence_seed=_OVER_LICENCE,
        addon_quantities=(4, 6),
        probe=ExchangeProbe(),
        refusals=REFUSALS if request.param == "quota" else LICENCE_REFUSALS,
    )


class TestConformance(suite.ConformanceSuite):
    pass
