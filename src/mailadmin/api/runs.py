"""Bulk runs of the HTTP API: accepted at once (``202``), worked in the background, polled.

Every run is a run of the run service (:mod:`mailadmin.orchestration.runs`): the whole
batch is checked before the ``202`` (a bad item refuses the request with ``422`` and
nothing is sent), and the service sends the items in the run's journal scope and finishes
it. A plan-change or add-on run that writes is the journal's run: its plan is journalled
before anything is sent, each item's write is a journal row, and the run resource is read
back from the journal, so ``mailadmin journal --run ID`` and ``mailadmin journal resume
--run ID`` see the same run. When the service stops (or is killed) mid-run, the next start
settles it with the run service's resume, which reads the platform before re-applying
anything.

The API's own tables keep only what the journal cannot hold: who may poll the run, its
concurrency, the caller-facing error of an item (a refusal's reason; an error raised
before any write was journalled), and the runs that write nothing journalled as a run:
dry runs (never resumed as writes) and bulk sales (each item a sale, not one write).
Those keep their items in the API's table and carry on from the first item without a
result: every one of them sets an absolute value, so repeating an item is harmless.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from mailadmin.api.tables import RUN_ITEMS, RUNS
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind, acting_scope
from mailadmin.rules.sales import SaleItem, SaleOutcome

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.runs import PreparedRun
    from mailadmin.orchestration.storage import Database, JournalEntry, JournalPlan

__all__ = ["Run", "RunItem", "RunKind", "RunManager", "RunState"]

_log = logging.getLogger("mailadmin.api.runs")


class RunKind(StrEnum):
    """What a run does to each item."""

    PLAN_CHANGES = "plan_changes"
    ADDONS = "addons"
    SALES = "sales"


class RunState(StrEnum):
    """``accepted`` (stored, not started), ``running``, then ``succeeded`` (every item
    succeeded), ``failed`` (at least one item failed; the items say which and why) or
    ``cancelled`` (stopped on request: the items never started end ``cancelled``)."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ItemError(BaseModel):
    """Why one item failed: the typed error's code and user-safe message."""

    code: str
    message: str
    reason: str | None = None


class RunItem(BaseModel):
    """One item: ``pending``, ``succeeded`` (with the change result), ``failed`` or
    ``cancelled`` (its run was cancelled before it started); an item of a sale is ``sold``,
    ``skipped`` (``result.reason`` says why) or ``failed``."""

    position: int
    key: str
    state: str
    result: dict[str, Any] | None = None
    error: ItemError | None = None


class Progress(BaseModel):
    """How far a run is (a sold or skipped sale counts as succeeded)."""

    total: int
    done: int
    succeeded: int
    failed: int


