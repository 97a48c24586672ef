"""Updating and removing customer and reseller records, journalled with who did it.

These writes change mailadmin's own store, not a platform, so they take no provider's
route: each is checked (reach, and that nothing still depends on the record), then
journalled as intent, store change and outcome, with the acting identity on the row. A
dry run checks everything and writes nothing. A row left open (the process stopped
between the intent and the change) is settled by ``journal resume``: the change is
absolute (the record's new values, or its absence), so repeating it is harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult, Outcome
from mailadmin.contract.provider import CallInfo
from mailadmin.rules.identities import IdentityKind

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.tenancy import Customer, Reseller
    from mailadmin.store.journal import JournalEntry

__all__ = ["RECORD_OPERATIONS", "UNSET", "Records"]

#: The journal's operation names of record changes (``journal resume`` settles them here).
RECORD_OPERATIONS = frozenset(
    {"update_customer", "remove_customer", "update_reseller", "remove_reseller"}
)
#: The journal's instance of a reseller's rows (a reseller belongs to no one platform).
_STORE = "store"


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


#: A field an update leaves as it is (``None`` clears the reseller or the renewal).
UNSET: Any = _Unset()


@dataclass
class _Change:
    operation: str
    instance: str
    name: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    arguments: dict[str, Any] = field(default_factory=dict)


class Records:
    """Customer and reseller updates and removals (the orchestrator's faces call these)."""

    def __init__(self, orch: Orchestrator) -> None:
        self._orch = orch

    # -- customers -----------------------------------------------------------------------

    async def update_customer(
        self,
        name: str,
        *,
        reseller: str | None = UNSET,
        package: Mapping[Any, int] | None = None,
        renewal: date | None = UNSET,
        dry_run: bool = False,
    ) -> ChangeResult[dict[str, Any]]:
        """Change a customer's reseller (``None``: the host's), package or renewal."""
        from mailadmin.rules.tenancy import CustomerSpec

        record = await asyncio.to_thread(self._customer_in_reach, name)
        identity = self._orch.rules.acting()
        values = record.model_dump(exclude={"name"})
        if reseller is not UNSET:
            owner = reseller.strip().lower() if reseller else None
            if identity.kind is not IdentityKind.SITE_ADMIN and owner != record.reseller:
                raise errors.PolicyDenied(
                    f"{identity} may not move customer '{record.name}' to another reseller",
                    reason="not_permitted",
                )
            values["reseller"] = owner
        if package is not None:
            values["package"] = dict(package)
        if renewal is not UNSET:
            values["renewal"] = renewal
        try:
            spec = CustomerSpec.model_validate(values)
        except ValueError as exc:
            raise errors.ValidationError(f"Customer '{record.name}': {_first(exc)}") from None
        tenancy = self._orch.rules.tenancy
        if spec.reseller is not None and tenancy.reseller(spec.reseller) is None:
            raise errors.ValidationError(f"Unknown reseller '{spec.reseller}'")
        change = _Change(
            "update_customer",
            self._orch.config.instance_of(record.name),
            record.name,
            _plain(record),
            {"name": record.name, **spec.model_dump(mode="json")},
        )
        return await self._journalled(change, dry_run, lambda: _save_customer(tenancy, change))

    async def remove_customer(
        self, name: str, *, terminating: bool = False, dry_run: bool = False
    ) -> ChangeResult[dict[str, Any]]:
        """Forget a customer record (its sales and its suspension go with it); refused
        while the platform still holds mailboxes of it, unless ``terminating`` (the
        termination removes them)."""
        record = await asyncio.to_thread(self._customer_in_reach, name)
        if not terminating:
            counts = await self._orch.rules.as_system(
                lambda: self._orch.count_mailboxes(record.name)
            )
            if counts.total:
                raise errors.PolicyDenied(
                    f"Customer '{record.name}' still has {counts.total} mailboxes: delete them "
                    "or terminate the customer first",
                    reason="has_mailboxes",
                )
        change = _Change(
            "remove_customer",
            self._orch.config.instance_of(record.name),
            record.name,
            _plain(record),
            None,
            {"terminating": terminating},
        )
        tenancy = self._orch.rules.tenancy
        return await self._journalled(change, dry_run, lambda: tenancy.remove_customer(record.name))

    # -- resellers -----------------------------------------------------------------------

    async def update_reseller(
        self,
        name: str,
        *,
        instance: str | None = UNSET,
        prepaid: bool | None = None,
        may_oversell: bool | None = None,
        package: Mapping[Any, int] | None = None,
        renewal: date | None = UNSET,
        dry_run: bool = False,
    ) -> ChangeResult[dict[str, Any]]:
        """Change a reseller's instance, terms, package or renewal (the site admin's)."""
        from mailadmin.rules.tenancy import ResellerSpec

        record = await asyncio.to_thread(self._reseller_for_admin, name)
        values = record.model_dump(exclude={"name"})
        given = {
            "instance": instance,
            "prepaid": prepaid,
            "may_oversell": may_oversell,
            "package": package,
            "renewal": renewal,
        }
        for key, value in given.items():
            if value is not UNSET and (value is not None or key in ("instance", "renewal")):
                values[key] = value
        if values["instance"] is not None and values["instance"] not in self._orch.instances:
            raise errors.ValidationError(f"Unknown instance '{values['instance']}'")
        try:
            spec = ResellerSpec.model_validate(values)
        except ValueError as exc:
            raise errors.ValidationError(f"Reseller '{record.name}': {_first(exc)}") from None
        change = _Change(
            "update_reseller",
            _STORE,
            record.name,
            _plain(record),
            {"name": record.name, **spec.model_dump(mode="json")},
        )
        tenancy = self._orch.rules.tenancy
        return await self._journalled(change, dry_run, lambda: _save_reseller(tenancy, change))

    async def remove_reseller(self, name: str, *, dry_run: bool = False) -> ChangeResult[Any]:
        """Forget a reseller record; refused while it still has customers."""
        record = await asyncio.to_thread(self._reseller_for_admin, name)
        tenancy = self._orch.rules.tenancy
        owned = await asyncio.to_thread(tenancy.customers, record.name)
        if owned:
            raise errors.PolicyDenied(
                f"Reseller '{record.name}' still has {len(owned)} customers: move or remove "
                "them first",
                reason="has_customers",
            )
        change = _Change("remove_reseller", _STORE, record.name, _plain(record), None)
        return await self._journalled(change, dry_run, lambda: tenancy.remove_reseller(record.name))

    # -- journal resume ------------------------------------------------------------------

    async def resume(self, entry: JournalEntry) -> ChangeResult[Any]:
        """Settle an open row of a record change by making the store hold its target."""
        journal = self._orch.journal
        assert journal is not None
        args = entry.arguments
        tenancy = self._orch.rules.tenancy
        change = _Change(
            entry.operation, entry.instance, str(args["name"]), None, args.get("after")
        )
        if entry.operation == "update_customer":
            await asyncio.to_thread(_save_customer, tenancy, change)
        elif entry.operation == "update_reseller":
            await asyncio.to_thread(_save_reseller, tenancy, change)
        elif entry.operation == "remove_customer":
            await asyncio.to_thread(tenancy.remove_customer, change.name)
        else:
            await asyncio.to_thread(tenancy.remove_reseller, change.name)
        result = ChangeResult[Any](
            operation=entry.operation,
            subject=change.name,
            outcome=Outcome.CHANGED,
            before=args.get("before"),
            after=change.after,
        )
        resumed = entry.outcome or entry.status
        await journal.write(journal.success(entry.call_id, result, resumed=resumed))
        return result

    # -- machinery -----------------------------------------------------------------------

    async def _journalled(
        self, change: _Change, dry_run: bool, apply: Any
    ) -> ChangeResult[dict[str, Any]]:
        outcome = Outcome.UNCHANGED if change.before == change.after else Outcome.CHANGED
        result = ChangeResult[dict[str, Any]](
            operation=change.operation,
            subject=change.name,
            outcome=outcome,
            before=change.before,
            after=change.after,
            dry_run=dry_run,
        )
        if dry_run or outcome is Outcome.UNCHANGED:
            return result
        journal = self._orch.journal
        arguments = {
            "name": change.name,
            "before": change.before,
            "after": change.after,
            **change.arguments,
        }
        info = CallInfo(change.instance, "store", change.operation, arguments)
        identity = str(self._orch.rules.acting())
        if journal is not None:
            await journal.write(journal.intent(info, identity=identity))
        try:
            await asyncio.to_thread(apply)
        except errors.MailadminError as error:
            if journal is not None:
                await journal.write(journal.failure(info.call_id, error))
            raise
        if journal is not None:
            await journal.write(journal.success(info.call_id, result))
        return result

    def _customer_in_reach(self, name: str) -> Customer:
        orch = self._orch
        identity = orch.rules.acting()
        if identity.kind not in (IdentityKind.SITE_ADMIN, IdentityKind.RESELLER):
            raise errors.PolicyDenied(
                f"{identity} may not change customer records", reason="not_permitted"
            )
        record = orch.rules.tenancy.customer(name)
        if record is None or not orch.rules.reachable(record.name):
            # An unknown name and another reseller's customer get the same answer.
            raise errors.PolicyDenied(
                f"{identity} has no customer '{name.strip().lower()}'", reason="cross_boundary"
            )
        return record

    def _reseller_for_admin(self, name: str) -> Reseller:
        self._orch.rules.require_site_admin("or change reseller records")
        record = self._orch.rules.tenancy.reseller(name)
        if record is None:
            raise errors.ValidationError(f"Unknown reseller '{name.strip().lower()}'")
        return record


def _plain(record: Customer | Reseller) -> dict[str, Any]:
    dumped: dict[str, Any] = record.model_dump(mode="json")
    return dumped


def _first(exc: ValueError) -> str:
    errors_of = getattr(exc, "errors", None)
    if callable(errors_of):
        found = errors_of()
        if found:
            where = ".".join(str(p) for p in found[0].get("loc", ()))
            return f"{where}: {found[0].get('msg', 'invalid')}"
    return "invalid values"


def _save_customer(tenancy: Any, change: _Change) -> None:
    from mailadmin.rules.tenancy import CustomerSpec

    assert change.after is not None
    spec = CustomerSpec.model_validate({k: v for k, v in change.after.items() if k != "name"})
    tenancy.save_customer(change.name, spec)


def _save_reseller(tenancy: Any, change: _Change) -> None:
    from mailadmin.rules.tenancy import ResellerSpec

    assert change.after is not None
    spec = ResellerSpec.model_validate({k: v for k, v in change.after.items() if k != "name"})
    tenancy.save_reseller(change.name, spec)
