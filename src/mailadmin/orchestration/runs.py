"""The run service: the one place where bulk work is checked, journalled, sent and finished.

Every bulk entry point goes through it: ``Orchestrator.set_plans``/``apply_addons``/
``count_all``, bulk sales, ``mailadmin set-plan --file``, ``POST /v1/runs/*`` and the
workers. A run's sequence, written here once:

1. **check** the whole batch (:meth:`RunService.check`): an unknown plan, add-on or tenant,
   a bad address or quantity, or one subject named twice refuses the whole batch with one
   ValidationError naming every bad item (up to ten); nothing is sent;
2. **plan**: a run of journalled writes (``set_plan``, ``apply_addon``) has its plan,
   every item, journalled before the first is sent;
3. **send** each item inside the run's journal scope (its rows carry the run's id) and as
   the identity that started it, with bounded concurrency;
4. **finish** the run once every item was seen through; a run cut short (Ctrl-C, a kill)
   stays unfinished and :meth:`RunService.resume` completes it, reading the platform
   before re-applying anything.

In process or on the procrastinate workers is a parameter (``distributed``), not a copy:
:meth:`submit` checks the same way, records the items and their jobs in one transaction
(:mod:`mailadmin.store.queue`), and a worker runs a chunk with :meth:`work_chunk`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.orchestration import run_items
from mailadmin.orchestration.bulk import (
    NOT_SENT,
    BulkError,
    BulkResult,
    ItemError,
    ItemResult,
    OnError,
    Progress,
    run_bulk,
)
from mailadmin.orchestration.leases import Leases
from mailadmin.rules.identities import Identity, acting_scope
from mailadmin.store.journal import run_scope
from mailadmin.store.queue import TASK_NAME as CHUNK_TASK

if TYPE_CHECKING:
    import procrastinate
    import sqlalchemy as sa

    from mailadmin.contract.models import ChangeResult
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.sales import BulkSale, SaleReport
    from mailadmin.store.journal import JournalEntry
    from mailadmin.store.runs import JournalPlan, PlannedRun, RunStatus, Settled

__all__ = ["CHUNK_TASK", "ITEM_WATCHERS", "ItemDone", "PreparedRun", "RunService"]

#: Told ``(operation, state)`` as each item of a run ends here (``done``, ``failed``):
#: the process's metrics. Empty unless a process installs one.
ITEM_WATCHERS: list[Callable[[str, str], None]] = []

Item = dict[str, Any]
#: ``on_item(index, value, error)`` after each item of :meth:`RunService.execute`.
ItemDone = Callable[[int, Any, "errors.MailadminError | None"], Awaitable[None]]

#: Problems named in a refusal of a whole batch; the count says how many more.
_MAX_PROBLEMS = 10
#: The item error of a store out of reach (errors.StoreUnavailable).
_LOST = errors.StoreUnavailable.code
#: Distributed item records written per round trip, and the longest one waits.
_BATCH = 25
_FLUSH_EVERY = 1.0


@dataclass(frozen=True)
class PreparedRun:
    """A run checked as a whole and, when it writes, journalled: ready to send.

    ``journalled``: its plan is in the journal, so :meth:`RunService.execute` finishes it
    there once every item was seen through."""

    run_id: str
    operation: str
    items: list[Item]
    dry_run: bool
    identity: str
    journalled: bool
    #: Per item, the subject's reference the check made (``None``: made when it runs).
    refs: list[Any] | None = None


class RunService:
    """Bulk runs of one orchestrator (``orch.runs``), in process or on the workers."""

    def __init__(self, orch: Orchestrator) -> None:
        self._orch = orch
        self._leases: Leases | None = None

    @property
    def leases(self) -> Leases | None:
        """The run leases of this process (None without a journal: nothing to share)."""
        journal = self._orch.journal
        if journal is None:
            return None
        if self._leases is None:
            self._leases = Leases(journal.database, self._orch.config.runs.lease_seconds)
        return self._leases

    async def aclose(self) -> None:
        """Stop renewing run leases (those still held expire on their own)."""
        if self._leases is not None:
            await self._leases.aclose()

    # -- check -------------------------------------------------------------------------------

    def check(
        self,
        operation: str,
        items: Sequence[Item],
        *,
        label: Callable[[int], str] | None = None,
    ) -> list[run_items.Routed]:
        """Check every item before any is sent, and route them; a ValidationError names
        every bad item (``label(index)``, default ``item N``) and says nothing was sent."""
        if operation not in run_items.OPERATIONS:
            raise errors.ValidationError(f"'{operation}' is not a bulk operation")
        name = label or (lambda index: f"item {index + 1}")
        problems: list[str] = []
        routed: list[run_items.Routed] = []
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            try:
                if not isinstance(item, dict):
                    raise errors.ValidationError("not an item")
                found = run_items.route(self._orch, operation, item)
            except errors.MailadminError as exc:
                problems.append(f"{name(index)}: {exc.message}")
                continue
            # One item per subject: two targets for one subject contradict each other, and
            # a retried chunk tells its items apart by subject in the journal.
            first = seen.setdefault(found.subject.lower(), index)
            if first != index:
                problems.append(
                    f"{name(index)} repeats {name(first)} ({run_items.item_key(item)}); "
                    "a run names each subject once"
                )
                continue
            routed.append(found)
        if problems:
            extra = len(problems) - _MAX_PROBLEMS
            more = f"; {extra} more" if extra > 0 else ""
            raise errors.ValidationError(
                "nothing was sent: " + "; ".join(problems[:_MAX_PROBLEMS]) + more
            )
        return routed

    # -- in process --------------------------------------------------------------------------

    async def run(
        self,
        operation: str,
        items: Sequence[Item],
        *,
        dry_run: bool = False,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> BulkResult[Any]:
        """Check, plan, send and finish a run; ``distributed`` (default: ``[worker]
        distributed``; never for a dry run) sends it on the workers and waits for them."""
        if self.distributed(distributed, dry_run):
            run_id = await self.submit(operation, items)
            return await self.follow(run_id, progress=progress, on_error=on_error)
        prepared = await self.prepare(operation, items, dry_run=dry_run)
        return await self.execute(
            prepared, concurrency=concurrency, on_error=on_error, progress=progress
        )

    async def prepare(
        self,
        operation: str,
        items: Sequence[Item],
        *,
        dry_run: bool = False,
        label: Callable[[int], str] | None = None,
        run_id: str | None = None,
    ) -> PreparedRun:
        """Check the whole batch and, for a run of journalled writes, journal its plan
        before anything is sent. ``run_id`` carries on a run that already exists (its
        remaining items; no plan is journalled again)."""
        checked = [dict(item) for item in items]
        routed = self.check(operation, checked, label=label)
        orch = self._orch
        identity = str(orch.rules.acting())
        # The journal is asked for only by a run it records (a count never opens it).
        journalled = run_id is None and operation in run_items.JOURNALLED and not dry_run
        journal = orch.journal if journalled else None
        journalled = journalled and journal is not None
        run_id = run_id or uuid.uuid4().hex[:16]
        if journalled:
            assert journal is not None
            planned = [run_items.to_plan(operation, item) for item in checked]
            try:
                await journal.write(
                    journal.run_planned(run_id, operation, planned, identity=identity)
                )
            except Exception as exc:
                from mailadmin.store.database import unreachable

                if not unreachable(exc):
                    raise
                raise errors.StoreUnavailable(
                    "The store (the journal's database) cannot be reached: nothing was sent"
                ) from None
        refs = [found.ref for found in routed]
        return PreparedRun(run_id, operation, checked, dry_run, identity, journalled, refs)

    async def execute(
        self,
        run: PreparedRun,
        *,
        concurrency: int = 8,
        on_error: OnError = "collect",
        progress: Progress | None = None,
        stop_on_error: bool = False,
        interruptible: bool = False,
        on_item: ItemDone | None = None,
    ) -> BulkResult[Any]:
        """Send a prepared run's items inside its journal scope and as its identity, then
        finish it. ``stop_on_error``: no new item starts after a failure. A cancellation
        starts no new item and waits for those on the wire (each gets its journal row
        completed); the run stays unfinished for :meth:`resume`. ``interruptible``
        returns what was done (``interrupted``) instead of raising CancelledError."""
        if concurrency < 1:
            raise errors.ValidationError("Concurrency must be 1 or more")
        if on_error not in ("raise", "skip", "collect"):
            raise errors.ValidationError("on_error must be 'raise', 'skip' or 'collect'")
        orch = self._orch

        def call(index: int, item: Item) -> Callable[[], Awaitable[Any]]:
            async def one() -> Any:
                error: errors.MailadminError | None = None
                value: Any = None
                for waited in range(THROTTLED_TRIES):
                    try:
                        ref = run.refs[index] if run.refs is not None else None
                        value = await run_items.execute(
                            orch, run.operation, item, dry_run=run.dry_run, ref=ref
                        )
                        error = None
                    except errors.RateLimited as exc:
                        # Throttled: the platform applied nothing, and the instance's
                        # transport now paces its requests; the item goes again after the
                        # wait the platform asked for.
                        error = exc
                        if waited + 1 < THROTTLED_TRIES:
                            await asyncio.sleep(_throttled_wait(exc, waited))
                            continue
                    except errors.MailadminError as exc:
                        error = exc
                    except Exception as exc:
                        from mailadmin.contract.provider import normalise

                        error = normalise(exc)
                    break
                if on_item is not None:
                    await on_item(index, value, error)
                for watch in ITEM_WATCHERS:
                    watch(run.operation, "done" if error is None else "failed")
                if error is not None:
                    raise error
                return value

            return one

        calls = [
            (run_items.item_key(item), call(index, item)) for index, item in enumerate(run.items)
        ]
        # A lease guards a run's journalled plan from a second process resuming it; a run
        # with no plan in the store (a dry run, a count) has nothing to guard.
        leases = self.leases if run.journalled else None
        from mailadmin.orchestration.tracing import span

        async with leases.holding(run.run_id) if leases is not None else nullcontext():
            with (
                self._scope(run.run_id, run.identity),
                span(f"run {run.operation}", {"run_id": run.run_id, "items": len(run.items)}),
            ):
                results, stopped, cancelled = await _send(
                    calls, concurrency, stop_on_error, progress
                )
        lost = any(r is not None and r.error is not None and r.error.code == _LOST for r in results)
        if not cancelled and not lost and run.journalled:
            journal = orch.journal
            assert journal is not None
            try:
                await journal.write(journal.run_finished(run.run_id))
            except Exception as exc:
                from mailadmin.store.database import unreachable

                if not unreachable(exc):
                    raise
                lost = True
        if cancelled and not interruptible:
            raise asyncio.CancelledError
        not_sent = ItemError(code=NOT_SENT, message="not sent")
        final = [
            found if found is not None else ItemResult[Any](key=key, error=not_sent)
            for found, (key, _) in zip(results, calls, strict=True)
        ]
        failed = sum(1 for item in final if not item.ok and item.error is not not_sent)
        kept = [item for item in final if item.ok] if on_error == "skip" else final
        result = BulkResult[Any](
            items=kept,
            failed=failed,
            run_id=run.run_id,
            stopped=stopped,
            interrupted=cancelled,
            store_unavailable=lost,
        )
        if on_error == "raise" and failed:
            raise BulkError(result)
        return result

    @contextmanager
    def _scope(self, run_id: str, identity: str | None) -> Iterator[None]:
        """The run's journal scope, as the identity that started it: the only place a
        run's writes get their run id."""
        with run_scope(run_id):
            if identity is None:
                yield
                return
            with acting_scope(Identity.parse(identity)):
                yield

    async def finish_cancelled(self, run_id: str) -> None:
        """Finish the journal's plan of a run stopped on request, so a resume that does not
        name the run leaves the items it never started (a run not planned in the journal
        needs nothing)."""
        journal = self._orch.journal
        if journal is not None and await asyncio.to_thread(self.planned, run_id) is not None:
            await journal.write(journal.run_finished(run_id))

    def planned(self, run_id: str) -> JournalPlan | None:
        """A run's plan as journalled before its first item was sent (None: no journal,
        or no such run)."""
        from mailadmin.store.runs import journal_plan

        journal = self._orch.journal
        return None if journal is None else journal_plan(journal.engine, run_id)

    # -- resume ------------------------------------------------------------------------------

    async def resume(
        self,
        *,
        run: str | None = None,
        concurrency: int = 8,
        progress: Progress | None = None,
    ) -> BulkResult[ChangeResult[Any]]:
        """Settle what the journal leaves open: every write without a final outcome is
        completed from the platform's current state (:meth:`Orchestrator.resume_entry`),
        and the items of a run cut short that never started are sent, inside that run's
        scope; each such run is then finished. Safe to run twice; ``run`` limits it to
        one run.

        Run it when the process that made the writes is gone: the subject locks that keep
        two writes to one mailbox apart live in one process.
        """
        orch = self._orch
        journal = orch.journal
        if journal is None:
            raise errors.ConfigurationError("No journal is configured ([journal] url is unset)")
        rows = await journal.run(journal.entries, 10**9, run=run, open_only=True, oldest_first=True)
        runs = await journal.run(journal.unfinished_runs, run)
        if run is not None and not runs and not rows:
            known = await journal.run(journal.entries, 1, run=run)
            if not known:
                raise errors.NotFoundError(f"The journal has no run '{run}'")
        # A run another live process works is its own: leave its rows and items alone.
        leases = self.leases
        assert leases is not None
        taken: list[str] = []
        elsewhere: set[str] = set()
        for run_id in sorted({r.run_id for r in rows if r.run_id} | {r[0] for r in runs}):
            if await leases.take(run_id):
                taken.append(run_id)
            else:
                elsewhere.add(run_id)
        try:
            if run is not None and run in elsewhere:
                async with leases.holding(run):
                    pass  # raises RunHeld, with the reason
            rows = [r for r in rows if r.run_id not in elsewhere]
            runs = [r for r in runs if r[0] not in elsewhere]
            return await self._settle(rows, runs, concurrency=concurrency, progress=progress)
        finally:
            for run_id in taken:
                await leases.give_back(run_id)

    async def _settle(
        self,
        rows: list[JournalEntry],
        runs: list[tuple[str, str, list[Any]]],
        *,
        concurrency: int,
        progress: Progress | None,
    ) -> BulkResult[ChangeResult[Any]]:
        """Settle open rows and send the never-started items of unfinished runs (the
        runs this process leases)."""
        orch = self._orch
        journal = orch.journal
        assert journal is not None
        # Several open rows of one subject settle newest first, one after another: once
        # the newest is settled the older ones are superseded by it (never replayed over
        # it); when it fails, the older ones stay open rather than undo it.
        by_subject: dict[str, list[JournalEntry]] = {}
        for row in rows:
            by_subject.setdefault(f"{row.instance}|{row.subject.lower()}", []).append(row)

        async def settle(entries: list[JournalEntry]) -> ChangeResult[Any]:
            result: ChangeResult[Any] | None = None
            for entry in reversed(entries):
                settled = await orch.resume_entry(entry)
                result = result or settled
            assert result is not None
            return result

        def settling(entries: list[JournalEntry]) -> Callable[[], Awaitable[Any]]:
            return lambda: settle(entries)

        def sending(run_id: str, operation: str, item: Item) -> Callable[[], Awaitable[Any]]:
            async def send() -> Any:
                with self._scope(run_id, None):
                    return await run_items.execute(orch, operation, item, dry_run=False)

            return send

        work: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            (
                f"{entries[-1].subject} (journal {', '.join(str(e.id) for e in entries)})",
                settling(entries),
            )
            for entries in by_subject.values()
        ]
        finishing: list[str] = []
        last: list[tuple[str, Callable[[], Awaitable[Any]]]] = []
        for run_id, operation, planned in runs:
            if operation not in run_items.JOURNALLED:
                continue
            started = await journal.run(journal.run_subjects, run_id)
            finishing.append(run_id)
            for entry in planned:
                item = run_items.from_plan(operation, entry)
                subject = run_items.journal_subject(operation, item)
                if subject.lower() in started:
                    continue
                started.add(subject.lower())
                queue = last if run_items.runs_last(operation, item) else work
                queue.append((run_items.item_key(item), sending(run_id, operation, item)))
        result = await run_bulk(work, concurrency=concurrency, progress=progress)
        if last:
            # Once every other item has ended (a tenant is removed after its mailboxes).
            then = await run_bulk(last, concurrency=concurrency, progress=progress)
            result = result.model_copy(
                update={"items": result.items + then.items, "failed": result.failed + then.failed}
            )
        for run_id in finishing:
            await journal.write(journal.run_finished(run_id))
        return result

    # -- distributed (docs/scaling.md) -------------------------------------------------------

    def distributed(self, distributed: bool | None, dry_run: bool) -> bool:
        """Whether a run goes to the workers: ``distributed``, else ``[worker]
        distributed``; a dry run never does (its answers are printed where it runs)."""
        chosen = self._orch.config.worker.distributed if distributed is None else distributed
        return bool(chosen) and not dry_run

    def distributed_engine(self) -> sa.Engine:
        """The PostgreSQL store distributed work runs on, or a ConfigurationError saying
        what is missing."""
        from mailadmin.store.runs import require_postgres

        return require_postgres(self._orch.journal)

    async def job_queue(self) -> procrastinate.App:
        """The procrastinate app on the PostgreSQL store, its schema installed: a worker
        registers its tasks on it (the chunk task is :data:`CHUNK_TASK`) and runs."""
        from mailadmin.store.queue import ensure_schema, queue_app

        engine = self.distributed_engine()
        await asyncio.to_thread(ensure_schema, engine)
        return queue_app(engine)

    def plan(self, run_id: str, operation: str, items: Sequence[Item]) -> PlannedRun:
        """Check a whole run and cut it into lanes and chunks (nothing is written)."""
        from mailadmin.store.runs import cut_run

        routed = self.check(operation, items)
        worker = self._orch.config.worker
        return cut_run(
            run_id,
            operation,
            [(r.instance, r.lane, dict(item)) for r, item in zip(routed, items, strict=True)],
            lanes=worker.lanes,
            chunk_size=worker.chunk_size,
        )

    async def submit(self, operation: str, items: Sequence[Item]) -> str:
        """Check a run as a whole, record its items and enqueue their jobs in one
        transaction; returns the run id at once. ConfigurationError when the store is not
        PostgreSQL."""
        from mailadmin.orchestration.tracing import carrier
        from mailadmin.store.queue import enqueue_run

        engine = self.distributed_engine()
        planned = self.plan(uuid.uuid4().hex[:16], operation, items)
        identity = str(self._orch.rules.acting())
        # The caller's trace travels in each job, so a worker's spans join it.
        trace = carrier()
        await asyncio.to_thread(enqueue_run, engine, planned, identity=identity, trace=trace)
        return planned.run_id

    async def follow(
        self,
        run_id: str,
        *,
        progress: Progress | None = None,
        on_error: OnError = "collect",
        timeout: float | None = None,
        interval: float = 0.5,
    ) -> BulkResult[Any]:
        """Wait for a distributed run to end; its per-item results in input order."""
        from mailadmin.store.runs import item_states, run_status

        engine = self.distributed_engine()
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        last = -1
        while True:
            status = await asyncio.to_thread(run_status, engine, run_id)
            if progress is not None and status.settled != last:
                last = status.settled
                progress(status.settled, status.total, run_id)
            if status.finished is not None:
                break
            if deadline is not None and loop.time() > deadline:
                raise errors.Unavailable(f"Run {run_id} did not finish in {timeout} s")
            await asyncio.sleep(interval)
        rows = await asyncio.to_thread(item_states, engine, run_id)
        items: list[ItemResult[Any]] = []
        for row in rows:
            key = run_items.item_key(row["item"])
            stored = row["result"]
            value = None if stored is None else run_items.item_value(status.operation, stored)
            if row["state"] == "done":
                items.append(ItemResult[Any](key=key, value=value))
            else:
                # A failed sale keeps its record (who, what, why) beside the error.
                error = ItemError(
                    code=row["error_code"] or row["state"],
                    message=row["error_message"] or row["state"],
                )
                items.append(ItemResult[Any](key=key, value=value, error=error))
        failed = sum(1 for item in items if not item.ok)
        kept = [i for i in items if i.ok] if on_error == "skip" else items
        result = BulkResult[Any](items=kept, failed=failed, run_id=run_id)
        if on_error == "raise" and failed:
            raise BulkError(result)
        return result

    async def status(self, run_id: str) -> RunStatus:
        """The progress of one distributed run."""
        from mailadmin.store.runs import run_status

        return await asyncio.to_thread(run_status, self.distributed_engine(), run_id)

    async def recent(self, limit: int = 50) -> list[RunStatus]:
        """The most recent distributed runs, newest first."""
        from mailadmin.store.runs import list_runs

        return await asyncio.to_thread(list_runs, self.distributed_engine(), limit)

    async def count(self) -> int:
        """How many distributed runs there are (``runs list`` says "showing N of M")."""
        from mailadmin.store.runs import count_runs

        return await asyncio.to_thread(count_runs, self.distributed_engine())

    async def waiting_for_worker(self, found: Sequence[RunStatus]) -> set[str]:
        """Of distributed runs, those no worker has taken yet: running, nothing settled,
        every job still queued (so ``runs`` can say so instead of ``running 0/300``)."""
        from mailadmin.store.queue import waiting_runs

        candidates = [s.run_id for s in found if s.state == "running" and s.settled == 0]
        if not candidates:
            return set()
        return await asyncio.to_thread(waiting_runs, self.distributed_engine(), candidates)

    async def items(self, run_id: str, states: Sequence[str] | None = None) -> list[Any]:
        """The items of a distributed run in input order (of some states)."""
        from mailadmin.store.runs import item_states

        engine = self.distributed_engine()
        return await asyncio.to_thread(item_states, engine, run_id, states)

    async def cancel(self, run_id: str) -> RunStatus:
        """Stop a distributed run cleanly: no new item starts; the item on the wire
        finishes and is recorded; items that never started end ``cancelled``."""
        from mailadmin.store.queue import cancel_waiting_jobs
        from mailadmin.store.runs import mark_cancelled, run_status

        engine = self.distributed_engine()
        await asyncio.to_thread(mark_cancelled, engine, run_id)
        await cancel_waiting_jobs(engine, run_id)
        return await asyncio.to_thread(run_status, engine, run_id)

    async def work_chunk(self, run_id: str, chunk: int, *, attempt: int) -> int:
        """Settle every pending item of one chunk of a distributed run, one after another
        (what a worker's job does); returns how many."""
        from mailadmin.store import runs as store

        engine = self.distributed_engine()
        run, pending = await asyncio.to_thread(store.load_chunk, engine, run_id, chunk)
        if not pending or run["cancelled"] is not None:
            # Cancelled before this chunk started: its items end 'cancelled', none is sent.
            await asyncio.to_thread(store.close_chunk, engine, run_id, chunk)
            return 0
        operation = str(run["operation"])
        # The journal rows this run already holds for these subjects: after a crash they
        # say which items were started (an open intent to settle) or even finished.
        rows: dict[str, list[JournalEntry]] = {}
        if operation in run_items.JOURNALLED:
            keys = [str(item["key"]) for item in pending]
            rows = await asyncio.to_thread(store.journal_rows, engine, run_id, keys)
        loop = asyncio.get_running_loop()
        settled = 0
        unrecorded: list[tuple[int, Settled]] = []
        last_flush = loop.time()
        for item in pending:
            outcome = await self._settle_item(run_id, run["identity"], operation, item, rows)
            unrecorded.append((int(item["seq"]), outcome))
            for watch in ITEM_WATCHERS:
                watch(operation, outcome[0])
            settled += 1
            # Item records are written in small batches: one lost to a crash is rebuilt
            # from the journal row the write completed, so batching costs no accuracy. The
            # same round trip tells whether the run was cancelled meanwhile.
            if len(unrecorded) >= _BATCH or loop.time() - last_flush >= _FLUSH_EVERY:
                cancelled = await asyncio.to_thread(
                    store.record_items, engine, run_id, unrecorded, attempt
                )
                unrecorded, last_flush = [], loop.time()
                if cancelled:
                    break
        await asyncio.to_thread(store.record_items, engine, run_id, unrecorded, attempt)
        await asyncio.to_thread(store.close_chunk, engine, run_id, chunk)
        return settled

    async def _settle_item(
        self,
        run_id: str,
        identity: str | None,
        operation: str,
        item: Any,
        rows: dict[str, list[JournalEntry]],
    ) -> Settled:
        """Send one item of a chunk, or settle it from what the journal says about it."""
        data = json.loads(item["item"])
        # The run's journal rows of this subject (and add-on) are this item's: a run names
        # each once. The target column holds the provider's native form once sent.
        mine = [
            row
            for row in rows.get(str(item["key"]), [])
            if row.operation == operation and _same_addon(operation, row.arguments, data)
        ]
        try:
            still_open = [row for row in mine if row.open]
            if still_open:
                # The intent was recorded and then the worker died: read the platform and
                # apply only what is missing, completing that same journal row.
                result: Any = None
                for row in still_open:
                    result = await self._orch.resume_entry(row)
                return _done(result)
            if mine:
                # The write finished and was journalled; only its item record was lost.
                last = mine[-1]
                if last.status == "done":
                    found = {"before": last.before, "after": last.after}
                    return ("done", last.outcome, found, None, None)
                return ("failed", last.outcome, None, last.error_code, last.error_message)
            # The run's identity for the whole item: a sale reads the tenancy as it, too.
            with self._scope(run_id, identity):
                result = await run_items.execute(self._orch, operation, data, dry_run=False)
            if operation == "sell" and result.outcome.value == "failed":
                plain = result.model_dump(mode="json")
                return ("failed", "failed", plain, "sale_failed", result.reason)
            return _done(result)
        except errors.StoreUnavailable:
            raise  # not the item's failure: the chunk is retried once the store is back
        except errors.MailadminError as exc:
            return ("failed", None, None, exc.code, exc.message)
        except Exception as exc:  # a bug must not stall the chunk: record it on the item
            from mailadmin.contract.provider import normalise
            from mailadmin.store.database import unreachable

            if unreachable(exc):
                raise errors.StoreUnavailable("The store cannot be reached") from exc

            error = normalise(exc)
            return ("failed", None, None, error.code, error.message)

    # -- sales (seed 003) --------------------------------------------------------------------

    async def sell(
        self,
        sale: BulkSale,
        *,
        dry_run: bool = False,
        progress: Progress | None = None,
        distributed: bool | None = None,
    ) -> SaleReport:
        """Sell ``sale.addon`` to every target of :func:`~mailadmin.rules.sales.sale_targets`,
        one after another (each sale changes the totals the next is capped by); a dry run
        checks everything and changes nothing. ``distributed`` runs the sales on the
        workers, where the sales capped by one reseller's allocation share one lane."""
        if self.distributed(distributed, dry_run):
            run_id = await self.submit_sale(sale)
            return await self.follow_sale(run_id, progress=progress, sale=sale)
        prepared = await self.prepare("sell", self._sale_items(sale), dry_run=dry_run)
        result = await self.execute(prepared, concurrency=1, progress=progress)
        return _sale_report(result, sale, dry_run=dry_run)

    async def submit_sale(self, sale: BulkSale) -> str:
        """Enqueue a bulk sale for the workers, one item per target; returns the run id."""
        self.distributed_engine()
        return await self.submit("sell", self._sale_items(sale))

    async def follow_sale(
        self, run_id: str, *, progress: Progress | None = None, sale: BulkSale | None = None
    ) -> SaleReport:
        """Wait for a distributed bulk sale (of ``sale``) to end; its report."""
        result = await self.follow(run_id, progress=progress)
        return _sale_report(result, sale, run_id=run_id)

    def _sale_items(self, sale: BulkSale) -> list[Item]:
        from mailadmin.rules.sales import sale_targets

        plain = sale.model_dump(mode="json")
        return [{"sale": plain, "name": name} for name in sale_targets(self._orch, sale)]


