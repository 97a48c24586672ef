"""Bulk runs: 202 with a run to poll; per-item results; a run survives a restart."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from apihelpers import Service, config_text, plan_of, seed, wait_for_run

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock


def test_a_bulk_plan_change_is_accepted_and_polled(service: Service, fresh: MockServer) -> None:
    items = [
        {"address": "anna@example.com", "plan": "collaborate"},
        {"address": "ben@example.com", "plan": "mail"},
        {"address": "anna@example.net", "plan": "sync"},  # globex's: refused alone
    ]
    with service.client("reseller:acme") as http:
        accepted = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 2})
        assert accepted.status_code == 202
        assert accepted.headers["Location"] == f"/v1/runs/{accepted.json()['id']}"
        assert accepted.json()["state"] in ("accepted", "running", "failed")
        run = wait_for_run(http, accepted.json()["id"])
        listed = http.get("/v1/runs").json()
    assert run["state"] == "failed"  # one item failed; the others were done
    assert run["progress"] == {"total": 3, "done": 3, "succeeded": 2, "failed": 1}
    by_key = {item["key"]: item for item in run["items"]}
    assert by_key["anna@example.com"]["result"]["after"] == "collaborate"
    assert by_key["ben@example.com"]["result"]["outcome"] == "changed"
    refused = by_key["anna@example.net"]
    assert refused["state"] == "failed" and refused["error"]["code"] == "policy_denied"
    assert refused["error"]["reason"] == "cross_boundary"
    assert plan_of(fresh, "anna@example.com") == "premium"
    assert plan_of(fresh, "anna@example.net") == "basic"
    assert run["id"] in {r["id"] for r in listed}


def test_a_dry_run_bulk_change_sends_no_write(service: Service, fresh: MockServer) -> None:
    items = [{"tenant": "example.com", "addon": "mailboxes", "quantity": 30}]
    with service.client("site-admin") as http:
        accepted = http.post("/v1/runs/addons?dry_run=true", json={"items": items})
        run = wait_for_run(http, accepted.json()["id"])
        twice = http.post(
            "/v1/runs/addons", json={"items": items + items}
        )  # the same item twice: refused before anything runs
    assert run["state"] == "succeeded" and run["dry_run"] is True
    assert run["items"][0]["result"]["after"] == 30
    assert not fresh.writes()
    assert twice.status_code == 422


def test_a_repeated_run_request_returns_the_same_run(service: Service, fresh: MockServer) -> None:
    body = {"items": [{"address": "ben@example.org", "plan": "sync"}]}
    key = {"Idempotency-Key": f"run-{time.time_ns()}"}
    with service.client("site-admin") as http:
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


def test_a_run_survives_a_killed_service(slow_mock: MockServer, tmp_path: Path) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(slow_mock.url, tmp_path))  # type: ignore[attr-defined]
    service = Service(config)
    service.start()
    slow_mock.inject({"kind": "latency", "operation": "change_plan", "delay": 0.25})
    items = [{"address": f"user{n:02d}@example.com", "plan": "sync"} for n in range(MANY)]
    try:
        with service.client("reseller:acme") as http:
            run_id = http.post(
                "/v1/runs/plan-changes", json={"items": items, "concurrency": 2}
            ).json()["id"]
            deadline = time.monotonic() + 20
            while http.get(f"/v1/runs/{run_id}").json()["progress"]["done"] < 4:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        service.stop(signal.SIGKILL)  # no chance to finish anything
        with pytest.raises(Exception):  # noqa: B017 - any connection error
            service.client().get("/healthz")
        moved = sum(plan_of(slow_mock, i["address"]) == "standard" for i in items)
        assert moved < MANY
        slow_mock.clear_faults()
        service.start()  # the unfinished run is picked up again
        with service.client("reseller:acme") as http:
            run = wait_for_run(http, run_id)
    finally:
        service.stop()
    assert run["state"] == "succeeded", run
    assert run["progress"] == {"total": MANY, "done": MANY, "succeeded": MANY, "failed": 0}
    assert all(plan_of(slow_mock, i["address"]) == "standard" for i in items)
    assert "resuming run " + run_id in service.log.read_text()


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
