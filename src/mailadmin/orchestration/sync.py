"""A blocking facade over :class:`~mailadmin.Orchestrator` for non-async callers.

The async orchestrator runs on a private event loop in a daemon thread, so the facade
works from plain scripts, WSGI apps and threads alike (even where a loop is running).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Coroutine, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from mailadmin.contract.models import (
    AddonRef,
    ChangeResult,
    ConnectionStatus,
    Licence,
    Mailbox,
    MailboxCount,
    MailboxRef,
    NativePlan,
    NewMailbox,
    TenantRef,
)
from mailadmin.orchestration.bulk import BulkResult, OnError, Progress
from mailadmin.orchestration.orchestrator import Orchestrator

if TYPE_CHECKING:
    from mailadmin.contract.provider import Provider
    from mailadmin.orchestration.config import Config
    from mailadmin.orchestration.gate import BusinessRules
    from mailadmin.orchestration.registry import Registry
    from mailadmin.rules.allocations import Allocations, AllocationUse
    from mailadmin.rules.identities import Identity
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["SyncOrchestrator"]

T = TypeVar("T")


class SyncOrchestrator:
    """The orchestrator's operations as blocking calls.

    ``with SyncOrchestrator.from_config("mailadmin.toml") as mail: mail.set_plan(...)``.
    The wrapped async orchestrator is built on the facade's own loop.
    """

    def __init__(self, build: Any, *args: Any, **kwargs: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

        async def make() -> Orchestrator:
            result: Orchestrator = build(*args, **kwargs)
            return result

        self._identity: Identity | None = None
        self.orchestrator: Orchestrator = self._run(make())

    @classmethod
    def from_config(cls, path: str | Path, **kwargs: Any) -> SyncOrchestrator:
        """Build from a TOML configuration file."""
        return cls(Orchestrator.from_config, path, **kwargs)

    @classmethod
    def from_dict(cls, data: dict[str, Any], **kwargs: Any) -> SyncOrchestrator:
        """Build from an already parsed configuration."""
        return cls(Orchestrator.from_dict, data, **kwargs)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._identity is not None:
            from mailadmin.orchestration.gate import run_as

            coroutine = run_as(self._identity, coroutine)
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def acting_as(self, identity: Identity | str) -> SyncOrchestrator:
        """A blocking view whose calls act as ``identity`` (see :meth:`Orchestrator.acting_as`).

        It shares this facade's loop and orchestrator: close the facade, not the view.
        """
        from mailadmin.rules.identities import Identity

        view = copy.copy(self)
        view._identity = identity if isinstance(identity, Identity) else Identity.parse(identity)
        return view

    @property
    def rules(self) -> BusinessRules:
        """See :attr:`Orchestrator.rules` (tenancy, policies, orders)."""
        return self.orchestrator.rules

    # -- what the orchestrator knows, without waiting ------------------------------------

    @property
    def config(self) -> Config:
        """See :attr:`Orchestrator.config`."""
        return self.orchestrator.config

    @property
    def registry(self) -> Registry:
        """See :attr:`Orchestrator.registry`."""
        return self.orchestrator.registry

    @property
    def journal(self) -> Journal | None:
        """See :attr:`Orchestrator.journal`."""
        return self.orchestrator.journal

    @property
    def allocations(self) -> Allocations:
        """See :attr:`Orchestrator.allocations`."""
        return self.orchestrator.allocations

    @property
    def instances(self) -> list[str]:
        """See :attr:`Orchestrator.instances`."""
        return self.orchestrator.instances

    @property
    def tenants(self) -> list[str]:
        """See :attr:`Orchestrator.tenants`."""
        return self.orchestrator.tenants

    def provider(self, instance: str) -> Provider:
        """See :meth:`Orchestrator.provider` (its calls are async: use the facade's)."""
        return self.orchestrator.provider(instance)

    def provider_for(self, tenant: str | TenantRef) -> tuple[Provider, TenantRef]:
        """See :meth:`Orchestrator.provider_for`."""
        return self.orchestrator.provider_for(tenant)

    def mailbox(self, address: str | MailboxRef) -> tuple[Provider, MailboxRef]:
        """See :meth:`Orchestrator.mailbox`."""
        return self.orchestrator.mailbox(address)

    def allocation_use(self, counts: MailboxCount) -> list[AllocationUse]:
        """See :meth:`Orchestrator.allocation_use`."""
        return self.orchestrator.allocation_use(counts)

    # -- calls ------------------------------------------------------------------------------

    def set_plan(
        self, mailbox: str | MailboxRef, plan: str, *, dry_run: bool = False
    ) -> ChangeResult[str]:
        """See :meth:`Orchestrator.set_plan`."""
        return self._run(self.orchestrator.set_plan(mailbox, plan, dry_run=dry_run))

    def count_mailboxes(self, tenant: str | TenantRef) -> MailboxCount:
        """See :meth:`Orchestrator.count_mailboxes`."""
        return self._run(self.orchestrator.count_mailboxes(tenant))

    def apply_addon(
        self,
        tenant: str | TenantRef,
        addon: str | AddonRef,
        quantity: int,
        *,
        dry_run: bool = False,
    ) -> ChangeResult[int]:
        """See :meth:`Orchestrator.apply_addon`."""
        return self._run(self.orchestrator.apply_addon(tenant, addon, quantity, dry_run=dry_run))

    def get_licence(self, instance: str) -> Licence:
        """See :meth:`Orchestrator.get_licence`."""
        return self._run(self.orchestrator.get_licence(instance))

    def test_connection(self, instance: str) -> ConnectionStatus:
        """See :meth:`Orchestrator.test_connection`."""
        return self._run(self.orchestrator.test_connection(instance))

    def list_plans(self, instance: str) -> list[NativePlan]:
        """See :meth:`Orchestrator.list_plans`."""
        return self._run(self.orchestrator.list_plans(instance))

    def list_mailboxes(self, tenant: str | TenantRef) -> list[Mailbox]:
        """See :meth:`Orchestrator.list_mailboxes`."""
        return self._run(self.orchestrator.list_mailboxes(tenant))

    def create_mailbox(
        self, tenant: str | TenantRef, mailbox: NewMailbox, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """See :meth:`Orchestrator.create_mailbox`."""
        return self._run(self.orchestrator.create_mailbox(tenant, mailbox, dry_run=dry_run))

    def delete_mailbox(
        self, mailbox: str | MailboxRef, *, dry_run: bool = False
    ) -> ChangeResult[Mailbox]:
        """See :meth:`Orchestrator.delete_mailbox`."""
        return self._run(self.orchestrator.delete_mailbox(mailbox, dry_run=dry_run))

    def set_plans(
        self,
        changes: Iterable[tuple[str, str]],
        *,
        dry_run: bool = False,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[ChangeResult[str]]:
        """See :meth:`Orchestrator.set_plans`."""
        return self._run(
            self.orchestrator.set_plans(
                changes,
                dry_run=dry_run,
                concurrency=concurrency,
                on_error=on_error,
                progress=progress,
                distributed=distributed,
            )
        )

    def count_all(
        self,
        tenants: Iterable[str] | None = None,
        *,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[MailboxCount]:
        """See :meth:`Orchestrator.count_all`."""
        return self._run(
            self.orchestrator.count_all(
                tenants,
                concurrency=concurrency,
                on_error=on_error,
                progress=progress,
                distributed=distributed,
            )
        )

    def apply_addons(
        self,
        allocations: Iterable[tuple[str, str, int]],
        *,
        dry_run: bool = False,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[ChangeResult[int]]:
        """See :meth:`Orchestrator.apply_addons`."""
        return self._run(
            self.orchestrator.apply_addons(
                allocations,
                dry_run=dry_run,
                concurrency=concurrency,
                on_error=on_error,
                progress=progress,
                distributed=distributed,
            )
        )

    def resume_entry(self, entry: JournalEntry) -> ChangeResult[Any]:
        """See :meth:`Orchestrator.resume_entry`."""
        return self._run(self.orchestrator.resume_entry(entry))

    def submit_run(self, operation: str, items: list[dict[str, Any]]) -> str:
        """See :meth:`Orchestrator.submit_run`."""
        return self._run(self.orchestrator.submit_run(operation, items))

    def follow_run(
        self,
        run_id: str,
        *,
        progress: Progress | None = None,
        on_error: OnError = "collect",
        timeout: float | None = None,
    ) -> BulkResult[Any]:
        """See :meth:`Orchestrator.follow_run`."""
        return self._run(
            self.orchestrator.follow_run(
                run_id, progress=progress, on_error=on_error, timeout=timeout
            )
        )

    def licences(
        self, *, concurrency: int = 8, progress: Progress | None = None
    ) -> BulkResult[Licence]:
        """See :meth:`Orchestrator.licences`."""
        return self._run(self.orchestrator.licences(concurrency=concurrency, progress=progress))

    def check(self, *, progress: Progress | None = None) -> BulkResult[ConnectionStatus]:
        """See :meth:`Orchestrator.check`."""
        return self._run(self.orchestrator.check(progress=progress))

    def resume(
        self, *, run: str | None = None, concurrency: int = 8, progress: Progress | None = None
    ) -> BulkResult[ChangeResult[Any]]:
        """See :meth:`Orchestrator.resume`: settle what the journal leaves open."""
        return self._run(
            self.orchestrator.resume(run=run, concurrency=concurrency, progress=progress)
        )

    def aclose(self) -> None:
        """The blocking form of :meth:`Orchestrator.aclose`: the same as :meth:`close`."""
        self.close()

    def close(self) -> None:
        """Close the orchestrator and stop the private loop."""
        try:
            self._run(self.orchestrator.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def __enter__(self) -> SyncOrchestrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