#: How many times a run sends an item the platform throttles (``RateLimited``) in all.
THROTTLED_TRIES = 6


def _throttled_wait(error: errors.RateLimited, waited: int) -> float:
    """Seconds before a throttled item goes again: the platform's ``Retry-After``, else
    an exponential wait (0.5 s, 1 s, 2 s...)."""
    if error.retry_after is not None:
        return min(error.retry_after, 300.0)
    return 0.5 * 2.0**waited


async def _send(
    calls: list[tuple[str, Callable[[], Awaitable[Any]]]],
    concurrency: int,
    stop_on_error: bool,
    progress: Progress | None,
) -> tuple[list[ItemResult[Any] | None], bool, bool]:
    """Run ``(key, call)`` pairs with at most ``concurrency`` in flight: per item its
    result (None when never started), whether a failure stopped it, whether it was
    cancelled (the calls on the wire are awaited, shielded, either way)."""
    results: list[ItemResult[Any] | None] = [None] * len(calls)
    state = {"done": 0, "stop": False, "stopped": False}
    # A few workers pulling from one iterator, not a task (and a semaphore waiter) per item.
    source = iter(enumerate(calls))

    async def worker() -> None:
        for index, (key, call) in source:
            if state["stop"]:
                return
            try:
                found = ItemResult[Any](key=key, value=await call())
            except errors.MailadminError as exc:
                retryable = bool(getattr(exc, "retryable", False))
                error = ItemError(code=exc.code, message=exc.message, retryable=retryable)
                found = ItemResult[Any](key=key, error=error)
            results[index] = found
            if stop_on_error and not found.ok:
                state["stop"] = state["stopped"] = True
            if found.error is not None and found.error.code == _LOST:
                # Nothing more may go out: no write is sent that the journal cannot hold.
                state["stop"] = True
            state["done"] += 1
            if progress is not None:
                progress(int(state["done"]), len(calls), key)

    pool = asyncio.gather(*(worker() for _ in range(min(concurrency, len(calls)))))
    cancelled = False
    try:
        # Shielded: a cancellation reaches this await, not the calls on the wire.
        await asyncio.shield(pool)
    except asyncio.CancelledError:
        cancelled = True
        state["stop"] = True
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
        await asyncio.gather(pool, return_exceptions=True)
    return results, bool(state["stopped"]), cancelled