class Run(BaseModel):
    """A bulk run, as polled: state, progress and per-item results."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: RunKind
    state: RunState
    dry_run: bool
    identity: str
    created: datetime
    updated: datetime
    progress: Progress
    #: Sales only: how many items were sold, skipped and failed.
    summary: dict[str, int] | None = None
    items: list[RunItem] = Field(default_factory=list)


#: The run service's operation of each kind of run.
_OPERATIONS = {
    RunKind.PLAN_CHANGES: "set_plan",
    RunKind.ADDONS: "apply_addon",
    RunKind.SALES: "sell",
}
#: Item states of the API's table that end an item well.
_GOOD = ("succeeded", "sold", "skipped")
_UNFINISHED = (RunState.ACCEPTED.value, RunState.RUNNING.value)
#: Seconds between two looks, while a run works, at whether it was cancelled elsewhere.
_CANCEL_LOOK = 1.0


class RunManager:
    """Starts runs, works them with bounded concurrency and settles them after a restart."""

    def __init__(self, orch: Orchestrator, store: Database) -> None:
        self._orch = orch
        self._store = store
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._watcher: asyncio.Task[None] | None = None
        #: When each run worked here was last looked at for a cancellation (event loop time).
        self._looked: dict[str, float] = {}
        #: Runs already told to stop: a second cancel would reach the items on the wire.
        self._stopping: set[str] = set()

    # -- start, resume, stop ----------------------------------------------------------------------

    async def start(
        self,
        kind: RunKind,
        identity: Identity,
        items: Sequence[tuple[str, dict[str, Any]]],
        *,
        dry_run: bool,
        concurrency: int,
    ) -> Run:
        """Record a run (a journal run when it writes plans or add-ons) and start it;
        returns it as first polled."""
        now = datetime.now(UTC)
        # The whole batch is checked here, before the run exists: a bad item refuses the
        # request (422) and nothing is sent.
        with acting_scope(identity):
            prepared = await self._orch.runs.prepare(
                _OPERATIONS[kind],
                [_item_of(kind, payload) for _, payload in items],
                dry_run=dry_run,
                label=lambda index: f"items[{index}] ({items[index][0]})",
            )
        run_id, journalled = prepared.run_id, prepared.journalled

        def store() -> None:
            with self._store.begin() as db:
                db.execute(
                    RUNS.insert().values(
                        id=run_id,
                        kind=kind.value,
                        identity=str(identity),
                        dry_run=dry_run,
                        concurrency=concurrency,
                        state=RunState.ACCEPTED.value,
                        total=len(items),
                        created=now,
                        updated=now,
                    )
                )
                if items and not journalled:
                    db.execute(
                        RUN_ITEMS.insert(),
                        [
                            _item_row(run_id, position, key, payload, now)
                            for position, (key, payload) in enumerate(items)
                        ],
                    )

        await asyncio.to_thread(store)
        leases = self._orch.runs.leases
        if leases is not None:
            await leases.take(run_id)  # a new run: nobody else can hold it
        self._spawn(run_id, resuming=False, prepared=prepared)
        found = await asyncio.to_thread(self.get, run_id)
        assert found is not None
        return found

    async def resume(self) -> list[str]:
        """Settle every unfinished run no live process works (its lease is free or has
        expired: the process that worked it is gone); returns the ids taken up."""

        def unfinished() -> list[str]:
            with self._store.connect() as db:
                rows = db.execute(
                    sa.select(RUNS.c.id)
                    .where(RUNS.c.state.in_(_UNFINISHED))
                    .order_by(RUNS.c.created)
                ).all()
            return [row[0] for row in rows]

        leases = self._orch.runs.leases
        found = await asyncio.to_thread(unfinished)
        taken: list[str] = []
        for run_id in found:
            if run_id in self._tasks:
                continue
            if leases is not None:
                if not await leases.take(run_id):
                    continue  # another live process works it
                # It may have ended between the look and the lease.
                if run_id not in await asyncio.to_thread(unfinished):
                    await leases.give_back(run_id)
                    continue
            _log.info("resuming run %s", run_id)
            self._spawn(run_id, resuming=True)
            taken.append(run_id)
        return taken

    def watch(self, taken: Callable[[list[str]], Awaitable[None]] | None = None) -> None:
        """Keep looking for runs whose holder has gone (their lease expired) and take
        them up; ``taken(ids)`` after each look that took some."""
        leases = self._orch.runs.leases
        if leases is None or self._watcher is not None:
            return

        async def look() -> None:
            while True:
                await asyncio.sleep(leases.seconds / 2)
                try:
                    found = await self.resume()
                    if found and taken is not None:
                        await taken(found)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the store is away: look again later
                    _log.warning("could not look for runs to take over: %s", type(exc).__name__)

        self._watcher = asyncio.get_running_loop().create_task(look(), name="run-watch")

    async def aclose(self) -> None:
        """Stop working (what is unfinished is settled by the next start, or at once by
        another process: the leases are given back)."""
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)
            self._watcher = None
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def cancel(self, run_id: str) -> bool:
        """Stop a run: no item starts from now on, those on the wire finish and are
        recorded, the rest end ``cancelled``. The process working it (this one, or another
        sharing the store, within a second) stops; the journal's plan of the run is
        finished, so ``journal resume`` does not send what was cancelled. False when the
        run had already ended (nothing changes)."""
        stopped = await asyncio.to_thread(self._mark_cancelled, run_id)
        if not stopped:
            return False
        task = self._tasks.get(run_id)
        if task is not None:
            self._stop(run_id)
            await asyncio.gather(task, return_exceptions=True)
        else:
            await self._settle_cancelled(run_id)
        return True

    def _mark_cancelled(self, run_id: str) -> bool:
        with self._store.begin() as db:
            done = db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id, RUNS.c.state.in_(_UNFINISHED))
                .values(state=RunState.CANCELLED.value, updated=datetime.now(UTC))
            )
        return bool(done.rowcount)

    def _cancelled(self, run_id: str) -> bool:
        with self._store.connect() as db:
            state = db.execute(sa.select(RUNS.c.state).where(RUNS.c.id == run_id)).scalar()
        return state == RunState.CANCELLED.value

    async def _look_for_cancel(self, run_id: str) -> None:
        """Stop working a run cancelled by another process (looked at once a second)."""
        now = asyncio.get_running_loop().time()
        if now - self._looked.get(run_id, 0.0) < _CANCEL_LOOK:
            return
        self._looked[run_id] = now
        if await asyncio.to_thread(self._cancelled, run_id):
            self._stop(run_id)

    def _stop(self, run_id: str) -> None:
        task = self._tasks.get(run_id)
        if task is not None and run_id not in self._stopping:
            self._stopping.add(run_id)
            task.cancel()

    async def _settle_cancelled(self, run_id: str) -> None:
        """End what a cancelled run left: its items never started are ``cancelled``; its
        journal plan is finished (a later resume must not send them)."""

        def close_items() -> None:
            with self._store.begin() as db:
                db.execute(
                    RUN_ITEMS.update()
                    .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.state == "pending")
                    .values(state=RunState.CANCELLED.value, updated=datetime.now(UTC))
                )

        await asyncio.to_thread(close_items)
        await self._orch.runs.finish_cancelled(run_id)

    async def wait(self, run_id: str) -> None:
        """Wait for a run this process works on to end (tests)."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)

    def _spawn(self, run_id: str, *, resuming: bool, prepared: PreparedRun | None = None) -> None:
        if run_id in self._tasks:
            return
        work = self._work(run_id, resuming, prepared)
        task = asyncio.get_running_loop().create_task(work, name=f"run-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._forget(run_id))
        leases = self._orch.runs.leases
        if leases is not None:
            # Lost to another process (this one stalled past its lease): stop working it.
            leases.set_owner(run_id, task)

    def _forget(self, run_id: str) -> None:
        self._tasks.pop(run_id, None)
        self._looked.pop(run_id, None)
        self._stopping.discard(run_id)

    # -- reading ----------------------------------------------------------------------------------

    def get(self, run_id: str, *, items: bool = True) -> Run | None:
        """A run with its progress (and items), or None."""
        with self._store.connect() as db:
            row = db.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().first()
            if row is None:
                return None
            stored = (
                db.execute(
                    RUN_ITEMS.select()
                    .where(RUN_ITEMS.c.run_id == run_id)
                    .order_by(RUN_ITEMS.c.position)
                )
                .mappings()
                .all()
            )
        plan = self._plan(run_id)
        if plan is None:
            found = [_item(r) for r in stored]
            return _run(row, found, items=items)
        return self._journal_run(row, plan, {r["position"]: r for r in stored}, items=items)

    def list(
        self,
        identity: str | None = None,
        limit: int = 100,
        *,
        after: tuple[str, str] | None = None,
    ) -> list[Run]:
        """The newest runs (of one identity), without their items, newest first by
        (created, id); ``after``: the (created, id) of the last run of the previous page."""
        query = sa.select(RUNS.c.id).order_by(RUNS.c.created.desc(), RUNS.c.id.desc()).limit(limit)
        if identity is not None:
            query = query.where(RUNS.c.identity == identity)
        if after is not None:
            created = _when(after[0])
            query = query.where(
                sa.or_(
                    RUNS.c.created < created,
                    sa.and_(RUNS.c.created == created, RUNS.c.id < after[1]),
                )
            )
        with self._store.connect() as db:
            ids = [row[0] for row in db.execute(query).all()]
        return [run for run in (self.get(i, items=False) for i in ids) if run is not None]

    def count(self, identity: str | None = None) -> int:
        """How many runs (of one identity) there are."""
        query = sa.select(sa.func.count()).select_from(RUNS)
        if identity is not None:
            query = query.where(RUNS.c.identity == identity)
        with self._store.connect() as db:
            return int(db.execute(query).scalar_one())

    def _plan(self, run_id: str) -> JournalPlan | None:
        return self._orch.runs.planned(run_id)

    def _journal_run(
        self, row: Any, plan: JournalPlan, stored: dict[int, Any], *, items: bool
    ) -> Run:
        journal = self._orch.journal
        assert journal is not None
        kind = RunKind(row["kind"])
        latest: dict[str, JournalEntry] = {}
        for entry in journal.entries(10**9, run=row["id"], oldest_first=True):
            if entry.operation == plan.operation:
                latest[entry.subject.lower()] = entry
        cancelled = row["state"] == RunState.CANCELLED.value
        found = [
            _journal_item(
                position,
                _key(kind, planned),
                latest.get(_subject(kind, planned)),
                stored.get(position),
                finished=plan.finished,
                cancelled=cancelled,
            )
            for position, planned in enumerate(plan.items)
        ]
        ends = [e.finished or e.at for e in latest.values()]
        updated = max([_utc(row["updated"]), *ends])
        if cancelled:
            state = RunState.CANCELLED
        elif plan.finished:
            good = all(item.state == "succeeded" for item in found)
            state = RunState.SUCCEEDED if good else RunState.FAILED
        elif row["state"] == RunState.ACCEPTED.value and not latest:
            state = RunState.ACCEPTED
        else:
            state = RunState.RUNNING
        return _run(row, found, items=items, state=state, updated=updated)

    # -- working ----------------------------------------------------------------------------------

    async def _work(self, run_id: str, resuming: bool, prepared: PreparedRun | None) -> None:
        try:
            row = await asyncio.to_thread(self._running, run_id)
            plan = await asyncio.to_thread(self._plan, run_id)
            if plan is not None:
                await self._work_journalled(row, plan, prepared)
            else:
                await self._work_items(row, resuming, prepared)
            await asyncio.to_thread(self._finish, run_id)
        except asyncio.CancelledError:
            # Cancelled on request (not a shutdown): settle it here, as the run's worker.
            if await asyncio.shield(asyncio.to_thread(self._cancelled, run_id)):
                await asyncio.shield(self._settle_cancelled(run_id))
                return
            raise
        except Exception:  # a store fault: the run stays unfinished, settled next start
            _log.exception("run %s stopped", run_id)
        finally:
            leases = self._orch.runs.leases
            if leases is not None:
                await leases.give_back(run_id)

    def _running(self, run_id: str) -> Any:
        with self._store.begin() as db:
            db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id)
                .values(state=RunState.RUNNING.value, updated=datetime.now(UTC))
            )
            return db.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().one()

    async def _work_journalled(
        self, run: Any, plan: JournalPlan, prepared: PreparedRun | None
    ) -> None:
        run_id = run["id"]
        kind = RunKind(run["kind"])
        concurrency = max(1, int(run["concurrency"]))
        service = self._orch.runs
        if prepared is None:
            # Settled after a restart by the journal's own resume: it reads each open item
            # back from the platform before re-applying it, and sends those never started.
            positions = {_key(kind, planned): n for n, planned in enumerate(plan.items)}
            with acting_scope(Identity.parse(run["identity"])):
                result = await service.resume(run=run_id, concurrency=concurrency)
            for done in result.items:
                key = done.key.lower()
                if done.error is not None and key in positions:
                    failure = {
                        "state": "failed",
                        "error_code": done.error.code,
                        "error_message": done.error.message,
                    }
                    payload = _payload(kind, plan.items[positions[key]])
                    await asyncio.to_thread(
                        self._record, run_id, positions[key], failure, key, payload
                    )
            return

        async def failed(index: int, value: Any, error: errors.MailadminError | None) -> None:
            await self._look_for_cancel(run_id)
            if error is None:
                return
            # The caller-facing error (with a refusal's reason), which the journal's row
            # may lack, or which came before any row was written.
            planned = plan.items[index]
            key, payload = _key(kind, planned), _payload(kind, planned)
            values = _values(value, error)
            await asyncio.to_thread(self._record, run_id, index, values, key, payload)

        result = await service.execute(prepared, concurrency=concurrency, on_item=failed)
        _still_open(result)

    async def _work_items(self, run: Any, resuming: bool, prepared: PreparedRun | None) -> None:
        """A run the journal does not hold as a run (a dry run, a bulk sale): its items
        live in the API's table; each item's end is recorded there."""
        run_id = run["id"]
        kind = RunKind(run["kind"])
        identity = Identity.parse(run["identity"])
        service = self._orch.runs
        positions: list[int]
        if prepared is None:
            if resuming and not bool(run["dry_run"]):
                await self._settle_open_rows(run_id, identity)

            def pending() -> list[Any]:
                with self._store.connect() as db:
                    found = db.execute(
                        RUN_ITEMS.select()
                        .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.state == "pending")
                        .order_by(RUN_ITEMS.c.position)
                    )
                    return list(found.mappings().all())

            items = await asyncio.to_thread(pending)
            positions = [int(item["position"]) for item in items]
            with acting_scope(identity):
                # The remaining items carry on the same run (its journal scope and id).
                prepared = await service.prepare(
                    _OPERATIONS[kind],
                    [_item_of(kind, json.loads(item["payload"])) for item in items],
                    dry_run=bool(run["dry_run"]),
                    run_id=run_id,
                )
        else:
            positions = list(range(len(prepared.items)))

        async def record(index: int, value: Any, error: errors.MailadminError | None) -> None:
            values = _values(value, error)
            await asyncio.to_thread(self._record, run_id, positions[index], values)
            await self._look_for_cancel(run_id)

        result = await service.execute(
            prepared, concurrency=max(1, int(run["concurrency"])), on_item=record
        )
        _still_open(result)

    async def _settle_open_rows(self, run_id: str, identity: Identity) -> None:
        """Complete the journal rows a killed sale left open (read back, then applied)."""
        try:
            with acting_scope(identity):
                await self._orch.runs.resume(run=run_id)
        except errors.NotFoundError:
            pass  # nothing of this run reached the journal

    def _record(
        self,
        run_id: str,
        position: int,
        values: dict[str, Any],
        key: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> None:
        """Write an item's end; ``key`` and ``payload`` add the row when there is none
        (an item of a journal run has a row here only when it failed)."""
        now = datetime.now(UTC)
        with self._store.begin() as db:
            done = db.execute(
                RUN_ITEMS.update()
                .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.position == position)
                .values(updated=now, **values)
            )
            if done.rowcount == 0 and key is not None:
                row = _item_row(run_id, position, key, payload or {}, now)
                db.execute(RUN_ITEMS.insert().values(**(row | values)))
            db.execute(RUNS.update().where(RUNS.c.id == run_id).values(updated=now))

    def _finish(self, run_id: str) -> None:
        run = self.get(run_id, items=False)
        if run is None:
            return
        state = RunState.SUCCEEDED if run.progress.failed == 0 else RunState.FAILED
        # A run the journal holds records its own event when the journal finishes it.
        from mailadmin.orchestration.storage import emit_event

        journalled = self._plan(run_id) is not None
        with self._store.begin() as db:
            done = db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id, RUNS.c.state.in_(_UNFINISHED))
                .values(state=state.value, updated=datetime.now(UTC))
            )
            if done.rowcount and not journalled:
                data = {"run_id": run_id, "distributed": False, "operation": run.kind.value}
                data |= {"identity": run.identity, "dry_run": run.dry_run, "state": state.value}
                data["counts"] = run.progress.model_dump(mode="json")
                emit_event(db, "run.finished", data)


