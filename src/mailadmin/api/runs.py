"""Bulk runs of the HTTP API: accepted at once (``202``), worked in the background, polled.

A run and each of its items are rows in the store before any work starts, and each item's
result is written as it finishes. When the service stops (or is killed) mid-run, the next
start picks up every unfinished run and sends the items that have no result yet: every
bulk write of mailadmin is absolute (a plan, a total), so an item that was on the wire when
the service died is safely sent again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from mailadmin.api.tables import RUN_ITEMS, RUNS
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind, acting_scope

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.store.database import Database

__all__ = ["Run", "RunItem", "RunKind", "RunManager", "RunState"]

_log = logging.getLogger("mailadmin.api.runs")


class RunKind(StrEnum):
    """What a run does to each item."""

    PLAN_CHANGES = "plan_changes"
    ADDONS = "addons"


class RunState(StrEnum):
    """``accepted`` (stored, not started), ``running``, then ``succeeded`` (every item
    succeeded) or ``failed`` (at least one item failed; the items say which and why)."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class ItemError(BaseModel):
    """Why one item failed: the typed error's code and user-safe message."""

    code: str
    message: str
    reason: str | None = None


class RunItem(BaseModel):
    """One item: ``pending``, ``succeeded`` (with the change result) or ``failed``."""

    position: int
    key: str
    state: str
    result: dict[str, Any] | None = None
    error: ItemError | None = None


class Progress(BaseModel):
    """How far a run is."""

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
    items: list[RunItem] = Field(default_factory=list)


Work = Callable[[dict[str, Any]], Awaitable[BaseModel]]


