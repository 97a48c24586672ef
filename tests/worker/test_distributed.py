"""Distributed runs on worker processes against the real PostgreSQL server and the
standalone memory mock (``mailadmin mock serve memory``): a worker SIGKILLed half-way,
per-subject serialisation across workers, the per-instance limit, cancel, pruning the
finished jobs, every bulk command (set-plan, sell, count) on the workers, and the refusal
without PostgreSQL.

``MAILADMIN_WORKER_ITEMS`` sets the size of the crash run (default 10,000, the issue's
size; benchmarks/distributed.py measures the rate).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

pytest.importorskip("procrastinate")

ITEMS = int(os.environ.get("MAILADMIN_WORKER_ITEMS", "10000"))

PLANS = {
    "mail": {"native": "basic", "quota_mb": 2048},
    "sync": {"native": "standard", "quota_mb": 5120},
    "collaborate": {"native": "premium", "quota_mb": 10240},
}
TENANT = "bulk.test"


def address(i: int) -> str:
    return f"u{i:05d}@{TENANT}"


def seed(count: int) -> dict[str, Any]:
    mailboxes = [{"address": address(i), "kind": "user", "plan": "basic"} for i in range(count)]
    return {"tenants": {TENANT: {"allocations": {"user_seats": count}, "mailboxes": mailboxes}}}


def write_config(
    folder: Path,
    store: str,
    endpoint: str,
    *,
    chunk_size: int = 50,
    limits: str = "",
    distributed: bool = False,
    extra: str = "",
) -> Path:
    lines = [
        "[journal]",
        f"url = {json.dumps(store)}",
        "[worker]",
        f"chunk_size = {chunk_size}",
        f"distributed = {json.dumps(distributed)}",
        *([f"limits = {limits}"] if limits else []),
        "[plans.mail]",
        "rank = 1",
        "[plans.sync]",
        "rank = 2",
        "[plans.collaborate]",
        "rank = 3",
        "[instances.mem]",
        'provider = "memory"',
        f'endpoint = "{endpoint}"',
        'credentials = { username = "admin", secret = "secret" }',
    ]
    for name, plan in PLANS.items():
        fields = ", ".join(f"{k} = {json.dumps(v)}" for k, v in plan.items())
        lines.append(f"plans.{name} = {{ {fields} }}")
    lines += [f'[tenants."{TENANT}"]', 'instance = "mem"', f'domains = ["{TENANT}"]', extra]
    path = folder / "mailadmin.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Mock:
    """``mailadmin mock serve memory`` in its own process."""

    def __init__(self, folder: Path, count: int, data: dict[str, Any] | None = None) -> None:
        path = folder / "seed.json"
        path.write_text(json.dumps(data if data is not None else seed(count)))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailadmin", "mock", "serve", "memory", "--seed", str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        self.url = line.removeprefix("listening on ")

    def state(self) -> dict[str, str]:
        tenants = httpx.get(self.url + "/_mock/state", timeout=30).json()["tenants"]
        return {m["address"]: m["plan"] for m in tenants[TENANT]["mailboxes"]}

    def writes(self) -> list[dict[str, Any]]:
        return list(
            httpx.get(self.url + "/_mock/requests", params={"write": "true"}, timeout=30).json()
        )

    def fault(self, fault: dict[str, Any]) -> None:
        httpx.post(self.url + "/_mock/faults", json=fault, timeout=10).raise_for_status()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Workers:
    """``mailadmin worker`` processes on one configuration."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, concurrency: int = 8, *more: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailadmin",
                "--config",
                str(self.config),
                "worker",
                "--concurrency",
                str(concurrency),
                "--heartbeat",
                "0.5",
                # Long enough that a live worker on a loaded machine is never taken for
                # dead (its jobs would then run twice at once), short enough to recover
                # quickly from the SIGKILL.
                "--stalled-after",
                "5",
                *more,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                raise AssertionError(f"worker exited with {process.returncode}")
            if line.startswith("worker ready"):
                break
        self.processes.append(process)
        return process

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(postgres_schema_url: str, tmp_path: Path) -> Iterator[Any]:
    """Builds a mock with ``count`` mailboxes, a configuration and a worker pool."""
    made: list[Any] = []

    def build(
        count: int, data: dict[str, Any] | None = None, **options: Any
    ) -> tuple[Mock, Path, Workers]:
        mock = Mock(tmp_path, count, data)
        made.append(mock)
        config = write_config(tmp_path, postgres_schema_url, mock.url, **options)
        workers = Workers(config)
        made.append(workers)
        return mock, config, workers

    yield build
    for thing in reversed(made):
        thing.stop()


