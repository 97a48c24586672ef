"""The one path every provider call takes: per-subject serialisation, hooks, dry-run scope,
error normalisation.

``Provider._call`` runs every public operation through :func:`run_call`: the same locks,
the same plugin hooks and the same error normalisation for every platform.

Writes to one *subject* never interleave within a process: two writes to one mailbox, or
two writes to one tenant's limits (every add-on of that tenant), run one after the other;
writes to different subjects still run in parallel. :func:`subject_key` names the subject
of a call; the distributed bulk work takes a lock per subject under the same key.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from mailadmin.contract.capabilities import SETTINGS
from mailadmin.contract.models import ChangeResult
from mailadmin.contract.provider import _log_call, normalise
from mailadmin.wire.dryrun import dry_run_scope

if TYPE_CHECKING:
    from mailadmin.contract import errors
    from mailadmin.contract.provider import CallInfo, Provider

__all__ = ["SUBJECT_LOCKS", "SubjectLocks", "run_call", "subject_key"]

R = TypeVar("R")

_MAILBOX_WRITES = frozenset(
    {
        "set_plan",
        "create_mailbox",
        "delete_mailbox",
        "set_password",
        "suspend_mailbox",
        "resume_mailbox",
        *SETTINGS,
    }
)
# A tenant's suspension shares the key of its limits: both are the tenant's one record.
_LIMIT_WRITES = frozenset(
    {"apply_addon", "suspend_tenant", "resume_tenant", "create_tenant", "delete_tenant"}
)


def subject_key(instance: str, operation: str, arguments: Mapping[str, Any]) -> str | None:
    """The subject a write changes, as a stable text key; ``None`` for reads.

    ``"ox-eu/mailbox/anna@example.com"`` for ``set_plan``, ``create_mailbox`` and
    ``delete_mailbox``; ``"ox-eu/limits/example.com"`` for ``apply_addon`` (every add-on of
    a tenant shares one key, because platforms keep a tenant's limits in one record that
    is read, changed and written back whole). Names are lower-cased. The key depends only
    on the instance name and the call's arguments, so any process computes the same one.
    """
    if operation in _MAILBOX_WRITES:
        address = _field(arguments.get("mailbox"), "address")
        return None if address is None else f"{instance}/mailbox/{address.strip().lower()}"
    if operation in _LIMIT_WRITES:
        tenant = _field(arguments.get("tenant"), "name")
        return None if tenant is None else f"{instance}/limits/{tenant.strip().lower()}"
    return None


def _scrubbed(provider: Provider, error: errors.MailadminError) -> errors.MailadminError:
    """``error`` with its message and debug detail passed through the provider's
    redactor, so no plugin's error can carry a known secret out (``--debug``, journal)."""
    from mailadmin.wire.redaction import redact_debug

    error.debug = redact_debug(error.debug, provider.redact)
    clean = provider.redact(error.message)
    if clean != error.message:
        error.message = clean
        error.args = (clean, *error.args[1:])
    return error


def _field(value: Any, name: str) -> str | None:
    found = value.get(name) if isinstance(value, Mapping) else getattr(value, name, None)
    return found if isinstance(found, str) else None


@dataclass
class _Entry:
    held: bool = False
    waiters: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = field(
        default_factory=deque
    )


# Keys the current task (and tasks it starts) already holds: a write that calls another
# write on the same subject re-enters instead of waiting for itself.
_HELD: ContextVar[frozenset[str]] = ContextVar("mailadmin_subjects_held", default=frozenset())


class SubjectLocks:
    """Keyed locks for async code, shared by every event loop of the process.

    ``async with locks.hold("ox-eu/mailbox/anna@example.com"): ...``. Waiters are served
    in arrival order. A key's entry exists only while someone holds or waits for it, so
    the table never grows past the writes in flight. A plain ``asyncio.Lock`` per key
    would bind to one event loop; the blocking facade runs its own loop in a thread, so
    hand-over between waiters goes through each waiter's own loop instead.
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._entries: dict[str, _Entry] = {}

    def __len__(self) -> int:
        """Keys held or waited for now."""
        with self._mutex:
            return len(self._entries)

    def locked(self, key: str) -> bool:
        """True while someone holds ``key``."""
        with self._mutex:
            entry = self._entries.get(key)
            return entry is not None and entry.held

    @asynccontextmanager
    async def hold(self, key: str | None) -> AsyncIterator[None]:
        """Hold ``key`` for the block (``None``: nothing to hold); re-entrant per task."""
        held = _HELD.get()
        if key is None or key in held:
            yield
            return
        await self._acquire(key)
        token = _HELD.set(held | {key})
        try:
            yield
        finally:
            _HELD.reset(token)
            self._release(key)

    async def _acquire(self, key: str) -> None:
        loop = asyncio.get_running_loop()
        with self._mutex:
            entry = self._entries.setdefault(key, _Entry())
            if not entry.held:
                entry.held = True
                return
            future: asyncio.Future[None] = loop.create_future()
            waiter = (loop, future)
            entry.waiters.append(waiter)
        try:
            await future
        except asyncio.CancelledError:
            with self._mutex:
                queued = waiter in entry.waiters
                if queued:
                    entry.waiters.remove(waiter)
            if not queued and future.done() and not future.cancelled():
                self._release(key)  # handed over just as we were cancelled: pass it on
            raise

    def _release(self, key: str) -> None:
        with self._mutex:
            entry = self._entries[key]
            while entry.waiters:
                loop, future = entry.waiters.popleft()
                try:
                    loop.call_soon_threadsafe(self._grant, key, future)
                except RuntimeError:  # that waiter's loop is closed; serve the next
                    continue
                return  # still held: ownership passes to the waiter
            del self._entries[key]

    def _grant(self, key: str, future: asyncio.Future[None]) -> None:
        if future.cancelled():
            self._release(key)  # the waiter gave up after being chosen
        else:
            future.set_result(None)


#: The process-wide table every provider call serialises on.
SUBJECT_LOCKS = SubjectLocks()


async def run_call(provider: Provider, call: CallInfo, impl: Callable[[], Awaitable[R]]) -> R:
    """Run ``impl`` as ``call`` of ``provider``: hold the call's subject, run the before
    hook (which may refuse it), run it inside its dry-run scope, stamp the dry-run rule
    on a ``ChangeResult``, normalise any error, then run the after or error hook.

    The journal, the write fence and the business rules are not here: they are steps of
    the orchestrator's pipeline (:mod:`mailadmin.orchestration.pipeline`), which holds the
    same subject lock around this call (the lock is re-entrant per task).
    """
    hooks = provider.hooks
    key = subject_key(call.provider, call.operation, call.arguments)
    async with SUBJECT_LOCKS.hold(key):
        hooks.before(provider, call)
        try:
            with dry_run_scope(call.dry_run), _log_call(call):
                result = await impl()
            # The one dry-run rule: a result says dry_run exactly when the call was one.
            if isinstance(result, ChangeResult) and result.dry_run is not call.dry_run:
                result = result.model_copy(update={"dry_run": call.dry_run})
        except Exception as exc:
            error = _scrubbed(provider, normalise(exc, provider.instance))
            hooks.error(provider, call, error)
            if error is exc:
                raise
            raise error from exc
        hooks.after(provider, call, result)
        return result
