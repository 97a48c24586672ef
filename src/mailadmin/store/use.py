"""The use each tenant makes of each resource, in table ``mailadmin_tenant_use``.

A live count sets a tenant's use (absolute); a mailbox created or deleted through the
orchestrator moves it by one. A tenant never counted has no rows: its use is unknown, not
zero. The methods are blocking (SQLAlchemy); async callers run them in a worker thread.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mailadmin.store.database import Database

__all__ = ["UseTable"]


class UseTable:
    """Per (instance, tenant, resource) use; resources are named by text
    (``"shared_mailboxes"``)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def get(self, instance: str, tenant: str) -> dict[str, int] | None:
        """The recorded use of every resource of a tenant, or ``None`` when never counted."""
        from mailadmin.store.schema import tenant_use as t

        query = t.select().where(t.c.instance == instance, t.c.tenant == tenant.lower())
        with self._db.connect() as db:
            rows = db.execute(query).mappings().all()
        if not rows:
            return None
        return {str(row["resource"]): int(row["used"]) for row in rows}

    def set(self, instance: str, tenant: str, used: Mapping[str, int]) -> None:
        """Record a live count: the use of each resource in ``used``, absolute."""
        from mailadmin.store.schema import tenant_use as t

        tenant = tenant.lower()
        now = datetime.now(UTC)
        with self._db.begin() as db:
            for resource, amount in sorted(used.items()):
                key = (t.c.instance == instance, t.c.tenant == tenant, t.c.resource == resource)
                values = {"used": amount, "counted": now, "updated": now}
                done = db.execute(t.update().where(*key).values(**values))
                if done.rowcount == 0:
                    db.execute(
                        t.insert().values(
                            instance=instance, tenant=tenant, resource=resource, **values
                        )
                    )

    def add(self, instance: str, tenant: str, resource: str, delta: int) -> bool:
        """Move a recorded use by ``delta`` (never below zero), in one statement so two
        processes moving it at once both count. Returns False when the tenant was never
        counted: nothing is recorded then (its first check reads the platform)."""
        import sqlalchemy as sa

        from mailadmin.store.schema import tenant_use as t

        key = (t.c.instance == instance, t.c.tenant == tenant.lower(), t.c.resource == resource)
        moved = sa.case((t.c.used + delta < 0, 0), else_=t.c.used + delta)
        with self._db.begin() as db:
            done = db.execute(t.update().where(*key).values(used=moved, updated=datetime.now(UTC)))
        return done.rowcount > 0

    def forget(self, instance: str, tenant: str) -> None:
        """Drop a tenant's use (unknown again: the next check counts it live)."""
        from mailadmin.store.schema import tenant_use as t

        query = t.delete().where(t.c.instance == instance, t.c.tenant == tenant.lower())
        with self._db.begin() as db:
            db.execute(query)