def _still_open(result: Any) -> None:
    """A run cut off by a store outage is not finished: it stays unfinished (and its lease
    is given back) so it is taken up again once the store answers."""
    if result.store_unavailable:
        raise errors.StoreUnavailable("The store went out of reach during the run")


def _values(value: Any, error: errors.MailadminError | None) -> dict[str, Any]:
    """The values of an item's end in the API's table."""
    if error is not None:
        return _failure(error)
    if isinstance(value, SaleItem):
        values: dict[str, Any] = {"state": value.outcome.value}
        if value.outcome is SaleOutcome.FAILED:
            values |= {"error_code": "sale_failed", "error_message": value.reason}
        return values | {"result": value.model_dump_json()}
    assert isinstance(value, BaseModel)
    return {"state": "succeeded", "result": value.model_dump_json()}


def _item_of(kind: RunKind, payload: dict[str, Any]) -> dict[str, Any]:
    """The run service's item of an API item (a plan change names its mailbox ``address``)."""
    if kind is RunKind.PLAN_CHANGES:
        return {"mailbox": payload["address"], "plan": payload["plan"]}
    if kind is RunKind.ADDONS:
        return {
            "tenant": payload["tenant"],
            "addon": payload["addon"],
            "quantity": payload["quantity"],
        }
    return {"sale": payload["sale"], "name": payload["name"]}


