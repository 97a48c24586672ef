"""Issue 29.4: runs are leased. Two live ``mailadmin serve`` on one PostgreSQL store: the
second never takes up a run the first is working; it takes the run over once the first is
gone (stopped dead, so its heartbeat stops) and its lease has expired. Each item ends as
exactly one journal row either way."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from apihelpers import Service, config_text, plan_of, postgres_schema, seed, wait_for_run

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock
from mailadmin.store.database import Database
from mailadmin.store.journal import Journal, JournalEntry
from mailadmin.store.runs import release_lease, renew_lease, take_lease

ITEMS = 40
#: Short, so the take-over is seen within the test (the default is 30 s).
LEASE = "\n[runs]\nlease_seconds = 2\n"


@pytest.fixture(scope="module")
def many() -> Iterator[MockServer]:
    data = seed()
    data["tenants"]["example.com"]["mailboxes"] += [
        {"address": f"user{n:02d}@example.com", "kind": "user", "plan": "basic"}
        for n in range(ITEMS)
    ]
    server = MockServer(MemoryMock, seed=data)
    with serve(server) as url:
        server.url = url  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def pg_store(postgres_server: str) -> Iterator[str]:
    with postgres_schema(postgres_server) as url:
        yield url


def _service(mock: MockServer, folder: Path, store: str) -> Service:
    folder.mkdir()
    config = folder / "mailadmin.toml"
    config.write_text(config_text(mock.url, folder, store) + LEASE)  # type: ignore[attr-defined]
    return Service(config, store=store)


def _start_run(mock: MockServer, service: Service, plan: str) -> tuple[str, list[str]]:
    """A plan-change run of every user, slowed down; returns its id once it is under way."""
    mock.reset()
    mock.inject({"kind": "latency", "operation": "change_plan", "delay": 0.15})
    addresses = [f"user{n:02d}@example.com" for n in range(ITEMS)]
    items = [{"address": a, "plan": plan} for a in addresses]
    with service.client("reseller:acme") as http:
        accepted = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 2})
        assert accepted.status_code == 202, accepted.text
        run_id = str(accepted.json()["id"])
        deadline = time.monotonic() + 30
        while http.get(f"/v1/runs/{run_id}").json()["progress"]["done"] < 3:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    return run_id, addresses


def _rows(store: str, run_id: str) -> list[JournalEntry]:
    journal = Journal(store)
    try:
        return journal.entries(10_000, run=run_id, operation="set_plan")
    finally:
        journal.close()


def test_a_second_service_leaves_a_live_services_run_alone(
    many: MockServer, tmp_path: Path, pg_store: str
) -> None:
    first = _service(many, tmp_path / "first", pg_store)
    second = _service(many, tmp_path / "second", pg_store)
    first.start()
    try:
        run_id, addresses = _start_run(many, first, "sync")
        # Each write now hangs a while: the run is certainly still going while the second
        # starts (it looks for unfinished runs at start-up) and looks again (every second).
        many.clear_faults()
        many.inject({"kind": "latency", "operation": "change_plan", "delay": 1.5})
        second.start()
        time.sleep(2.5)
        many.clear_faults()
        with first.client("reseller:acme") as http:
            run = wait_for_run(http, run_id, timeout=60)
        time.sleep(1.5)  # let the second look again: the run is finished, it stays away
    finally:
        second.stop()
        first.stop()
        many.clear_faults()
    assert run["state"] == "succeeded", run
    rows = _rows(pg_store, run_id)
    assert len(rows) == ITEMS, Counter(row.subject for row in rows).most_common(3)
    assert Counter(row.subject for row in rows) == Counter(addresses)
    assert not [row for row in rows if row.resumed or row.open]
    assert "resuming run" not in second.log.read_text()
    assert all(plan_of(many, a) == "standard" for a in addresses)


def test_a_second_service_takes_over_once_the_lease_expired(
    many: MockServer, tmp_path: Path, pg_store: str
) -> None:
    first = _service(many, tmp_path / "first", pg_store)
    second = _service(many, tmp_path / "second", pg_store)
    first.start()
    second.start()
    try:
        run_id, addresses = _start_run(many, first, "collaborate")
        assert first.process is not None
        # Frozen: alive (its process exists) but its heartbeat stops, so only the
        # lease's expiry lets the second take the run; then it dies for good.
        first.process.send_signal(signal.SIGSTOP)
        with second.client("reseller:acme") as http:
            run = wait_for_run(http, run_id, timeout=90)
    finally:
        if first.process is not None:
            first.process.kill()
            first.process.wait(timeout=20)
            first.process = None
        second.stop()
        many.clear_faults()
    assert run["state"] == "succeeded", run
    assert "resuming run " + run_id in second.log.read_text()
    rows = _rows(pg_store, run_id)
    # A write in flight when the first froze is completed in its own row: one per item.
    assert Counter(row.subject for row in rows) == Counter(addresses)
    assert not [row for row in rows if row.open]
    assert all(plan_of(many, a) == "premium" for a in addresses)


def test_a_lease_goes_to_another_holder_only_once_expired(pg_store: str) -> None:
    database = Database(pg_store)
    try:
        held = take_lease(database, "run-1", "host-a:10:aa", 60)
        assert held is not None and held.holder == "host-a:10:aa"
        refused = take_lease(database, "run-1", "host-b:20:bb", 60)
        assert refused is not None and refused.holder == "host-a:10:aa"
        assert renew_lease(database, ["run-1"], "host-a:10:aa", 60) == set()
        # The holder renews with a lease already past (as if its heartbeat had stopped).
        renew_lease(database, ["run-1"], "host-a:10:aa", -1)
        taken = take_lease(database, "run-1", "host-b:20:bb", 60)
        assert taken is not None and taken.holder == "host-b:20:bb"
        assert renew_lease(database, ["run-1"], "host-a:10:aa", 60) == {"run-1"}
        release_lease(database, "run-1", "host-a:10:aa")  # not its lease any more: no effect
        assert take_lease(database, "run-1", "host-c:30:cc", 60).holder == "host-b:20:bb"  # type: ignore[union-attr]
        release_lease(database, "run-1", "host-b:20:bb")
        assert take_lease(database, "run-1", "host-c:30:cc", 60).holder == "host-c:30:cc"  # type: ignore[union-attr]
    finally:
        database.close()


def test_a_cancel_sent_to_another_service_stops_the_run_where_it_works(
    many: MockServer, tmp_path: Path, pg_store: str
) -> None:
    first = _service(many, tmp_path / "first", pg_store)
    second = _service(many, tmp_path / "second", pg_store)
    first.start()
    second.start()
    try:
        run_id, addresses = _start_run(many, first, "sync")
        many.clear_faults()
        many.inject({"kind": "latency", "operation": "change_plan", "delay": 0.5})
        with second.client("reseller:acme") as http:
            cancelled = http.post(f"/v1/runs/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        # The first stops at its next item: the rows stop growing well short of the run.
        seen, steady = -1, 0
        deadline = time.monotonic() + 60
        while steady < 4:
            count = len(_rows(pg_store, run_id))
            steady = steady + 1 if count == seen else 0
            seen = count
            assert time.monotonic() < deadline
            time.sleep(0.5)
        with first.client("reseller:acme") as http:
            run = http.get(f"/v1/runs/{run_id}").json()
    finally:
        second.stop()
        first.stop()
        many.clear_faults()
    assert run["state"] == "cancelled", run["state"]
    rows = _rows(pg_store, run_id)
    assert len(rows) < ITEMS and not [row for row in rows if row.open]
    sent = {row.subject for row in rows}
    states = {item["key"]: item["state"] for item in run["items"]}
    assert {key for key, state in states.items() if state == "cancelled"} == set(addresses) - sent
    # Nothing cancelled reached the platform.
    assert all(plan_of(many, a) == "basic" for a in addresses if a not in sent)
