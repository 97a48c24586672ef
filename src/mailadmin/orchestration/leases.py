"""Run leases of one process: which runs it works, renewed by heartbeat in the store.

A process works a run only while it holds the run's lease (``mailadmin_run_leases``,
:mod:`mailadmin.store.runs`). The lease lasts ``[runs] lease_seconds`` and a heartbeat
renews it every third of that, so it expires only when its holder is gone (killed, cut
from the database, or stalled past the whole lease). Another process takes a run over
only then. A holder whose lease was taken over anyway (it stalled too long) stops
working the run: the work's task is cancelled, so two processes never send one run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.store.database import Database

__all__ = ["Leases", "RunHeld", "holder_gone", "process_holder"]

_log = logging.getLogger("mailadmin.runs")
_HOST = socket.gethostname()[:120]


class RunHeld(errors.ConflictError):
    """Another live process works this run (it holds the run's lease)."""

    code = "run_held"


@dataclass
class _Held:
    run_id: str
    count: int = 1
    owners: set[asyncio.Task[object]] = field(default_factory=set)


class Leases:
    """The leases this process holds; ``holder`` names the process in the store."""

    def __init__(self, database: Database, seconds: float) -> None:
        self._database = database
        self.seconds = seconds
        self.holder = process_holder()
        self._held: dict[str, _Held] = {}
        self._beat: asyncio.Task[None] | None = None

    def holds(self, run_id: str) -> bool:
        """Whether this process holds the run's lease."""
        return run_id in self._held

    async def take(self, run_id: str, owner: asyncio.Task[object] | None = None) -> bool:
        """Take the run's lease (or count one more use of it when held already); False
        when another live process holds it. ``owner``: the task cancelled if the lease
        is lost (none by default: :meth:`set_owner` names it later)."""
        from mailadmin.store.runs import take_lease

        held = self._held.get(run_id)
        if held is None:
            lease = await asyncio.to_thread(
                take_lease, self._database, run_id, self.holder, self.seconds, holder_gone
            )
            if lease is None or lease.holder != self.holder:
                return False
            held = self._held.setdefault(run_id, _Held(run_id, count=0))
            self._start_beat()
        held.count += 1
        if owner is not None:
            held.owners.add(owner)
        return True

    async def give_back(self, run_id: str) -> None:
        """One use of the run's lease ended; the last one releases it in the store."""
        from mailadmin.store.runs import release_lease

        held = self._held.get(run_id)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del self._held[run_id]
        try:
            await asyncio.to_thread(release_lease, self._database, run_id, self.holder)
        except Exception as exc:  # the store is away: the lease simply expires
            _log.warning("could not release the lease of run %s: %s", run_id, type(exc).__name__)

    @asynccontextmanager
    async def holding(self, run_id: str) -> AsyncIterator[None]:
        """Work a run under its lease; :class:`RunHeld` when another process holds it."""
        if not await self.take(run_id, asyncio.current_task()):
            raise RunHeld(
                f"Run {run_id} is being worked by another process (it holds the run's "
                f"lease, renewed every {self.seconds / 3:g} s); it is taken over only "
                "once that process is gone and the lease has expired"
            )
        try:
            yield
        finally:
            await self.give_back(run_id)

    def set_owner(self, run_id: str, owner: asyncio.Task[object]) -> None:
        """Name the task working a run taken by another (cancelled if the lease is lost)."""
        held = self._held.get(run_id)
        if held is not None:
            held.owners.add(owner)

    def _start_beat(self) -> None:
        if self._beat is None or self._beat.done():
            self._beat = asyncio.get_running_loop().create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        from mailadmin.store.runs import renew_lease

        while self._held:
            await asyncio.sleep(self.seconds / 3)
            runs = list(self._held)
            try:
                lost = await asyncio.to_thread(
                    renew_lease, self._database, runs, self.holder, self.seconds
                )
            except Exception as exc:  # the store is away: try again next beat
                _log.warning("could not renew run leases: %s", type(exc).__name__)
                continue
            for run_id in lost:
                held = self._held.pop(run_id, None)
                if held is None:
                    continue
                _log.warning("run %s was taken over by another process; stopping it", run_id)
                for task in held.owners:
                    task.cancel()

    async def aclose(self) -> None:
        """Stop the heartbeat (the leases still held expire on their own)."""
        if self._beat is not None:
            self._beat.cancel()
            await asyncio.gather(self._beat, return_exceptions=True)
            self._beat = None


def process_holder() -> str:
    """A name for this process in the store (host, pid and a random tag), which
    :func:`holder_gone` can test."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def holder_gone(holder: str) -> bool:
    """Whether a holder is a process of this machine that no longer exists: its run is
    taken over at once rather than after its lease expires (a restart after a kill)."""
    parts = holder.rsplit(":", 2)
    if len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    if pid == os.getpid():
        return False  # this process: another Leases of it (a second orchestrator) holds it
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False  # alive, owned by another user
    return False