def cli(config: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailadmin", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _engine(config: Path) -> sa.Engine:
    import tomllib

    return sa.create_engine(tomllib.loads(config.read_text())["journal"]["url"])


def _changes(folder: Path, count: int, plan: str, name: str = "changes.csv") -> Path:
    path = folder / name
    path.write_text("address,plan\n" + "".join(f"{address(i)},{plan}\n" for i in range(count)))
    return path


def _submit(config: Path, changes: Path) -> str:
    done = cli(config, "set-plan", "--file", str(changes), "--distributed", "--detach", "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["run_id"])


def _status(config: Path, run_id: str) -> dict[str, Any]:
    done = cli(config, "runs", "show", run_id, "--json")
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def _wait(engine: sa.Engine, run_id: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as db:
            finished = db.execute(
                sa.text("SELECT finished FROM mailadmin_runs WHERE id = :id"), {"id": run_id}
            ).scalar()
        if finished is not None:
            return
        time.sleep(0.5)
    raise AssertionError(f"run {run_id} did not finish in {timeout} s")


def _settled(engine: sa.Engine, run_id: str) -> int:
    with engine.connect() as db:
        return int(
            db.execute(
                sa.text(
                    "SELECT count(*) FROM mailadmin_run_items "
                    "WHERE run_id = :id AND state <> 'pending'"
                ),
                {"id": run_id},
            ).scalar()
            or 0
        )


def test_a_worker_killed_half_way_leaves_every_item_settled_exactly_once(cluster, tmp_path):
    # Chunks of 200: 50 jobs over 16 lanes, so the kill still catches several mid-chunk.
    mock, config, workers = cluster(ITEMS, chunk_size=200)
    victim = workers.start(8)
    workers.start(8)
    started = time.monotonic()
    run_id = _submit(config, _changes(tmp_path, ITEMS, "sync"))
    engine = _engine(config)
    while _settled(engine, run_id) < ITEMS // 2:
        assert time.monotonic() - started < 600, "the run did not reach half-way"
        # Each look counts the run's settled items: often enough to kill near half-way,
        # rarely enough not to load the database the workers share.
        time.sleep(0.25)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    _wait(engine, run_id, timeout=900)
    elapsed = time.monotonic() - started

    # The platform: every mailbox on its target plan, each written exactly once.
    state = mock.state()
    assert len(state) == ITEMS
    assert set(state.values()) == {"standard"}
    per_mailbox = Counter(w["path"].split("/")[5] for w in mock.writes())
    assert set(per_mailbox.values()) == {1}, per_mailbox.most_common(3)
    assert len(per_mailbox) == ITEMS

    with engine.connect() as db:
        items = db.execute(
            sa.text(
                "SELECT state, count(*) FROM mailadmin_run_items WHERE run_id = :id GROUP BY state"
            ),
            {"id": run_id},
        ).all()
        rows = db.execute(
            sa.text(
                "SELECT subject, status, outcome, resumed_from FROM mailadmin_journal "
                "WHERE run_id = :id"
            ),
            {"id": run_id},
        ).all()
        jobs = dict(
            db.execute(
                sa.text("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")
            ).all()
        )
        retried = db.execute(
            sa.text("SELECT count(*) FROM procrastinate_jobs WHERE attempts > 0")
        ).scalar()
    # Every item recorded exactly once, settled.
    assert dict(items) == {"done": ITEMS}
    assert Counter(subject for subject, *_ in rows) == {address(i): 1 for i in range(ITEMS)}
    assert {status for _, status, _, _ in rows} == {"done"}
    assert {outcome for _, _, outcome, _ in rows} <= {"changed", "unchanged"}
    # The killed worker's jobs were handed to the other worker and finished there.
    assert retried and retried > 0
    assert set(jobs) == {"succeeded"}, jobs
    status = _status(config, run_id)
    assert status["state"] == "finished" and status["ended"] == ITEMS
    print(f"\n{ITEMS} items over 2 workers, one SIGKILLed half-way: {elapsed:.1f} s")


def test_two_jobs_on_one_mailbox_never_run_at_once_across_workers(cluster, tmp_path):
    count = 12
    mock, config, workers = cluster(count, chunk_size=1)
    delay = 0.3
    mock.fault({"kind": "latency", "operation": "change_plan", "delay": delay})
    workers.start(4)
    workers.start(4)
    # Two runs over the same mailboxes, one chunk per item: without the lane locks the
    # second run's job for a mailbox would run beside the first's on the other worker.
    first = _submit(config, _changes(tmp_path, count, "sync", "first.csv"))
    second = _submit(config, _changes(tmp_path, count, "collaborate", "second.csv"))
    engine = _engine(config)
    _wait(engine, first, 60)
    _wait(engine, second, 60)
    writes: dict[str, list[float]] = {}
    for write in mock.writes():
        writes.setdefault(write["path"].split("/")[5], []).append(float(write["at"]))
    assert len(writes) == count
    for mailbox, moments in writes.items():
        moments.sort()
        assert len(moments) == 2, (mailbox, moments)
        # The second write may only arrive after the first was answered (and re-read).
        assert moments[1] - moments[0] >= delay * 0.95, (mailbox, moments)
    # Jobs of one lane run in the order they were enqueued: the second run wins.
    assert set(mock.state().values()) == {"premium"}


def test_an_instance_never_has_more_calls_in_flight_than_its_limit(cluster, tmp_path):
    count, limit, delay = 24, 2, 0.2
    mock, config, workers = cluster(count, chunk_size=3, limits="{ mem = 2 }")
    mock.fault({"kind": "latency", "delay": delay})
    workers.start(4)
    workers.start(4)
    run_id = _submit(config, _changes(tmp_path, count, "sync"))
    _wait(_engine(config), run_id, 90)
    requests = httpx.get(mock.url + "/_mock/requests", timeout=30).json()
    moments = sorted(float(r["at"]) for r in requests)
    # Each lane sends one request at a time and each answer takes `delay`: any window
    # shorter than that sees at most one arrival per lane.
    window = delay * 0.9
    busiest = max(
        sum(1 for other in moments if start <= other < start + window) for start in moments
    )
    assert busiest <= limit, busiest
    assert set(mock.state().values()) == {"standard"}


def test_cancel_stops_a_run_cleanly(cluster, tmp_path):
    count = 40
    mock, config, workers = cluster(count, chunk_size=5)
    mock.fault({"kind": "latency", "operation": "change_plan", "delay": 0.2})
    run_id = _submit(config, _changes(tmp_path, count, "sync"))
    workers.start(2)
    engine = _engine(config)
    while _settled(engine, run_id) < 2:
        time.sleep(0.05)
    done = cli(config, "runs", "cancel", run_id, "--json")
    assert done.returncode == 0, done.stderr
    _wait(engine, run_id, 60)
    status = _status(config, run_id)
    assert status["state"] == "cancelled"
    counts = status["counts"]
    assert counts.get("cancelled", 0) > 0
    assert sum(counts.values()) == count and "pending" not in counts
    # What the run says was done is what the platform holds, item by item.
    state = mock.state()
    for item in status["items"]:
        expected = "standard" if item["state"] == "done" else "basic"
        assert state[item["item"]["mailbox"]] == expected, item
    only = json.loads(cli(config, "runs", "show", run_id, "--state", "cancelled", "--json").stdout)
    assert {i["state"] for i in only["items"]} == {"cancelled"}
    assert len(only["items"]) == counts["cancelled"]
    listed = cli(config, "runs", "--json")
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [run_id]


def test_distributed_mode_refuses_without_postgresql(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.sqlite'}", "http://127.0.0.1:9")
    changes = _changes(tmp_path, 2, "sync")
    done = cli(config, "set-plan", "--file", str(changes), "--distributed")
    assert done.returncode == 2
    assert "needs the PostgreSQL store" in done.stderr
    assert "[journal] url" in done.stderr
    for args in (("worker",), ("runs",)):
        done = cli(config, *args)
        assert done.returncode == 2, args
        assert "needs the PostgreSQL store" in done.stderr


def test_importing_mailadmin_does_not_import_procrastinate():
    code = "import sys, mailadmin, mailadmin.cli; print('procrastinate' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


async def test_the_python_forms_run_on_a_worker(postgres_schema_url, tmp_path):
    import asyncio

    from mailadmin.mock.serve import serve
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.worker.engine import run_worker

    count = 30
    with serve("memory", seed=seed(count)) as url:
        # [worker] distributed = true: the bulk forms go to the workers by default.
        config = write_config(tmp_path, postgres_schema_url, url, chunk_size=7, distributed=True)
        async with (
            Orchestrator.from_config(config) as worker_side,
            Orchestrator.from_config(config) as orch,
        ):
            worker = asyncio.ensure_future(
                run_worker(worker_side, concurrency=4, heartbeat=0.5, install_signal_handlers=False)
            )
            try:
                seen: list[tuple[int, int]] = []
                result = await orch.set_plans(
                    [(address(i), "sync") for i in range(count)],
                    progress=lambda done, total, _: seen.append((done, total)),
                )
                added = await orch.apply_addons([(TENANT, "storage_gb", 20)])
                # In-process when asked, and a dry run never goes to the workers.
                local = await orch.set_plans([(address(0), "sync")], distributed=False)
                dry = await orch.set_plans([(address(1), "collaborate")], dry_run=True)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
    assert result.run_id is not None and result.ok
    assert [item.key for item in result.items] == [address(i) for i in range(count)]
    assert {item.value.outcome.value for item in result.items} == {"changed"}
    assert {item.value.after for item in result.items} == {"sync"}
    assert seen[-1] == (count, count)
    assert added.ok and added.items[0].value.after == 20
    assert added.items[0].key == f"{TENANT}:storage_gb"
    assert local.run_id != result.run_id and local.items[0].value.outcome.value == "unchanged"
    assert dry.items[0].value.dry_run


async def test_a_retried_chunk_applies_only_what_is_missing(postgres_schema_url, tmp_path):
    """A chunk retried after a crash: one item left an open intent (sent or not), one was
    applied and journalled but never recorded, one never started. The retry completes
    the open row from the platform's state, records the journalled one without a call,
    and sends only the last."""
    import asyncio

    from mailadmin.contract.provider import CallInfo
    from mailadmin.mock.serve import serve
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.store.journal import run_scope

    with serve("memory", seed=seed(3)) as url:
        config = write_config(tmp_path, postgres_schema_url, url, chunk_size=10)
        async with Orchestrator.from_config(config) as orch:
            run_id = await orch.submit_run(
                "set_plan", [{"mailbox": address(i), "plan": "sync"} for i in range(3)]
            )
            journal = orch.journal
            assert journal is not None
            provider, ref = orch.mailbox(address(0))
            # Item 0: the crashed worker had recorded its intent; the write did land.
            call = CallInfo(
                provider.instance, provider.name, "set_plan", {"mailbox": ref, "plan": "sync"}
            )
            with run_scope(run_id):
                await journal.write(journal.intent(call))
            httpx.put(
                f"{url}/api/tenants/{TENANT}/mailboxes/{address(0)}/plan",
                json={"plan": "standard"},
                auth=("admin", "secret"),
            )
            # Item 1: applied and journalled, its item record lost with the worker.
            with run_scope(run_id):
                await orch.set_plan(address(1), "sync")
            before = len(httpx.get(url + "/_mock/requests", params={"write": "true"}).json())
            engine = orch.journal.engine
            chunks = {row["chunk"] for row in _items(engine, run_id)}
            for chunk in chunks:
                await orch.runs.work_chunk(run_id, chunk, attempt=1)
            writes = httpx.get(url + "/_mock/requests", params={"write": "true"}).json()[before:]
            rows = await asyncio.to_thread(journal.entries, 100, run=run_id, oldest_first=True)
        state = {a: p for a, p in _state(url).items()}
    # Only item 2 was sent by the retry.
    assert [w["path"].split("/")[5] for w in writes] == [address(2)]
    assert {state[address(i)] for i in range(3)} == {"standard"}
    by_subject = {row.subject: row for row in rows}
    assert len(rows) == 3 and set(by_subject) == {address(i) for i in range(3)}
    assert by_subject[address(0)].resumed_from == "started"
    assert by_subject[address(0)].outcome == "unchanged"
    assert (
        by_subject[address(1)].outcome == "changed" and by_subject[address(1)].resumed_from is None
    )
    assert by_subject[address(2)].outcome == "changed"
    items = _items(engine, run_id)
    assert [(i["state"], i["outcome"]) for i in items] == [
        ("done", "unchanged"),
        ("done", "changed"),
        ("done", "changed"),
    ]


def _items(engine: sa.Engine, run_id: str) -> list[dict[str, Any]]:
    from mailadmin.store.runs import item_states

    return item_states(engine, run_id)


def _state(url: str) -> dict[str, str]:
    tenants = httpx.get(url + "/_mock/state", timeout=30).json()["tenants"]
    return {m["address"]: m["plan"] for m in tenants[TENANT]["mailboxes"]}


async def test_a_worker_takes_only_the_instances_of_its_queues(postgres_schema_url, tmp_path):
    import asyncio

    from mailadmin.mock.serve import serve
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.store.runs import run_status
    from mailadmin.worker.engine import run_worker

    with serve("memory", seed=seed(5)) as url:
        config = write_config(tmp_path, postgres_schema_url, url)
        async with Orchestrator.from_config(config) as orch:
            run_id = await orch.submit_run(
                "set_plan", [{"mailbox": address(i), "plan": "sync"} for i in range(5)]
            )
            engine = orch.journal.engine
            elsewhere = asyncio.ensure_future(
                run_worker(orch, queues=["elsewhere"], install_signal_handlers=False)
            )
            await asyncio.sleep(2)
            untouched = await asyncio.to_thread(run_status, engine, run_id)
            elsewhere.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await elsewhere
            mine = asyncio.ensure_future(
                run_worker(orch, queues=["mem"], install_signal_handlers=False)
            )
            try:
                result = await orch.follow_run(run_id, timeout=60)
            finally:
                mine.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await mine
    assert untouched.counts == {"pending": 5}
    assert result.ok and len(result.items) == 5


def _jobs_of(engine: sa.Engine, run_id: str) -> list[str]:
    with engine.connect() as db:
        return [
            str(status)
            for (status,) in db.execute(
                sa.text("SELECT status FROM procrastinate_jobs WHERE args->>'run_id' = :id"),
                {"id": run_id},
            )
        ]


def _finished_jobs(engine: sa.Engine) -> int:
    with engine.connect() as db:
        return int(
            db.execute(
                sa.text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status IN "
                    "('succeeded', 'failed', 'cancelled', 'aborted')"
                )
            ).scalar_one()
        )


async def test_prune_deletes_finished_jobs_and_keeps_the_runs_results(
    postgres_schema_url, tmp_path
):
    import asyncio
    from types import SimpleNamespace

    from mailadmin.mock.serve import serve
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.worker.engine import make_app, run_worker
    from mailadmin.worker.prune import PRUNE_TASK, prune_jobs

    count = 12
    with serve("memory", seed=seed(count)) as url:
        config = write_config(tmp_path, postgres_schema_url, url, chunk_size=4)
        async with Orchestrator.from_config(config) as orch:
            worker = asyncio.ensure_future(
                run_worker(orch, concurrency=2, heartbeat=0.5, install_signal_handlers=False)
            )
            try:
                result = await orch.set_plans(
                    [(address(i), "sync") for i in range(count)], distributed=True
                )
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            engine = orch.journal.engine
            finished = await asyncio.to_thread(_jobs_of, engine, result.run_id)
            # Within the retention (a day) nothing goes.
            kept = await prune_jobs(orch, 24)
            after_kept = await asyncio.to_thread(_jobs_of, engine, result.run_id)
            # The workers' hourly task, as procrastinate would run it, with a retention
            # of a day: nothing goes either.
            app = make_app(await orch.runs.job_queue(), keep_hours=24)
            (periodic,) = app.periodic_registry.periodic_tasks.values()
            async with app.open_async():
                hourly = await periodic.task.func(SimpleNamespace(app=app), 0)
            after_hourly = await asyncio.to_thread(_jobs_of, engine, result.run_id)
            # The worker's own periodic prune may have run too: the prune counts every
            # finished job of the store, not only this run's.
            every = await asyncio.to_thread(_finished_jobs, engine)
        done = await asyncio.to_thread(
            cli, config, "runs", "prune", "--older-than", "0", "--json", "--yes"
        )
        shown = await asyncio.to_thread(_status, config, result.run_id)
        platform = _state(url)
    assert result.ok and len(finished) >= 3 and set(finished) == {"succeeded"}
    assert kept == 0 and after_kept == finished
    assert periodic.task.name == PRUNE_TASK and periodic.cron == "7 * * * *"
    assert hourly == 0 and after_hourly == finished
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"deleted_jobs": every}
    assert every >= len(finished)
    assert _jobs_of(_engine(config), result.run_id) == []
    # The run and its per-item results are mailadmin's, not procrastinate's: still shown.
    assert shown["state"] == "finished" and shown["counts"] == {"done": count}
    assert [i["item"]["mailbox"] for i in shown["items"]] == [address(i) for i in range(count)]
    assert {i["outcome"] for i in shown["items"]} == {"changed"}
    assert {platform[address(i)] for i in range(count)} == {"standard"}


def test_runs_prune_refuses_without_postgresql(tmp_path):
    config = write_config(tmp_path, f"sqlite:///{tmp_path / 'j.sqlite'}", "http://127.0.0.1:9")
    done = cli(config, "runs", "prune", "--yes")
    assert done.returncode == 2
    assert "needs the PostgreSQL store" in done.stderr


# -- every bulk command on the workers: sell (seed 003) and count --------------------------------

ACME = [f"c{i}.test" for i in range(6)]
HOST = ["h0.test", "h1.test"]
#: Mailboxes per tenant in the mock: counted back through the workers.
SIZES = {name: i + 1 for i, name in enumerate(ACME + HOST)}


def _seed() -> dict[str, Any]:
    tenants = {
        name: {
            "allocations": {"user_seats": 50},
            "mailboxes": [
                {"address": f"u{n}@{name}", "kind": "user", "plan": "basic"} for n in range(size)
            ],
        }
        for name, size in SIZES.items()
    }
    tenants[TENANT] = {"allocations": {"user_seats": 5}, "mailboxes": []}
    return {"tenants": tenants}


def _extra() -> str:
    lines = []
    for name in SIZES:
        lines += [f'[tenants."{name}"]', 'instance = "mem"', f'domains = ["{name}"]']
    # acme may hand its customers 10 shared mailboxes in all: 3 each fits three times.
    lines += ["[resellers.acme]", "package = { shared_mailboxes = 10 }"]
    for name in ACME:
        lines += [f'[customers."{name}"]', 'reseller = "acme"']
    for name in HOST:
        lines += [f'[customers."{name}"]', "renewal = 2027-01-01"]
    return "\n".join(lines)


def _allocations(mock: Mock) -> dict[str, dict[str, int]]:
    tenants = httpx.get(mock.url + "/_mock/state", timeout=30).json()["tenants"]
    return {name: dict(data["allocations"]) for name, data in tenants.items()}


def _mailboxes(mock: Mock) -> dict[str, int]:
    tenants = httpx.get(mock.url + "/_mock/state", timeout=30).json()["tenants"]
    return {name: len(data["mailboxes"]) for name, data in tenants.items()}


def test_sell_distributed_follows_the_run_and_keeps_each_resellers_cap(cluster):
    mock, config, workers = cluster(0, _seed(), chunk_size=2, extra=_extra())
    workers.start(4)
    done = cli(
        config, "sell", "shared_mailbox", "3", "--to", "customers", "--distributed", "--json"
    )
    # Three of acme's customers are refused (its cap): a failed item exits 4, as in-process.
    assert done.returncode == 4, done.stderr
    report = json.loads(done.stdout)
    assert report["run_id"]
    outcomes = {i["name"]: i["outcome"] for i in report["items"]}
    # The sales capped by acme's allocation ran one after another, in order.
    assert [outcomes[name] for name in ACME] == ["sold"] * 3 + ["failed"] * 3
    assert {outcomes[name] for name in HOST} == {"sold"}
    assert report["summary"] == {"sold": 5, "skipped": 0, "failed": 3}
    failed = [i for i in report["items"] if i["outcome"] == "failed"]
    assert all("acme" in i["reason"] for i in failed), failed
    # The platform holds the sold totals and nothing for the refused ones.
    platform = _allocations(mock)
    for name in ACME[:3] + HOST:
        assert platform[name].get("shared_mailboxes") == 3, name
    for name in ACME[3:]:
        assert "shared_mailboxes" not in platform[name], name
    shown = _status(config, report["run_id"])
    assert shown["operation"] == "sell" and shown["counts"] == {"done": 5, "failed": 3}


def test_count_distributed_and_detached(cluster):
    mock, config, workers = cluster(0, _seed(), chunk_size=3, extra=_extra())
    workers.start(4)
    done = cli(config, "count", "--distributed", "--json")
    assert done.returncode == 0, done.stderr
    counted = {row["key"]: row["value"]["total"] for row in json.loads(done.stdout)["items"]}
    assert counted == _mailboxes(mock)
    detached = cli(config, "count", *HOST, "--distributed", "--detach", "--json")
    assert detached.returncode == 0, detached.stderr
    run_id = json.loads(detached.stdout)["run_id"]
    _wait(_engine(config), run_id, 60)
    shown = _status(config, run_id)
    assert shown["state"] == "finished" and shown["counts"] == {"done": 2}
    assert {i["item"]["tenant"]: i["result"]["total"] for i in shown["items"]} == {
        name: SIZES[name] for name in HOST
    }


def test_sell_detached_returns_the_run_id_at_once(cluster):
    mock, config, workers = cluster(0, _seed(), extra=_extra())
    done = cli(
        config,
        "sell",
        "storage_gb",
        "5",
        "--to",
        "customers",
        "--owner",
        "host",
        "--distributed",
        "--detach",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    run_id = json.loads(done.stdout)["run_id"]
    assert json.loads(done.stdout)["items"] == len(HOST)
    # Nothing happens until a worker runs it.
    time.sleep(0.5)
    # (the mock keeps storage_gb as extra_storage_gb)
    assert all("extra_storage_gb" not in _allocations(mock)[name] for name in HOST)
    workers.start(2)
    _wait(_engine(config), run_id, 60)
    shown = _status(config, run_id)
    assert shown["counts"] == {"done": 2}
    assert {i["result"]["outcome"] for i in shown["items"]} == {"sold"}
    assert {_allocations(mock)[name].get("extra_storage_gb") for name in HOST} == {5}


async def test_the_python_forms_of_sell_and_count_run_on_a_worker(postgres_schema_url, tmp_path):
    import asyncio
    import contextlib

    from mailadmin.mock.serve import serve
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.sales import BulkSale, SaleOutcome
    from mailadmin.worker.engine import run_worker

    with serve("memory", seed=_seed()) as url:
        config = write_config(tmp_path, postgres_schema_url, url, extra=_extra())
        async with (
            Orchestrator.from_config(config) as worker_side,
            Orchestrator.from_config(config) as orch,
        ):
            worker = asyncio.ensure_future(
                run_worker(worker_side, concurrency=4, heartbeat=0.5, install_signal_handlers=False)
            )
            try:
                sale = BulkSale(addon="shared_mailbox", quantity=2, to="customers", owner="host")
                report = await orch.runs.sell(sale, distributed=True)
                counts = await orch.count_all(HOST, distributed=True)
            finally:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        tenants = httpx.get(url + "/_mock/state", timeout=30).json()["tenants"]
    assert report.run_id is not None
    assert [(i.name, i.outcome) for i in report.items] == [(n, SaleOutcome.SOLD) for n in HOST]
    assert {tenants[n]["allocations"].get("shared_mailboxes") for n in HOST} == {2}
    assert counts.run_id is not None and counts.ok
    assert [(i.key, i.value.total) for i in counts.items] == [(n, SIZES[n]) for n in HOST]


@pytest.mark.parametrize(
    "args",
    [
        ("sell", "shared_mailbox", "1", "--to", "customers", "--distributed"),
        ("sell", "shared_mailbox", "1", "--to", "customers", "--distributed", "--detach"),
        ("count", "--distributed"),
        ("count", "--distributed", "--detach"),
    ],
)
def test_bulk_commands_refuse_distributed_without_postgresql(tmp_path, args):
    store = f"sqlite:///{tmp_path / 'j.sqlite'}"
    config = write_config(tmp_path, store, "http://127.0.0.1:9", extra=_extra())
    done = cli(config, *args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "needs the PostgreSQL store" in done.stderr
    assert "[journal] url" in done.stderr
    assert "Traceback" not in done.stderr


async def test_python_forms_refuse_distributed_without_postgresql(tmp_path):
    from mailadmin.contract import errors
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.sales import BulkSale

    store = f"sqlite:///{tmp_path / 'j.sqlite'}"
    config = write_config(tmp_path, store, "http://127.0.0.1:9", extra=_extra())
    async with Orchestrator.from_config(config) as orch:
        sale = BulkSale(addon="shared_mailbox", quantity=1, to="customers")
        with pytest.raises(errors.ConfigurationError, match="needs the PostgreSQL store"):
            await orch.runs.sell(sale, distributed=True)
        with pytest.raises(errors.ConfigurationError, match="needs the PostgreSQL store"):
            await orch.count_all(distributed=True)


def test_runs_say_no_worker_has_taken_a_run_and_stop_saying_it_once_one_has(cluster, tmp_path):
    mock, config, workers = cluster(6, chunk_size=3)
    run_id = _submit(config, _changes(tmp_path, 6, "sync"))
    listed = cli(config, "runs")
    assert listed.returncode == 0, listed.stderr
    [row] = [line.split("\t") for line in listed.stdout.splitlines() if line.startswith(run_id)]
    assert row[3:5] == ["waiting", "0/6"]
    assert "no worker has taken the run yet" in listed.stdout
    shown = cli(config, "runs", "show", run_id)
    assert "no worker has taken the run yet" in shown.stdout
    assert _status(config, run_id)["waiting_for_worker"] is True
    workers.start(2)
    _wait(_engine(config), run_id, 60)
    done = _status(config, run_id)
    assert (done["state"], done["waiting_for_worker"]) == ("finished", False)
    assert "no worker" not in cli(config, "runs").stdout
    assert set(mock.state().values()) == {"standard"}