class RunManager:
    """Stores runs, works them with bounded concurrency and resumes them after a restart."""

    def __init__(self, orch: Orchestrator, store: Database) -> None:
        self._orch = orch
        self._store = store
        self._tasks: dict[str, asyncio.Task[None]] = {}

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
        """Store a run with its items and start it; returns it as first polled."""
        run_id = str(uuid.uuid4())
        now = datetime.now(UTC)

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
                if items:
                    db.execute(
                        RUN_ITEMS.insert(),
                        [
                            {
                                "run_id": run_id,
                                "position": position,
                                "key": key,
                                "payload": json.dumps(payload),
                                "state": "pending",
                                "updated": now,
                            }
                            for position, (key, payload) in enumerate(items)
                        ],
                    )

        await asyncio.to_thread(store)
        self._spawn(run_id)
        found = await asyncio.to_thread(self.get, run_id)
        assert found is not None
        return found

    async def resume(self) -> list[str]:
        """Start again every run a previous service left unfinished; returns their ids."""

        def unfinished() -> list[str]:
            with self._store.connect() as db:
                rows = db.execute(
                    sa.select(RUNS.c.id).where(
                        RUNS.c.state.in_([RunState.ACCEPTED.value, RunState.RUNNING.value])
                    )
                ).all()
            return [row[0] for row in rows]

        found = await asyncio.to_thread(unfinished)
        for run_id in found:
            _log.info("resuming run %s", run_id)
            self._spawn(run_id)
        return found

    async def aclose(self) -> None:
        """Stop working (the unfinished items stay pending, for the next start)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self, run_id: str) -> None:
        """Wait for a run this process works on to end (tests)."""
        task = self._tasks.get(run_id)
        if task is not None:
            await asyncio.shield(task)

    def _spawn(self, run_id: str) -> None:
        if run_id in self._tasks:
            return
        task = asyncio.get_running_loop().create_task(self._work(run_id), name=f"run-{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(run_id, None))

    # -- reading ----------------------------------------------------------------------------------

    def get(self, run_id: str, *, items: bool = True) -> Run | None:
        """A run with its progress (and items), or None."""
        with self._store.connect() as db:
            row = db.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().first()
            if row is None:
                return None
            rows = (
                db.execute(
                    RUN_ITEMS.select()
                    .where(RUN_ITEMS.c.run_id == run_id)
                    .order_by(RUN_ITEMS.c.position)
                )
                .mappings()
                .all()
            )
        found = [_item(r) for r in rows]
        return _run(row, found if items else [], found)

    def list(self, identity: str | None = None, limit: int = 100) -> list[Run]:
        """The newest runs (of one identity), without their items."""
        query = RUNS.select().order_by(RUNS.c.created.desc()).limit(limit)
        if identity is not None:
            query = query.where(RUNS.c.identity == identity)
        with self._store.connect() as db:
            rows = db.execute(query).mappings().all()
            counts = {
                (r[0], r[1]): int(r[2])
                for r in db.execute(
                    sa.select(RUN_ITEMS.c.run_id, RUN_ITEMS.c.state, sa.func.count())
                    .where(RUN_ITEMS.c.run_id.in_([row["id"] for row in rows]))
                    .group_by(RUN_ITEMS.c.run_id, RUN_ITEMS.c.state)
                ).all()
            }
        runs = []
        for row in rows:
            ok = counts.get((row["id"], "succeeded"), 0)
            bad = counts.get((row["id"], "failed"), 0)
            progress = Progress(total=row["total"], done=ok + bad, succeeded=ok, failed=bad)
            runs.append(_run(row, [], None, progress))
        return runs

    # -- working ----------------------------------------------------------------------------------

    async def _work(self, run_id: str) -> None:
        try:
            await self._work_items(run_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # a store fault: the run stays unfinished, resumed next start
            _log.exception("run %s stopped", run_id)

    async def _work_items(self, run_id: str) -> None:
        def load() -> tuple[Any, list[Any]]:
            with self._store.begin() as db:
                db.execute(
                    RUNS.update()
                    .where(RUNS.c.id == run_id)
                    .values(state=RunState.RUNNING.value, updated=datetime.now(UTC))
                )
                run = db.execute(RUNS.select().where(RUNS.c.id == run_id)).mappings().one()
                pending = (
                    db.execute(
                        RUN_ITEMS.select()
                        .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.state == "pending")
                        .order_by(RUN_ITEMS.c.position)
                    )
                    .mappings()
                    .all()
                )
            return run, list(pending)

        run, pending = await asyncio.to_thread(load)
        identity = Identity.parse(run["identity"])
        work = self._work_for(RunKind(run["kind"]), bool(run["dry_run"]))
        gate = asyncio.Semaphore(max(1, int(run["concurrency"])))

        async def one(item: Any) -> None:
            async with gate:
                payload = json.loads(item["payload"])
                values: dict[str, Any]
                try:
                    with acting_scope(identity):
                        result = await work(payload)
                    values = {"state": "succeeded", "result": result.model_dump_json()}
                except errors.MailadminError as exc:
                    values = _failure(exc)
                except Exception as exc:
                    from mailadmin.contract.provider import normalise

                    values = _failure(normalise(exc))
                await asyncio.to_thread(self._record, run_id, item["position"], values)

        await asyncio.gather(*(one(item) for item in pending))
        await asyncio.to_thread(self._finish, run_id)

    def _work_for(self, kind: RunKind, dry_run: bool) -> Work:
        orch = self._orch
        if kind is RunKind.PLAN_CHANGES:

            async def set_plan(payload: dict[str, Any]) -> BaseModel:
                return await orch.set_plan(payload["address"], payload["plan"], dry_run=dry_run)

            return set_plan

        async def apply_addon(payload: dict[str, Any]) -> BaseModel:
            return await orch.apply_addon(
                payload["tenant"], payload["addon"], int(payload["quantity"]), dry_run=dry_run
            )

        return apply_addon

    def _record(self, run_id: str, position: int, values: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        with self._store.begin() as db:
            db.execute(
                RUN_ITEMS.update()
                .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.position == position)
                .values(updated=now, **values)
            )
            db.execute(RUNS.update().where(RUNS.c.id == run_id).values(updated=now))

    def _finish(self, run_id: str) -> None:
        with self._store.begin() as db:
            failed = db.execute(
                sa.select(sa.func.count())
                .select_from(RUN_ITEMS)
                .where(RUN_ITEMS.c.run_id == run_id, RUN_ITEMS.c.state == "failed")
            ).scalar_one()
            state = RunState.FAILED if failed else RunState.SUCCEEDED
            db.execute(
                RUNS.update()
                .where(RUNS.c.id == run_id)
                .values(state=state.value, updated=datetime.now(UTC))
            )


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
    items: list[RunItem],
    all_items: list[RunItem] | None,
    progress: Progress | None = None,
) -> Run:
    if progress is None:
        found = all_items or []
        ok = sum(1 for i in found if i.state == "succeeded")
        bad = sum(1 for i in found if i.state == "failed")
        progress = Progress(total=row["total"], done=ok + bad, succeeded=ok, failed=bad)
    return Run(
        id=row["id"],
        kind=RunKind(row["kind"]),
        state=RunState(row["state"]),
        dry_run=bool(row["dry_run"]),
        identity=row["identity"],
        created=_utc(row["created"]),
        updated=_utc(row["updated"]),
        progress=progress,
        items=items,
    )


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
