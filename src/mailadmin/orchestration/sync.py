"""A blocking facade over :class:`~mailadmin.Orchestrator` for non-async callers.

The async orchestrator runs on a private event loop in a daemon thread, so the facade
works from plain scripts, WSGI apps and threads alike (even where a loop is running).

Every public coroutine method of the orchestrator gets a blocking twin of the same name,
signature and docstring, generated when this module loads: a method added to
``Orchestrator`` is offered here without a line written (``tests/test_sync_facade.py``
proves the two match). What the orchestrator knows without waiting (its configuration,
instances, tenants, routing) is passed through as it is.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from mailadmin.orchestration.orchestrator import Orchestrator

if TYPE_CHECKING:
    from mailadmin.contract.provider import CallHooks, Provider
    from mailadmin.models import AddonRef, MailboxCount, MailboxRef, TenantRef
    from mailadmin.orchestration.config import Config
    from mailadmin.orchestration.gate import BusinessRules
    from mailadmin.orchestration.registry import Registry
    from mailadmin.rules.allocations import Allocations, AllocationUse
    from mailadmin.rules.identities import Identity
    from mailadmin.rules.tenancy import Tenancy
    from mailadmin.store.journal import Journal

__all__ = ["SyncOrchestrator", "blocking_twins"]

T = TypeVar("T")
P = ParamSpec("P")
R = TypeVar("R")

#: Attribute of a generated method naming the coroutine method it blocks on.
TWIN_OF = "__blocking_twin_of__"


if TYPE_CHECKING:

    class _Blocking(Generic[P, R]):
        """A blocking twin as the checker sees it: the coroutine's parameters, its result."""

        def __init__(
            self, method: Callable[Concatenate[Orchestrator, P], Coroutine[Any, Any, R]]
        ) -> None: ...

        def __get__(self, facade: object, owner: object = None) -> Callable[P, R]: ...


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

    # -- what the orchestrator knows, without waiting ------------------------------------

    @property
    def rules(self) -> BusinessRules:
        """See :attr:`Orchestrator.rules` (tenancy, policies, orders)."""
        return self.orchestrator.rules

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

    def reachable_tenants(self) -> list[str]:
        """See :meth:`Orchestrator.reachable_tenants`."""
        return self._run(_now(self.orchestrator.reachable_tenants))

    def check_plan(self, plan: str) -> str:
        """See :meth:`Orchestrator.check_plan`."""
        return self.orchestrator.check_plan(plan)

    def check_addon(self, addon: str | AddonRef, quantity: object = None) -> AddonRef:
        """See :meth:`Orchestrator.check_addon`."""
        return self.orchestrator.check_addon(addon, quantity)

    @property
    def plugin_hooks(self) -> CallHooks:
        """See :attr:`Orchestrator.plugin_hooks`."""
        return self.orchestrator.plugin_hooks

    @property
    def tenancy(self) -> Tenancy:
        """See :attr:`Orchestrator.tenancy`."""
        return self.orchestrator.tenancy

    def acting(self) -> Identity:
        """The identity this facade's calls act as."""
        return self._run(_now(self.orchestrator.acting))

    def holds_limit(self, tenant: str, addon: str) -> bool:
        """See :meth:`Orchestrator.holds_limit`."""
        return self.orchestrator.holds_limit(tenant, addon)

    def addon_value(self, addon: str) -> int:
        """See :meth:`Orchestrator.addon_value`."""
        return self.orchestrator.addon_value(addon)

    # -- the end of the facade ----------------------------------------------------------

    def close(self) -> None:
        """Close the orchestrator and stop the private loop."""
        try:
            self._run(self.orchestrator.aclose())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()

    def aclose(self) -> None:
        """The blocking form of :meth:`Orchestrator.aclose`: the same as :meth:`close`."""
        self.close()

    def __enter__(self) -> SyncOrchestrator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    if TYPE_CHECKING:
        # What the type checker sees of the generated twins: each the coroutine method's
        # parameters and result. At run time the loop below the class builds them all,
        # also those not listed here (which the checker then does not know).
        set_plan = _Blocking(Orchestrator.set_plan)
        count_mailboxes = _Blocking(Orchestrator.count_mailboxes)
        apply_addon = _Blocking(Orchestrator.apply_addon)
        get_licence = _Blocking(Orchestrator.get_licence)
        test_connection = _Blocking(Orchestrator.test_connection)
        list_plans = _Blocking(Orchestrator.list_plans)
        list_mailboxes = _Blocking(Orchestrator.list_mailboxes)
        create_mailbox = _Blocking(Orchestrator.create_mailbox)
        delete_mailbox = _Blocking(Orchestrator.delete_mailbox)
        set_password = _Blocking(Orchestrator.set_password)
        suspend_mailbox = _Blocking(Orchestrator.suspend_mailbox)
        resume_mailbox = _Blocking(Orchestrator.resume_mailbox)
        suspend_tenant = _Blocking(Orchestrator.suspend_tenant)
        resume_tenant = _Blocking(Orchestrator.resume_tenant)
        set_display_name = _Blocking(Orchestrator.set_display_name)
        set_forwarding = _Blocking(Orchestrator.set_forwarding)
        set_quota = _Blocking(Orchestrator.set_quota)
        add_alias = _Blocking(Orchestrator.add_alias)
        remove_alias = _Blocking(Orchestrator.remove_alias)
        list_aliases = _Blocking(Orchestrator.list_aliases)
        single_sign_on = _Blocking(Orchestrator.single_sign_on)
        reconcile = _Blocking(Orchestrator.reconcile)
        create_tenant = _Blocking(Orchestrator.create_tenant)
        delete_tenant = _Blocking(Orchestrator.delete_tenant)
        terminate = _Blocking(Orchestrator.terminate)
        update_customer = _Blocking(Orchestrator.update_customer)
        remove_customer = _Blocking(Orchestrator.remove_customer)
        update_reseller = _Blocking(Orchestrator.update_reseller)
        remove_reseller = _Blocking(Orchestrator.remove_reseller)
        set_plans = _Blocking(Orchestrator.set_plans)
        count_all = _Blocking(Orchestrator.count_all)
        apply_addons = _Blocking(Orchestrator.apply_addons)
        resume_entry = _Blocking(Orchestrator.resume_entry)
        submit_run = _Blocking(Orchestrator.submit_run)
        follow_run = _Blocking(Orchestrator.follow_run)
        licences = _Blocking(Orchestrator.licences)
        check = _Blocking(Orchestrator.check)
        count_as_system = _Blocking(Orchestrator.count_as_system)
        resume = _Blocking(Orchestrator.resume)


