"""The OX provider passes the whole conformance kit against its mock, in process and on
loopback, signed in as a reseller and as the master admin."""

from __future__ import annotations

from typing import Any

import pytest
from mailadmin_ox.demo import sample_config
from mailadmin_ox.mock.refusals import REFUSALS
from mailadmin_ox.settings import OXResourceKinds

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

_LOGINS = {
    "reseller": {"username": "reseller", "secret": "secret"},
    "master_admin": {"username": "oxadminmaster", "secret": "secret"},
}


def _settings(mode: str) -> Any:
    plans = sample_config()["instances"]["ox"]["plans"]

    def settings(url: str) -> dict[str, Any]:
        return {
            "endpoint": url,
            "mode": mode,
            "credentials": _LOGINS[mode],
            "plans": plans,
            "storage_base_mb": 1024,
        }

    return settings


class OXProbe(StateProbe):
    """Reads the OX mock's snapshot: a context's users (access combination), functional
    accounts, resources (kind by the instance's convention), restrictions and ``maxQuota``."""

    def plan(self, state: Any, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        for user in _context(state, mailbox.tenant)["users"]:
            if str(user.get("primaryEmail", "")).lower() == mailbox.address.lower():
                return self.neutral_plan(settings, user["access_combination"], "access_combination")
        return None

    def addon(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        context = _context(state, tenant)
        if addon.name == "storage_gb":
            base = getattr(settings, "storage_base_mb", 0)
            return max(0, (int(context["maxQuota"]) - base) // 1024)
        name = "Context.MaxUser"
        if addon.plan is not None:
            combination = getattr(settings.plans[addon.plan], "access_combination", "")
            name = f"Context.MaxUserByModuleaccess_{combination}"
        value = context["restrictions"].get(name)
        return None if value is None else int(value)

    def mailboxes(
        self, state: Any, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        context = _context(state, tenant)
        admins = getattr(settings, "count_context_admin", True)
        users = [u for u in context["users"] if admins or not u.get("contextadmin")]
        found = {str(u["primaryEmail"]).lower(): MailboxKind.USER for u in users}
        for account in context["accounts"]:
            found[str(account["primaryAddress"]).lower()] = MailboxKind.SHARED
        kinds = getattr(settings, "resource_kinds", OXResourceKinds())
        for resource in context["resources"]:
            kind = kinds.kind_of({k: str(v) for k, v in resource.items() if v is not None})
            if kind is not None:
                found[str(resource["email"]).lower()] = kind
        return found

    def password_matches(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        user = _user(state, mailbox)
        return user is not None and user["password"] == password

    def mailbox_suspended(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        user = _user(state, mailbox)
        return user is not None and user.get("mailenabled") is False

    def tenant_suspended(self, state: Any, settings: ProviderSettings, tenant: TenantRef) -> bool:
        return _context(state, tenant)["enabled"] is False

    def mailbox_settings(
        self, state: Any, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        user = _user(state, mailbox) or {}
        primary = str(user.get("primaryEmail", "")).lower()
        quota = user.get("maxQuota")
        return MailboxSettings(
            display_name=str(user.get("display_name", "")),
            quota_mb=quota if isinstance(quota, int) and quota >= 0 else None,
            aliases=tuple(sorted({str(a).lower() for a in user.get("aliases", [])} - {primary})),
        )


def _user(state: Any, mailbox: MailboxRef) -> Any:
    for user in _context(state, mailbox.tenant)["users"]:
        if str(user.get("primaryEmail", "")).lower() == mailbox.address.lower():
            return user
    return None


def _context(state: Any, tenant: TenantRef) -> Any:
    for context in state["contexts"]:
        if tenant.key in (str(context["id"]), context["name"]):
            return context
    raise AssertionError(f"the OX mock has no context {tenant.key}")


@pytest.fixture(params=sorted(_LOGINS))
def mailadmin_target(request: pytest.FixtureRequest) -> ConformanceTarget:
    over_licence = None
    if request.param == "reseller":
        # The sample reseller owns context 1 (four users); two seats put it over.
        over_licence = {
            "resellers": [
                {
                    "name": "reseller",
                    "password": "secret",
                    "restrictions": {"Subadmin.MaxOverallUser": "2"},
                }
            ]
        }
    return ConformanceTarget.registered(
        "ox",
        settings=_settings(request.param),
        tenant="example.com",
        mailbox="anna@example.com",
        plans=("mail", "sync"),
        probe=OXProbe(),
        refusals=REFUSALS,
        over_licence_seed=over_licence,
    )


class TestConformance(suite.ConformanceSuite):
    pass


_ADDONS = [("mailboxes", 20), ("mailboxes:sync", 5), ("mailboxes:collaborate", 3)]


@pytest.mark.parametrize("through", ["orchestrator", "provider"])
async def test_concurrent_addons_of_one_context_all_land(through: str) -> None:
    """Every OX seat limit of a context is one restriction list, read, changed and written
    back whole: three add-ons applied at once must not overwrite each other, whether they
    come through the orchestrator or a provider used directly."""
    import asyncio

    from mailadmin_ox.mock.platform import OXMock
    from mailadmin_ox.provider import OXProvider

    from mailadmin.mock import MockServer
    from mailadmin.testing import Orchestrator

    server = MockServer(OXMock)
    server.inject({"kind": "latency", "delay": 0.01})  # every call yields to the others
    http = server.router(OXMock.base_url)
    config = sample_config()
    config["instances"]["ox"]["endpoint"] = OXMock.base_url
    config["journal"] = {"url": None}
    if through == "orchestrator":
        async with Orchestrator.from_dict(config, http={"ox": http}) as orch:
            result = await orch.apply_addons([("example.com", a, q) for a, q in _ADDONS])
        assert result.ok, result
    else:
        settings = {k: v for k, v in config["instances"]["ox"].items() if k != "provider"}
        tenant = TenantRef(name="example.com", native_id="1")
        async with OXProvider(settings, http=http) as provider:
            await asyncio.gather(*(provider.apply_addon(tenant, a, q) for a, q in _ADDONS))
    [context] = [c for c in server.snapshot()["contexts"] if c["id"] == 1]
    assert {
        name: value
        for name, value in context["restrictions"].items()
        if name.startswith("Context.MaxUser")
    } == {
        "Context.MaxUser": "20",
        "Context.MaxUserByModuleaccess_pim_mobility": "5",
        "Context.MaxUserByModuleaccess_groupware_premium": "3",
    }
