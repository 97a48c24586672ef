"""The conformance target: the mailcow provider, its mock, and how the mock refuses."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin.mock import Fault
from mailadmin.sdk import (
    AddonRef,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    ProviderSettings,
    TenantRef,
)
from mailadmin.testing import ConformanceTarget, StateProbe

from mailadmin_mailcow.mock import MailcowMock
from mailadmin_mailcow.provider import MailcowProvider

_MIB = 1024 * 1024
#: The mock's read-write key (the default of the settings too).
API_KEY = "0A1B2C-3D4E5F-6A7B8C-9D0E1F-2A3B4C"


def settings(base_url: str) -> dict[str, Any]:
    """Settings for a mock answering at ``base_url`` (plans: the defaults)."""
    return {"endpoint": base_url, "credentials": {"username": "api", "secret": API_KEY}}


class MailcowProbe(StateProbe):
    """Reads the mock's state, so the kit checks every write on the platform itself."""

    def plan(self, state: Any, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        box = state["mailboxes"].get(mailbox.address.lower())
        if box is None:
            return None
        # A plan is a quota and four access flags: all five are compared.
        held = {
            "quota_mb": box["quota"],
            "imap": bool(box["imap_access"]),
            "pop3": bool(box["pop3_access"]),
            "activesync": bool(box["eas_access"]),
            "dav": bool(box["dav_access"]),
        }
        return self.neutral_plan(settings, held)

    def addon(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        domain = state["domains"].get(tenant.key.lower())
        if domain is None:
            return None
        if addon.name == "storage_gb":
            return int(domain["quota"]) // 1024
        return int(domain["mailboxes"])

    def mailboxes(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        return {
            name: MailboxKind.USER
            for name, box in state["mailboxes"].items()
            if box["domain"] == tenant.key.lower()
        }

    def password_matches(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        box = state["mailboxes"].get(mailbox.address.lower())
        return box is not None and box["password"] == password

    def mailbox_suspended(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        box = state["mailboxes"].get(mailbox.address.lower())
        return box is not None and int(box["active"]) == 0

    def tenant_suspended(self, state: Any, settings: ProviderSettings, tenant: TenantRef) -> bool:
        return int(state["domains"][tenant.key.lower()]["active"]) == 0

    def mailbox_settings(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        address = mailbox.address.lower()
        box = state["mailboxes"].get(address) or {}
        aliases = [a["address"] for a in state.get("aliases", []) if a["goto"] == address]
        return MailboxSettings(
            display_name=box.get("name", ""),
            quota_mb=box.get("quota") or None,
            aliases=tuple(sorted(aliases)),
        )

    def tenant_exists(self, state: Any, settings: ProviderSettings, tenant: TenantRef) -> bool:
        return tenant.key.lower() in state["domains"]


def _answer(msg: Any, *, kind: str = "danger") -> Fault:
    """mailcow's answer to ``edit/mailbox``: HTTP 200 whatever happened."""
    log = ["mailbox", "edit", "mailbox", {"username": ["anna@example.com"]}, None]
    return Fault.json_answer([{"type": kind, "log": log, "msg": msg}], operation="edit_mailbox")


#: How mailcow refuses a plan change (``edit/mailbox``); every refusal comes in a 200.
REFUSALS: dict[str, Fault | str] = {
    # An edit of a mailbox that does not exist is answered access_denied.
    "not_found": _answer("access_denied"),
    "limit_reached": _answer(["mailbox_quota_left_exceeded", 1024]),
    "invalid": _answer(["username_invalid", "anna@example.com"]),
    # The session-less answer of json_api.php: an error object, still HTTP 200.
    "refused_in_200": Fault.json_answer(
        {"type": "error", "msg": "Cannot find attributes in post data"},
        operation="edit_mailbox",
    ),
    # The answer of delete/mailbox where the edit's was expected.
    "other_operation": _answer(["mailbox_removed", "anna@example.com"], kind="success"),
}


@pytest.fixture
def mailadmin_target() -> ConformanceTarget:
    """What the conformance kit runs against, in process and on loopback."""
    return ConformanceTarget(
        provider=MailcowProvider,
        mock=MailcowMock,
        settings=settings,
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        probe=MailcowProbe(),
        addon_quantities=(12, 15),
        refusals=REFUSALS,
    )
