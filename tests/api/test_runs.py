"""Bulk runs: 202 with a run to poll; per-item results; a run is the journal's run and
survives a restart. Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from apihelpers import Service, config_text, mailadmin, plan_of, seed, wait_for_run

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock
from mailadmin.store.journal import Journal, JournalEntry


def test_a_bulk_plan_change_is_accepted_and_polled(any_service: Service, fresh: MockServer) -> None:
    items = [
        {"address": "anna@example.com", "plan": "collaborate"},
        {"address": "ben@example.com", "plan": "mail"},
        {"address": "anna@example.net", "plan": "sync"},  # globex's: refused alone
    ]
    with any_service.client("reseller:acme") as http:
        accepted = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 2})
        assert accepted.status_code == 202
        assert accepted.headers["Location"] == f"/v1/runs/{accepted.json()['id']}"
        assert accepted.json()["state"] in ("accepted", "running", "failed")
        run = wait_for_run(http, accepted.json()["id"])
        listed = http.get("/v1/runs").json()
    assert run["state"] == "failed"  # one item failed; the others were done
    assert run["progress"] == {"total": 3, "done": 3, "succeeded": 2, "failed": 1}, run["items"]
    by_key = {item["key"]: item for item in run["items"]}
    assert by_key["anna@example.com"]["result"]["after"] == "collaborate"
    assert by_key["ben@example.com"]["result"]["outcome"] == "changed"
    refused = by_key["anna@example.net"]
    assert refused["state"] == "failed" and refused["error"]["code"] == "policy_denied"
    assert refused["error"]["reason"] == "cross_boundary"
    assert plan_of(fresh, "anna@example.com") == "premium"
    assert plan_of(fresh, "anna@example.net") == "basic"
    assert run["id"] in {r["id"] for r in listed}
    # The run is the journal's: its rows carry its id and the key's identity.
    journal = Journal(any_service.store)
    try:
        rows = journal.entries(100, run=run["id"], operation="set_plan")
    finally:
        journal.close()
    assert sorted(row.subject for row in rows) == sorted(by_key)
    assert {row.identity for row in rows} == {"reseller:acme"}


def test_a_dry_run_bulk_change_sends_no_write(any_service: Service, fresh: MockServer) -> None:
    items = [{"tenant": "example.com", "addon": "mailboxes", "quantity": 30}]
    with any_service.client("site-admin") as http:
        accepted = http.post("/v1/runs/addons?dry_run=true", json={"items": items})
        run = wait_for_run(http, accepted.json()["id"])
        twice = http.post(
            "/v1/runs/addons", json={"items": items + items}
        )  # the same item twice: refused before anything runs
    assert run["state"] == "succeeded" and run["dry_run"] is True
    assert run["items"][0]["result"]["after"] == 30
    assert not fresh.writes()
    assert twice.status_code == 422


def test_a_bulk_addon_run_is_a_finished_journal_run(
    any_service: Service, fresh: MockServer
) -> None:
    items = [
        {"tenant": "example.com", "addon": "mailboxes", "quantity": 40},
        {"tenant": "example.org", "addon": "mailboxes", "quantity": 20},
    ]
    with any_service.client("site-admin") as http:
        accepted = http.post("/v1/runs/addons", json={"items": items, "concurrency": 2})
        run = wait_for_run(http, accepted.json()["id"])
    assert run["state"] == "succeeded", run
    assert [item["result"]["after"] for item in run["items"]] == [40, 20]
    tenants = fresh.snapshot()["tenants"]
    assert tenants["example.com"]["allocations"]["user_seats"] == 40
    assert tenants["example.org"]["allocations"]["user_seats"] == 20
    rows, unfinished = _journal_of(any_service.store, run["id"])
    assert sorted(row.subject for row in rows) == ["example.com mailboxes", "example.org mailboxes"]
    assert run["id"] not in unfinished


def test_a_bulk_run_with_a_bad_item_is_refused_whole_before_anything_is_sent(
    any_service: Service, fresh: MockServer
) -> None:
    """An unknown plan, an unknown tenant or add-on, or a subject named twice refuses the
    whole batch with 422, naming each bad item; no item is sent and no run is created."""
    plans = [
        {"address": "anna@example.com", "plan": "collaborate"},
        {"address": "ben@example.com", "plan": "platinum"},
        {"address": "carl@nowhere.test", "plan": "sync"},
    ]
    addons = [
        {"tenant": "example.com", "addon": "mailboxes", "quantity": 40},
        {"tenant": "example.org", "addon": "gold_bars", "quantity": 1},
    ]
    twice = [
        {"address": "anna@example.com", "plan": "sync"},
        {"address": "ANNA@example.com", "plan": "mail"},
    ]
    with any_service.client("site-admin") as http:
        before = {run["id"] for run in http.get("/v1/runs").json()}
        refused = http.post("/v1/runs/plan-changes", json={"items": plans})
        refused_addons = http.post("/v1/runs/addons", json={"items": addons})
        refused_twice = http.post("/v1/runs/plan-changes", json={"items": twice})
        after = {run["id"] for run in http.get("/v1/runs").json()}
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "validation"
    assert "nothing was sent" in problem["detail"]
    assert "items[1] (ben@example.com): Unknown plan 'platinum'" in problem["detail"]
    assert "items[2] (carl@nowhere.test)" in problem["detail"]
    assert "items[0]" not in problem["detail"]
    assert refused_addons.status_code == 422, refused_addons.text
    assert "items[1] (example.org:gold_bars)" in refused_addons.json()["detail"]
    assert refused_twice.status_code == 422, refused_twice.text
    assert "items[1]" in refused_twice.json()["detail"]
    # Nothing reached the platform, not even the good items, and no run exists.
    assert not fresh.writes()
    assert plan_of(fresh, "anna@example.com") == "basic"
    assert after == before


def test_a_repeated_run_request_returns_the_same_run(
    any_service: Service, fresh: MockServer
) -> None:
    body = {"items": [{"address": "ben@example.org", "plan": "sync"}]}
    key = {"Idempotency-Key": f"run-{time.time_ns()}"}
    with any_service.client("site-admin") as http:
        first = http.post("/v1/runs/plan-changes", json=body, headers=key)
        again = http.post("/v1/runs/plan-changes", json=body, headers=key)
        wait_for_run(http, first.json()["id"])
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Location"] == first.headers["Location"]


MANY = 24


@pytest.fixture
def slow_mock() -> Iterator[MockServer]:
    data = seed()
    boxes = data["tenants"]["example.com"]["mailboxes"]
    boxes += [
        {"address": f"user{n:02d}@example.com", "kind": "user", "plan": "basic"}
        for n in range(MANY)
    ]
    server = MockServer(MemoryMock, seed=data)
    with serve(server) as url:
        server.url = url  # type: ignore[attr-defined]
        yield server


def _killed_mid_run(mock: MockServer, service: Service, items: list[dict[str, str]]) -> str:
    """Start a plan-change run as acme and SIGKILL the service while writes are on the
    wire (their journal rows open); returns the run's id."""
    mock.inject({"kind": "latency", "operation": "change_plan", "delay": 0.25})
    with service.client("reseller:acme") as http:
        run_id = str(
            http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 2}).json()["id"]
        )
        deadline = time.monotonic() + 30
        while http.get(f"/v1/runs/{run_id}").json()["progress"]["done"] < 4:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # From now on each write hangs on the platform: the next ones are certainly in flight.
    mock.inject({"kind": "latency", "operation": "change_plan", "delay": 5})
    journal = Journal(service.store)
    try:
        deadline = time.monotonic() + 30
        while not journal.entries(10, run=run_id, open_only=True):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        journal.close()
    service.stop(signal.SIGKILL)  # no chance to finish anything
    with pytest.raises(httpx.TransportError):
        service.client().get("/healthz")
    mock.clear_faults()
    return run_id


