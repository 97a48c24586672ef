"""Reading the platform's own state, so the kit checks what a write did there.

A provider that writes a plan into the wrong field and reads it back from that same field
looks right to every test that only asks the provider. The suites therefore also read the
mock's state snapshot (``MockControl.state()``, the same in both modes) through a
:class:`StateProbe` the plugin author writes in the mock's own terms::

    class MyProbe(StateProbe):
        def plan(self, state, settings, mailbox):
            record = find(state["users"], mailbox.address)
            return None if record is None else self.neutral_plan(settings, record["cos"], "cos")

        def addon(self, state, settings, tenant, addon):
            return state["domains"][tenant.key]["limits"].get(addon.name)

        def mailboxes(self, state, settings, tenant):
            return {u["address"]: MailboxKind(u["kind"]) for u in state["users"]}

    ConformanceTarget(..., probe=MyProbe())

:class:`MemoryProbe` is the reference platform's, a complete example.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailadmin.contract.models import (
    AddonRef,
    MailboxKind,
    MailboxRef,
    MailboxSettings,
    TenantRef,
)
from mailadmin.contract.settings import ProviderSettings

__all__ = ["MemoryProbe", "StateProbe"]

State = Mapping[str, Any]


class StateProbe:
    """Answers the kit's questions about a mock's state snapshot.

    Each method gets the snapshot (``state``), the provider's settings (plan mappings,
    storage bases...) and what is asked about. Implement the ones the provider's
    capabilities need: ``plan`` always, ``addon`` for declared add-ons, ``mailboxes`` for
    creation and deletion.
    """

    def plan(self, state: State, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        """The neutral plan the platform holds for a user mailbox; its native name when no
        configured plan maps to it; ``None`` when the mailbox is not there."""
        raise NotImplementedError(f"{type(self).__name__} does not read plans")

    def addon(
        self, state: State, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        """The add-on total the platform holds for the tenant (``None``: no limit set)."""
        raise NotImplementedError(f"{type(self).__name__} does not read add-ons")

    def mailboxes(
        self, state: State, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        """Every mailbox of the tenant on the platform: lower-case address -> kind."""
        raise NotImplementedError(f"{type(self).__name__} does not read mailboxes")

    def password_matches(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        """True when the platform would accept ``password`` for the mailbox (for
        ``set_password``); a mock that keeps a hash compares the hash."""
        raise NotImplementedError(f"{type(self).__name__} does not read passwords")

    def mailbox_suspended(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        """True when the platform refuses the mailbox every access (for
        ``suspend_mailbox``); ``False`` when it is active."""
        raise NotImplementedError(f"{type(self).__name__} does not read mailbox suspensions")

    def tenant_suspended(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        """True when the platform refuses every mailbox of the tenant access (for
        ``suspend_tenant``); ``False`` when it is active."""
        raise NotImplementedError(f"{type(self).__name__} does not read tenant suspensions")

    def mailbox_settings(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        """The mailbox's display name, forwarding address, quota in MB and aliases as the
        platform holds them (for the settings operations)."""
        raise NotImplementedError(f"{type(self).__name__} does not read mailbox settings")

    def tenant_exists(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        """True when the platform holds the tenant (for ``create_tenant`` and
        ``delete_tenant``: its domain, context or tenant record)."""
        raise NotImplementedError(f"{type(self).__name__} does not read tenants")

    @staticmethod
    def neutral_plan(
        settings: ProviderSettings,
        native: str | Mapping[str, Any] | None,
        field: str | None = None,
    ) -> str | None:
        """The configured neutral plan the platform's record stands for.

        One field: ``neutral_plan(settings, record["cos"], "cos")``, the plan whose mapping
        has ``cos == record["cos"]``. Several fields (a plan made of a quota and access
        flags): ``neutral_plan(settings, {"quota_mb": 2048, "imap": True, "sync": False})``,
        the plan whose mapping has every one of these values. With no match the platform's
        own value comes back (for several fields: ``"imap=True, quota_mb=2048, ..."``), so a
        failure message shows what the platform holds; ``None`` stays ``None``.
        """
        if native is None:
            return None
        if isinstance(native, Mapping):
            wanted = dict(native)
        else:
            if field is None:
                raise TypeError("neutral_plan needs the field a single native value is in")
            wanted = {field: native}
        missing = object()
        for name, mapping in settings.plans.items():
            if all(getattr(mapping, key, missing) == value for key, value in wanted.items()):
                return name
        if isinstance(native, Mapping):
            return ", ".join(f"{key}={value}" for key, value in sorted(wanted.items()))
        return native


class MemoryProbe(StateProbe):
    """The reference (memory) platform's probe: tenants -> allocations and mailboxes."""

    _ALLOCATIONS = {
        "mailboxes": "user_seats",
        "shared_mailbox": "shared_mailboxes",
        "resource_mailbox": "resource_mailboxes",
        "storage_gb": "extra_storage_gb",
    }

    def plan(self, state: State, settings: ProviderSettings, mailbox: MailboxRef) -> str | None:
        """The mailbox's ``plan`` field, mapped back through the settings' ``native``."""
        record = self._mailbox(state, mailbox)
        return None if record is None else self.neutral_plan(settings, record["plan"], "native")

    def addon(
        self, state: State, settings: ProviderSettings, tenant: TenantRef, addon: AddonRef
    ) -> int | None:
        """The tenant's allocation the add-on maps to (``user_seats:<native>`` per plan)."""
        name = self._ALLOCATIONS[addon.name]
        if addon.plan is not None:
            name += ":" + str(getattr(settings.plans[addon.plan], "native", addon.plan))
        found = self._tenant(state, tenant).get("allocations", {}).get(name)
        return None if found is None else int(found)

    def mailboxes(
        self, state: State, settings: ProviderSettings, tenant: TenantRef
    ) -> dict[str, MailboxKind]:
        """The tenant's mailbox records."""
        records = self._tenant(state, tenant).get("mailboxes", [])
        return {m["address"].lower(): MailboxKind(m["kind"]) for m in records}

    def password_matches(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef, password: str
    ) -> bool:
        """The mailbox record's ``password``."""
        record = self._mailbox(state, mailbox)
        return record is not None and record.get("password") == password

    def mailbox_suspended(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> bool:
        """The mailbox record's ``status``."""
        record = self._mailbox(state, mailbox)
        return record is not None and record.get("status") == "suspended"

    def tenant_suspended(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        """The tenant record's ``status``."""
        return self._tenant(state, tenant).get("status") == "suspended"

    def mailbox_settings(
        self, state: State, settings: ProviderSettings, mailbox: MailboxRef
    ) -> MailboxSettings:
        """The mailbox record's ``display_name``, ``forwarding``, ``quota_mb``, ``aliases``."""
        record = self._mailbox(state, mailbox) or {}
        return MailboxSettings(
            display_name=record.get("display_name", ""),
            forwarding=record.get("forwarding", ""),
            quota_mb=record.get("quota_mb"),
            aliases=tuple(sorted(record.get("aliases", []))),
        )

    def tenant_exists(self, state: State, settings: ProviderSettings, tenant: TenantRef) -> bool:
        """A tenant record of that name."""
        return tenant.key.lower() in state["tenants"]

    def _tenant(self, state: State, tenant: TenantRef) -> Mapping[str, Any]:
        found: Mapping[str, Any] = state["tenants"].get(tenant.key.lower(), {})
        return found

    def _mailbox(self, state: State, mailbox: MailboxRef) -> Mapping[str, Any] | None:
        for record in self._tenant(state, mailbox.tenant).get("mailboxes", []):
            if record["address"].lower() == mailbox.address.lower():
                found: Mapping[str, Any] = record
                return found
        return None