def _same_addon(operation: str, arguments: dict[str, Any], data: dict[str, Any]) -> bool:
    if operation != "apply_addon":
        return True
    from mailadmin.contract.models import AddonRef

    recorded = arguments.get("addon")
    wanted = AddonRef.parse(str(data["addon"]))
    return isinstance(recorded, dict) and (recorded.get("name"), recorded.get("plan")) == (
        wanted.name,
        wanted.plan,
    )


def _done(result: Any) -> Settled:
    from mailadmin.store.journal import _plain

    plain = _plain(result)
    outcome = plain.get("outcome") if isinstance(plain, dict) else None
    return ("done", outcome, plain, None, None)


def _sale_report(
    result: BulkResult[Any],
    sale: BulkSale | None,
    *,
    run_id: str | None = None,
    dry_run: bool = False,
) -> SaleReport:
    from mailadmin.rules.sales import SaleItem, SaleOutcome, SaleReport

    items: list[SaleItem] = []
    for item in result.items:
        if isinstance(item.value, SaleItem):
            items.append(item.value)
            continue
        # Cancelled before it started, or a store fault: the item says why.
        reason = item.error.message if item.error is not None else "not run"
        items.append(
            SaleItem(
                kind="reseller" if sale is not None and sale.to == "resellers" else "customer",
                name=item.key,
                outcome=SaleOutcome.FAILED,
                addon=sale.addon if sale is not None else "",
                quantity=sale.quantity if sale is not None else 0,
                reason=reason,
            )
        )
    return SaleReport(items=items, dry_run=dry_run, run_id=run_id)
