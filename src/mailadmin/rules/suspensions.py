"""Which tenants are suspended through mailadmin, and the refusal that follows.

A tenant suspended for non-payment or abuse must not be sold more while it is: its plan
changes, add-ons and sales are refused by the policy step, before anything is sent, until
it is resumed. The platform keeps the suspension itself (no login reaches the mail); this
record is what mailadmin's own rules and reports know of it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.store.database import Database

__all__ = ["SUSPENDED_REASON", "Suspension", "Suspensions"]

#: The policy reason of a refusal because the tenant is suspended.
SUSPENDED_REASON = "tenant_suspended"


class Suspension(BaseModel):
    """One suspended tenant: since when, why, and who suspended it."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    instance: str
    reason: str
    identity: str | None
    since: datetime


class Suspensions:
    """The suspended tenants in the store (a row per suspended tenant)."""

    def __init__(self, store: Database) -> None:
        self._store = store

    def mark(
        self, instance: str, tenant: str, *, suspended: bool, reason: str, identity: str | None
    ) -> None:
        """Record a suspension (or, ``suspended=False``, its end) the platform confirmed."""
        from mailadmin.store.schema import tenant_status

        name = tenant.strip().lower()
        with self._store.begin() as db:
            db.execute(tenant_status.delete().where(tenant_status.c.tenant == name))
            if suspended:
                db.execute(
                    tenant_status.insert().values(
                        tenant=name,
                        instance=instance,
                        reason=reason,
                        identity=identity,
                        since=datetime.now(UTC),
                    )
                )

    def of(self, tenant: str) -> Suspension | None:
        """The tenant's suspension, or ``None`` when it is not suspended."""
        from mailadmin.store.schema import tenant_status

        query = tenant_status.select().where(tenant_status.c.tenant == tenant.strip().lower())
        with self._store.connect() as db:
            row = db.execute(query).mappings().first()
        return Suspension.model_validate(dict(row)) if row is not None else None

    def all(self) -> dict[str, Suspension]:
        """Every suspended tenant, by name."""
        from mailadmin.store.schema import tenant_status

        with self._store.connect() as db:
            rows = db.execute(tenant_status.select()).mappings().all()
        return {row["tenant"]: Suspension.model_validate(dict(row)) for row in rows}

    def refuse_if_suspended(self, tenant: str, what: str) -> None:
        """A ``PolicyDenied`` naming the suspension when ``tenant`` is suspended."""
        found = self.of(tenant)
        if found is None:
            return
        why = f" ({found.reason})" if found.reason else ""
        raise errors.PolicyDenied(
            f"Customer '{found.tenant}' is suspended{why}: {what} is refused until it is resumed",
            reason=SUSPENDED_REASON,
        )