def blocking_twins() -> dict[str, Callable[..., Any]]:
    """Every public coroutine method of :class:`Orchestrator` by name (what gets a twin)."""
    return {
        name: method
        for name, method in inspect.getmembers(Orchestrator, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }


def _twin(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """The blocking form of ``Orchestrator.<name>``: same signature and docstring."""

    def blocking(self: SyncOrchestrator, /, *args: Any, **kwargs: Any) -> Any:
        return self._run(getattr(self.orchestrator, name)(*args, **kwargs))

    blocking.__name__ = name
    blocking.__qualname__ = f"SyncOrchestrator.{name}"
    blocking.__doc__ = method.__doc__
    blocking.__signature__ = inspect.signature(method)  # type: ignore[attr-defined]
    setattr(blocking, TWIN_OF, method)
    return blocking


for _name, _method in blocking_twins().items():
    if _name in SyncOrchestrator.__dict__:  # written by hand (``aclose`` also stops the loop)
        setattr(SyncOrchestrator.__dict__[_name], TWIN_OF, _method)
        continue
    setattr(SyncOrchestrator, _name, _twin(_name, _method))
del _name, _method


async def _now(read: Callable[[], T]) -> T:
    """A plain read run on the facade's loop, so it sees the facade's acting identity."""
    return read()