def _journal_of(store: str, run_id: str) -> tuple[list[JournalEntry], list[str]]:
    """The run's journal rows, and the ids of the journal's unfinished runs."""
    journal = Journal(store)
    try:
        rows = journal.entries(10_000, run=run_id)
        return rows, [found[0] for found in journal.unfinished_runs()]
    finally:
        journal.close()


def test_a_run_survives_a_killed_service(
    slow_mock: MockServer, tmp_path: Path, store_url: str
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(slow_mock.url, tmp_path, store_url))  # type: ignore[attr-defined]
    service = Service(config, store=store_url)
    service.start()
    items = [{"address": f"user{n:02d}@example.com", "plan": "sync"} for n in range(MANY)]
    try:
        run_id = _killed_mid_run(slow_mock, service, items)
        killed, _ = _journal_of(store_url, run_id)
        assert [row for row in killed if row.open]
        assert len(killed) < MANY
        service.start()  # the unfinished run is settled by the journal's resume
        with service.client("reseller:acme") as http:
            run = wait_for_run(http, run_id)
    finally:
        service.stop()
    assert run["state"] == "succeeded", run
    assert run["progress"] == {"total": MANY, "done": MANY, "succeeded": MANY, "failed": 0}
    assert all(item["result"]["after"] == "sync" for item in run["items"])
    assert all(plan_of(slow_mock, i["address"]) == "standard" for i in items)
    assert "resuming run " + run_id in service.log.read_text()
    rows, unfinished = _journal_of(store_url, run_id)
    # Each item is one journal row (a write cut short is completed in place), none open,
    # and those on the wire at the kill were read back and settled by the resume.
    assert Counter(row.subject for row in rows) == Counter(i["address"] for i in items)
    assert not [row for row in rows if row.open]
    assert {row.id for row in killed if row.open} <= {row.id for row in rows if row.resumed}
    assert {row.identity for row in rows} == {"reseller:acme"}
    assert run_id not in unfinished