def _payload(kind: RunKind, planned: list[Any]) -> dict[str, Any]:
    if kind is RunKind.PLAN_CHANGES:
        return {"address": planned[0], "plan": planned[1]}
    return {"tenant": planned[0], "addon": planned[1], "quantity": int(planned[2])}


def _key(kind: RunKind, planned: list[Any]) -> str:
    if kind is RunKind.PLAN_CHANGES:
        return str(planned[0]).strip().lower()
    return f"{str(planned[0]).strip().lower()}:{str(planned[1]).strip().lower()}"


def _subject(kind: RunKind, planned: list[Any]) -> str:
    """The journal's subject of a planned item (lower case)."""
    if kind is RunKind.PLAN_CHANGES:
        return str(planned[0]).strip().lower()
    return f"{str(planned[0]).strip().lower()} {str(planned[1]).strip().lower()}"


def _journal_item(
    position: int,
    key: str,
    entry: JournalEntry | None,
    stored: Any,
    *,
    finished: bool,
    cancelled: bool = False,
) -> RunItem:
    """One item of a journal run: the journal's row says how it ended; the API's row adds
    the error the caller was given."""
    if entry is not None and entry.status == "done" and not entry.open:
        note = entry.debug.get("note", "") if isinstance(entry.debug, dict) else ""
        result = {
            "operation": entry.operation,
            "subject": entry.subject,
            "outcome": entry.outcome,
            "before": entry.before,
            "after": entry.after,
            "dry_run": False,
            "note": note,
        }
        return RunItem(position=position, key=key, state="succeeded", result=result)
    settled = entry is None or not entry.open
    if stored is not None and stored["state"] == "failed" and settled:
        return _item(stored)
    if entry is not None and (settled or finished):
        error = ItemError(
            code=entry.error_code or "outcome_unknown",
            message=entry.error_message
            or "The write's outcome is not known yet; 'mailadmin journal resume' settles it",
        )
        return RunItem(position=position, key=key, state="failed", error=error)
    if cancelled and entry is None:
        return RunItem(position=position, key=key, state=RunState.CANCELLED.value)
    if finished:
        # Ended by another process (``journal resume``) that keeps no caller's errors.
        error = ItemError(
            code="not_run", message="The run ended without sending this item; see the journal"
        )
        return RunItem(position=position, key=key, state="failed", error=error)
    return RunItem(position=position, key=key, state="pending")


