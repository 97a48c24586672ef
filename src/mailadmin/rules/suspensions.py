"""Which tenants are suspended through mailadmin, and the refusal that follows.

A tenant suspended for non-payment or abuse must not be sold more while it is: its plan
changes, add-ons and sales are refused by the policy step, before anything is sent, until
it is resumed. The platform keeps the suspension itself (no login reaches the mail); this
record is what mailadmin's own rules and reports know of it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.store.database import Database

__all__ = ["SUSPENDED_REASON", "Suspension", "Suspensions"]

#: The policy reason of a refusal because the tenant is suspended.
SUSPENDED_REASON = "tenant_suspended"
#: How long (seconds) the names of the suspended tenants are reused before being read
#: again: a bulk run's items share one read, and a suspension another process records is
#: seen within this time (this process's own are seen at once).
FRESH_FOR = 1.0


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
        self._names: tuple[float, frozenset[str]] | None = None

    def mark(
        self, instance: str, tenant: str, *, suspended: bool, reason: str, identity: str | None
    ) -> None:
        """Record a suspension (or, ``suspended=False``, its end) the platform confirmed."""
        from mailadmin.store.schema import tenant_status

        name = tenant.strip().lower()
        self._names = None
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

    def names(self) -> frozenset[str]:
        """The suspended tenants' names, read again after :data:`FRESH_FOR` seconds."""
        from mailadmin.store.schema import tenant_status

        now = time.monotonic()
        if self._names is None or now - self._names[0] > FRESH_FOR:
            with self._store.connect() as db:
                rows = db.execute(tenant_status.select().with_only_columns(tenant_status.c.tenant))
                self._names = (now, frozenset(row[0] for row in rows))
        return self._names[1]

    def cached(self) -> frozenset[str] | None:
        """The names :meth:`names` read, while fresh; ``None`` when they must be read
        (an event loop asks this first and reads in a thread only then)."""
        names = self._names
        if names is None or time.monotonic() - names[0] > FRESH_FOR:
            return None
        return names[1]

    def refuse_if_suspended(self, tenant: str, what: str) -> None:
        """A ``PolicyDenied`` naming the suspension when ``tenant`` is suspended."""
        if tenant.strip().lower() not in self.names():
            return
        found = self.of(tenant)
        if found is None:
            return
        why = f" ({found.reason})" if found.reason else ""
        raise errors.PolicyDenied(
            f"Customer '{found.tenant}' is suspended{why}: {what} is refused until it is resumed",
            reason=SUSPENDED_REASON,
        )
