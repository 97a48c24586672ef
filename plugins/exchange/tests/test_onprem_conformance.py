"""The Exchange provider's on-premises mode passes the conformance kit against the
Exchange Server mock, in process (pypsrp's requests answered by the mock's router) and on
loopback, with quota plans; every write checked in the mock's state by OU."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_exchange.demo import sample_config
from mailadmin_exchange.server_mock import ServerState
from mailadmin_exchange.server_mock.state import onprem_mailbox

from mailadmin.mock import SystemClock
from mailadmin.sdk import AddonRef, MailboxKind, MailboxRef, ProviderSettings, TenantRef
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
OU = "contoso.local/Hosting/Fabrikam"
TENANT = TenantRef(name="fabrikam.com", native_id=OU)
#: Why no injected answer gives a plan change's refusal: PSRP carries it.
_IN_PIPELINE = (
    "Exchange Server refuses inside a PowerShell pipeline (an error record fetched by a "
    "Receive whose answer must repeat each request's MessageID), which a fixed injected "
    "answer cannot carry; the mock's cmdlet_errors give error records "
    "(test_onprem_provider.py, test_remoting.py)"
)


class OnPremProbe(StateProbe):
    """Reads the Exchange Server mock's snapshot: mailboxes of the tenant's OU, their
    three quotas and client-access flags."""

    def plan(self, state: Any, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        record = _mailbox(state, mailbox)
        if record is None:
            return None
        for name, plan in dict(settings.plans).items():
            if (
                _flags(plan) == tuple(record[f] for f in _FLAGS)
                and _extra(plan, record) is not None
            ):
                return name
        return f"{record['prohibit_send_receive_quota']} bytes"

    def addon(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        assert addon.name == "storage_gb"
        extras = []
        for record in _in_ou(state, tenant):
            if record["type"] != "UserMailbox":
                continue
            for plan in dict(settings.plans).values():
                if _flags(plan) == tuple(record[f] for f in _FLAGS):
                    extras.append((_extra(plan, record) or 0) // _GB)
        return min(extras) if extras else None

    def mailboxes(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        return {r["address"]: _KINDS[r["type"]] for r in _in_ou(state, tenant)}

    def password_matches(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        return False  # passwords are Active Directory's (declared unsupported)

    def mailbox_suspended(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        return False  # sign-in is Active Directory's (declared unsupported)


def _in_ou(state: Any, tenant: TenantRef) -> list[Any]:
    ou = (tenant.native_id or "").lower()
    return [r for r in state["mailboxes"].values() if r["organizational_unit"].lower() == ou]


def _mailbox(state: Any, mailbox: MailboxRef) -> Any:
    return next(
        (r for r in _in_ou(state, mailbox.tenant) if r["address"] == mailbox.address.lower()),
        None,
    )


def _flags(plan: Any) -> tuple[bool, ...]:
    return tuple(getattr(plan.client_access, f) for f in _FLAGS)


def _extra(plan: Any, record: Any) -> int | None:
    limit = record["prohibit_send_receive_quota"]
    base = plan.quota_mb * _MB
    if limit is None or limit < base or record["use_database_quota_defaults"]:
        return None
    warning, send = limit * plan.warning_percent // 100, limit * plan.send_percent // 100
    if (record["issue_warning_quota"], record["prohibit_send_quota"]) != (warning, send):
        return None
    return int(limit - base)


def _over_licence() -> dict[str, Any]:
    """The defaults plus two users: five user mailboxes against the three Standard CALs
    the settings say the host owns."""
    state = ServerState(clock=SystemClock())
    tenant = state.data.tenants["fabrikam"]
    for name in ("dora", "emil"):
        extra = onprem_mailbox(f"{name}@fabrikam.com", "UserMailbox", tenant)
        state.data.mailboxes[extra.address] = extra
    return {"mailboxes": state.snapshot()["mailboxes"]}


def _settings(url: str) -> dict[str, Any]:
    return {
        "endpoint": f"{url}/PowerShell",
        "auth": "basic",
        "credentials": {"username": "admin@contoso.local", "secret": "Passw0rd!"},
        "plans": sample_config()["instances"]["exchange"]["plans"],
        "tenancy": {
            "fabrikam.com": {"organizational_unit": OU, "address_book_policy": "Fabrikam ABP"}
        },
        "cals": {"standard": 3, "enterprise": 1},
    }


@pytest.fixture
def mailadmin_target() -> ConformanceTarget:
    return ConformanceTarget.registered(
        "exchserver",
        settings=_settings,
        tenant=TENANT,
        mailbox="anna@fabrikam.com",
        plans=("mail", "sync"),
        addon_quantities=(4, 6),
        over_licence_seed=_over_licence(),
        probe=OnPremProbe(),
        refusals=dict.fromkeys(
            ("not_found", "limit_reached", "invalid", "refused_in_200", "other_operation"),
            _IN_PIPELINE,
        ),
    )


class TestConformance(suite.ConformanceSuite):
    pass