def visible_to(identity: Identity, run: Run) -> bool:
    """A run is its creator's; the site admin sees every run."""
    return identity.kind is IdentityKind.SITE_ADMIN or run.identity == str(identity)


def _failure(error: errors.MailadminError) -> dict[str, Any]:
    reason = error.reason if isinstance(error, errors.PolicyDenied) else None
    code = error.code if reason is None else f"{error.code}:{reason}"
    return {"state": "failed", "error_code": code, "error_message": error.message}


def _item(row: Any) -> RunItem:
    error = None
    if row["error_code"] is not None:
        code, _, reason = str(row["error_code"]).partition(":")
        error = ItemError(code=code, message=row["error_message"] or "", reason=reason or None)
    result = json.loads(row["result"]) if row["result"] else None
    return RunItem(
        position=row["position"], key=row["key"], state=row["state"], result=result, error=error
    )


def _run(
    row: Any,
    found: list[RunItem],
    *,
    items: bool,
    state: RunState | None = None,
    updated: datetime | None = None,
) -> Run:
    good = sum(1 for i in found if i.state in _GOOD)
    bad = sum(1 for i in found if i.state == "failed")
    progress = Progress(total=row["total"], done=good + bad, succeeded=good, failed=bad)
    kind = RunKind(row["kind"])
    summary = None
    if kind is RunKind.SALES:
        summary = {o.value: sum(1 for i in found if i.state == o.value) for o in SaleOutcome}
    return Run(
        id=row["id"],
        kind=kind,
        state=state or RunState(row["state"]),
        dry_run=bool(row["dry_run"]),
        identity=row["identity"],
        created=_utc(row["created"]),
        updated=updated or _utc(row["updated"]),
        progress=progress,
        summary=summary,
        items=found if items else [],
    )


def _item_row(
    run_id: str, position: int, key: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "position": position,
        "key": key,
        "payload": json.dumps(payload),
        "state": "pending",
        "updated": now,
    }


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _when(text: str) -> datetime:
    """A run's ``created`` from its cursor text (ISO 8601, UTC)."""
    found = datetime.fromisoformat(text)
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
