"""The conformance target: the Mailcow provider, its mock and what the mock starts with."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin.mock import Fault
from mailadmin.sdk import AddonRef, MailboxKind, MailboxRef, ProviderSettings, TenantRef
from mailadmin.testing import ConformanceTarget, StateProbe

from mailadmin_mailcow.mock import MailcowMock
from mailadmin_mailcow.provider import MailcowProvider


def settings(base_url: str) -> dict[str, Any]:
    """Settings for a mock answering at ``base_url`` (credentials and plans: defaults)."""
    return {"endpoint": base_url, "credentials": {"username": "admin", "secret": "secret"}}


class MailcowProbe(StateProbe):
    """Reads the mock's state, so the kit checks every write on the platform itself."""

    def plan(self, state: Any, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        for account in state["domains"][mailbox.tenant.key]["accounts"]:
            if account["address"] == mailbox.address.lower():
                return self.neutral_plan(settings, account["plan"], "native")
        return None

    def addon(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        limit = {"mailboxes": "max_accounts", "storage_gb": "storage_gb"}[addon.name]
        found = state["domains"][tenant.key]["limits"].get(limit)
        return None if found is None else int(found)

    def mailboxes(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        accounts = state["domains"][tenant.key]["accounts"]
        return {a["address"]: MailboxKind(a["kind"]) for a in accounts}


def _refused(status: int, code: str, message: str) -> Fault:
    """The mock's error answer to the plan write (route ``set_plan``)."""
    body = {"error": {"code": code, "message": message}}
    return Fault.json_answer(body, status=status, operation="set_plan")


#: How the mock refuses a plan change, one fault per refusal the kit checks: the provider
#: must raise the matching typed error and report nothing as changed.
REFUSALS: dict[str, Fault | str] = {
    "not_found": _refused(404, "account_not_found", "No account 'anna@example.com'"),
    "limit_reached": _refused(409, "limit_reached", "10 accounts at most"),
    "invalid": _refused(400, "invalid_request", "The body must be a JSON object"),
    # The same error object in a 200 answer (some platforms refuse so).
    "refused_in_200": _refused(200, "account_not_found", "No account 'anna@example.com'"),
    # The answer of another call (the domain's limits) where the account was expected.
    "other_operation": Fault.json_answer({"limits": {"max_accounts": 10}}, operation="set_plan"),
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
        over_licence_seed={"licence": {"seats": 1}},
        refusals=REFUSALS,
    )
