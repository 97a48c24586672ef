"""What each tenant uses of its allocations, kept in the store so a check sends nothing.

Allocation checks (the customers' allocations and the allocations mailadmin keeps for
platforms without such limits) compare against this use instead of counting the platform
live, so a creation beyond an allocation is refused before any request. The use is:

- set (absolute) by every live count: ``count_mailboxes``, ``count_all`` and the ``usage``
  report, since what the platform says when read is the truth;
- moved by one by every mailbox created (+1) or deleted (-1) through the orchestrator;
- read once from the platform, as the site admin, for a tenant never counted.

Mailboxes made or removed outside mailadmin are seen at the next live count. Storage is not
kept: a platform's mailbox count does not carry it, and no creation checks it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from mailadmin.contract.models import MailboxCount, MailboxKind
from mailadmin.rules.tenancy import Resource, resource_of_kind, used_of

if TYPE_CHECKING:
    from mailadmin.contract.models import TenantRef
    from mailadmin.contract.provider import Provider
    from mailadmin.store.use import UseTable

__all__ = ["MAILBOX_RESOURCES", "TenantUse", "use_of"]

#: The resources a mailbox count tells and a creation uses.
MAILBOX_RESOURCES = (
    Resource.USER_MAILBOXES,
    Resource.SHARED_MAILBOXES,
    Resource.RESOURCE_MAILBOXES,
)


def use_of(counts: MailboxCount) -> dict[Resource, int]:
    """The use of each mailbox resource in a live count."""
    return {r: used_of(r, counts) or 0 for r in MAILBOX_RESOURCES}


class TenantUse:
    """The kept use of every tenant (see the module's text), over a :class:`UseTable`."""

    def __init__(self, table: UseTable) -> None:
        self._table = table

    async def recorded(self, instance: str, tenant: str) -> dict[Resource, int] | None:
        """The use kept for a tenant, or ``None`` when it was never counted."""
        found = await asyncio.to_thread(self._table.get, instance, tenant)
        if found is None:
            return None
        return {r: found.get(r.value, 0) for r in MAILBOX_RESOURCES}

    async def record(self, instance: str, tenant: str, used: dict[str, int]) -> None:
        """Record a tenant's use of each resource named in ``used`` (absolute)."""
        await asyncio.to_thread(self._table.set, instance, tenant, used)

    async def refresh(self, instance: str, counts: MailboxCount) -> None:
        """Record a live count of ``counts.tenant`` as its use (absolute)."""
        used = {r.value: n for r, n in use_of(counts).items()}
        await asyncio.to_thread(self._table.set, instance, counts.tenant, used)

    async def current(self, provider: Provider, tenant: TenantRef) -> dict[Resource, int]:
        """The tenant's use, from the store: no request is sent.

        The first check of a never-counted tenant needs one read: the platform is counted
        once, as the site admin (the acting identity may not be allowed to count), and the
        count is stored and used from then on.
        """
        found = await self.recorded(provider.instance, tenant.name)
        if found is not None:
            return found
        from mailadmin.rules.identities import SITE_ADMIN, acting_scope

        with acting_scope(SITE_ADMIN):
            counts = await provider.count_mailboxes(tenant)
        counts = counts.model_copy(update={"tenant": tenant.name})
        await self.refresh(provider.instance, counts)
        return use_of(counts)

    async def created(self, instance: str, tenant: str, kind: MailboxKind) -> None:
        """One more mailbox of ``kind`` (nothing when the tenant was never counted)."""
        resource = resource_of_kind(kind).value
        await asyncio.to_thread(self._table.add, instance, tenant, resource, 1)

    async def deleted(self, instance: str, tenant: str, kind: MailboxKind | None) -> None:
        """One mailbox of ``kind`` fewer; an unknown kind makes the tenant's use unknown
        (counted live at its next check) rather than guessed."""
        if kind is None:
            await asyncio.to_thread(self._table.forget, instance, tenant)
            return
        resource = resource_of_kind(kind).value
        await asyncio.to_thread(self._table.add, instance, tenant, resource, -1)