def test_the_journal_resume_command_finishes_an_api_run(
    slow_mock: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(slow_mock.url, tmp_path))  # type: ignore[attr-defined]
    service = Service(config)
    service.start()
    items = [{"address": f"user{n:02d}@example.com", "plan": "collaborate"} for n in range(MANY)]
    try:
        run_id = _killed_mid_run(slow_mock, service, items)
        listed = json.loads(
            mailadmin(
                "--json", "journal", "list", "--run", run_id, "--limit", "1000", config=config
            )
        )["entries"]
        assert listed and all(row["run_id"] == run_id for row in listed)
        resumed = json.loads(
            mailadmin("--json", "journal", "resume", "--run", run_id, config=config)
        )
        assert resumed["failed"] == 0
        service.start()  # nothing left to settle: the run is read back from the journal
        with service.client("reseller:acme") as http:
            run = wait_for_run(http, run_id)
    finally:
        service.stop()
    assert run["state"] == "succeeded", run
    assert run["progress"]["succeeded"] == MANY
    assert all(plan_of(slow_mock, i["address"]) == "premium" for i in items)
    rows, unfinished = _journal_of(service.store, run_id)
    assert Counter(row.subject for row in rows) == Counter(i["address"] for i in items)
    assert run_id not in unfinished


def test_idempotency_answers_expire_after_the_retention(
    slow_mock: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(slow_mock.url, tmp_path))  # type: ignore[attr-defined]
    service = Service(config, extra=("--idempotency-hours", "0.001"))  # 3.6 seconds
    service.start()
    key = {"Idempotency-Key": "short-lived"}
    try:
        with service.client("site-admin") as http:
            # Warm up (store, provider) so the first two writes fall well inside 3.6 s.
            assert http.get("/v1/customers/example.org/mailboxes").status_code == 200
            first = http.put(
                "/v1/mailboxes/anna@example.org/plan", json={"plan": "sync"}, headers=key
            )
            clash = http.put(
                "/v1/mailboxes/anna@example.org/plan", json={"plan": "mail"}, headers=key
            )
            time.sleep(4)
            later = http.put(
                "/v1/mailboxes/anna@example.org/plan", json={"plan": "mail"}, headers=key
            )
    finally:
        service.stop()
    assert first.status_code == 200 and clash.status_code == 409
    assert later.status_code == 200 and later.json()["after"] == "mail"
