"""Add-on allocations that mailadmin keeps itself, for platforms that have no such limit.

Shared and resource mailboxes are sold as add-ons, but some platforms (OX, Exchange) set no
limit on them. For those, the orchestrator records the quantity bought here, beside the
journal, and checks it when a shared, room or equipment mailbox is created. A tenant with
no recorded allocation is not limited. Setting one is a write like any other: it goes
through the provider call path (hooks, policy, journal, per-subject lock).

The methods are blocking (SQLAlchemy); async callers run them in a worker thread.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, computed_field

from mailadmin.contract.models import MailboxCount, MailboxKind

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["KEPT_ADDONS", "AllocationUse", "Allocations", "addon_for_kind", "used_by"]

#: Add-ons the orchestrator can keep when the provider does not.
KEPT_ADDONS = frozenset({"shared_mailbox", "resource_mailbox"})


def addon_for_kind(kind: MailboxKind) -> str | None:
    """The add-on that limits mailboxes of ``kind`` (rooms and equipment share one)."""
    if kind is MailboxKind.SHARED:
        return "shared_mailbox"
    if kind in (MailboxKind.ROOM, MailboxKind.EQUIPMENT):
        return "resource_mailbox"
    return None


def used_by(addon: str, counts: MailboxCount) -> int:
    """How many mailboxes of a tenant count against a kept add-on."""
    kinds = [k for k in MailboxKind if addon_for_kind(k) == addon]
    return sum(counts.of(kind) for kind in kinds)


class AllocationUse(BaseModel):
    """A kept allocation against its use: the quota over-usage report's row."""

    model_config = ConfigDict(frozen=True)

    instance: str
    tenant: str
    addon: str
    allocated: int
    used: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def remaining(self) -> int:
        """Allocated minus used; negative when over-used."""
        return self.allocated - self.used

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over_used(self) -> bool:
        """True when more are in use than were bought (the allocation was lowered)."""
        return self.used > self.allocated


class Allocations:
    """Quantities bought per (instance, tenant, add-on), in table ``mailadmin_allocations``."""

    def __init__(self, engine: sa.Engine, *, lock: threading.Lock | None = None) -> None:
        """``lock``: held around every database use (pass the journal's when sharing its
        engine)."""
        import sqlalchemy as sa

        self._engine = engine
        meta = sa.MetaData()
        self._table = sa.Table(
            "mailadmin_allocations",
            meta,
            sa.Column("instance", sa.String(255), primary_key=True),
            sa.Column("tenant", sa.String(255), primary_key=True),
            sa.Column("addon", sa.String(64), primary_key=True),
            sa.Column("quantity", sa.Integer, nullable=False),
            sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        )
        self._lock = lock or threading.Lock()
        with self._lock:
            meta.create_all(engine)

    def get(self, instance: str, tenant: str, addon: str) -> int | None:
        """The quantity bought, or ``None`` when none was recorded."""
        t = self._table
        query = t.select().where(t.c.instance == instance, t.c.tenant == tenant, t.c.addon == addon)
        with self._lock, self._engine.connect() as db:
            row = db.execute(query).mappings().first()
        return None if row is None else int(row["quantity"])

    def set(self, instance: str, tenant: str, addon: str, quantity: int) -> None:
        """Record the total quantity bought (absolute, like every add-on)."""
        t = self._table
        key = (t.c.instance == instance, t.c.tenant == tenant, t.c.addon == addon)
        now = datetime.now(UTC)
        with self._lock, self._engine.begin() as db:
            updated = db.execute(t.update().where(*key).values(quantity=quantity, updated=now))
            if updated.rowcount == 0:
                db.execute(
                    t.insert().values(
                        instance=instance,
                        tenant=tenant,
                        addon=addon,
                        quantity=quantity,
                        updated=now,
                    )
                )
