"""Bulk add-on sales over HTTP (seed 003): a run whose items are sold, skipped or failed."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from apihelpers import Service, config_text, seed, wait_for_run

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock
from mailadmin.store.journal import Journal
from mailadmin.store.schema import addon_sales


def _allocations(mock: MockServer, tenant: str) -> dict[str, Any]:
    found: dict[str, Any] = mock.snapshot()["tenants"][tenant]["allocations"]
    return found


def _sell(http: Any, body: dict[str, Any], query: str = "") -> dict[str, Any]:
    accepted = http.post(f"/v1/sales{query}", json=body)
    assert accepted.status_code == 202, accepted.text
    assert accepted.headers["Location"] == f"/v1/runs/{accepted.json()['id']}"
    return wait_for_run(http, accepted.json()["id"])


def test_a_reseller_sells_to_its_own_customers_only(service: Service, fresh: MockServer) -> None:
    body = {"addon": "shared_mailbox", "quantity": 2, "to": "customers", "owner": "all"}
    with service.client("reseller:acme") as http:
        run = _sell(http, body)
        again = _sell(http, body | {"skip_already_sold": True})
    assert run["kind"] == "sales" and run["state"] == "succeeded", run
    assert [(i["key"], i["state"]) for i in run["items"]] == [("example.com", "sold")]
    assert run["items"][0]["result"] == run["items"][0]["result"] | {
        "kind": "customer",
        "addon": "shared_mailbox",
        "quantity": 2,
    }
    assert run["summary"] == {"sold": 1, "skipped": 0, "failed": 0}
    # The platform's total is the customer's allocation (5 in its package) plus the sale.
    assert _allocations(fresh, "example.com")["shared_mailboxes"] == 7
    assert _allocations(fresh, "example.net")["shared_mailboxes"] == 5
    skipped = again["items"][0]
    assert skipped["state"] == "skipped" and skipped["result"]["reason"] == "already sold"
    assert again["summary"] == {"sold": 0, "skipped": 1, "failed": 0}


def test_a_dry_run_sale_sends_and_records_nothing(service: Service, fresh: MockServer) -> None:
    body = {"addon": "resource_mailbox", "quantity": 3, "to": "customers", "owner": "globex"}
    with service.client("site-admin") as http:
        run = _sell(http, body, "?dry_run=true")
        assert fresh.writes() == []
        real = _sell(http, body | {"skip_already_sold": True})
    assert run["dry_run"] is True
    assert [(i["key"], i["state"]) for i in run["items"]] == [("example.net", "sold")]
    # Had the dry run recorded the sale, the real one would have been skipped.
    assert [(i["key"], i["state"]) for i in real["items"]] == [("example.net", "sold")]
    # The platform's total is the customer's allocation: none in its package, plus the sale.
    assert _allocations(fresh, "example.net")["resource_mailboxes"] == 3


def test_each_item_says_why_it_failed_or_was_skipped(service: Service, fresh: MockServer) -> None:
    body = {
        "addon": "storage_gb",
        "quantity": 10,
        "to": "resellers",
        "resellers": ["acme", "nobody"],
        "copy_under_reseller": True,
    }
    with service.client("site-admin") as http:
        run = _sell(http, body)
    assert run["state"] == "failed"
    assert run["summary"] == {"sold": 1, "skipped": 0, "failed": 1}
    assert run["progress"] == {"total": 2, "done": 2, "succeeded": 1, "failed": 1}
    sold, failed = run["items"]
    assert sold["key"] == "acme" and sold["result"]["addon"] == "storage_gb@acme"
    assert failed["key"] == "nobody" and failed["state"] == "failed"
    assert failed["error"]["message"] == "Unknown reseller 'nobody'"
    assert fresh.writes() == []  # a sale to a reseller is mailadmin's record only


def test_sales_outside_the_identity_are_refused_before_anything_runs(
    service: Service, fresh: MockServer
) -> None:
    cases = [
        ("reseller:acme", {"to": "resellers"}, "cross_boundary"),
        ("reseller:acme", {"to": "customers", "owner": "globex"}, "cross_boundary"),
        ("customer:example.com", {"to": "customers"}, "not_permitted"),
        ("mailbox:anna@example.com", {"to": "customers"}, "not_permitted"),
    ]
    with service.client("site-admin") as http:
        before = len(http.get("/v1/runs", params={"limit": 500}).json())
    for identity, target, reason in cases:
        with service.client(identity) as http:
            refused = http.post("/v1/sales", json={"addon": "mailboxes", "quantity": 1, **target})
        assert refused.status_code == 403, (identity, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "policy_denied"
        assert refused.json()["reason"] == reason, identity
    with service.client("site-admin") as http:
        bad = http.post("/v1/sales", json={"addon": "archive", "quantity": 1, "to": "resellers"})
        after = len(http.get("/v1/runs", params={"limit": 500}).json())
    assert bad.status_code == 422 and "raises no allocation" in bad.json()["detail"]
    assert after == before  # no run was started for any of them
    assert fresh.writes() == []


def test_a_repeated_sale_request_returns_the_same_run(service: Service, fresh: MockServer) -> None:
    body = {"addon": "mailboxes", "quantity": 1, "to": "customers", "owner": "globex"}
    key = {"Idempotency-Key": f"sale-{time.time_ns()}"}
    with service.client("site-admin") as http:
        first = http.post("/v1/sales?dry_run=true", json=body, headers=key)
        again = http.post("/v1/sales?dry_run=true", json=body, headers=key)
        other = http.post("/v1/sales?dry_run=true", json=body | {"quantity": 2}, headers=key)
        wait_for_run(http, first.json()["id"])
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 409 and other.json()["code"] == "idempotency_mismatch"


def test_a_sale_cut_short_by_a_killed_service_is_carried_on(tmp_path: Path) -> None:
    server = MockServer(MemoryMock, seed=seed())
    with serve(server) as url:
        config = tmp_path / "mailadmin.toml"
        config.write_text(config_text(url, tmp_path))
        service = Service(config)
        service.start()
        body = {"addon": "shared_mailbox", "quantity": 2, "to": "customers"}
        try:
            # The platform hangs on the first total: the kill lands with it on the wire.
            server.inject({"kind": "latency", "operation": "set_allocation", "delay": 5})
            with service.client("site-admin") as http:
                run_id = http.post("/v1/sales", json=body).json()["id"]
            journal = Journal(service.store)
            try:
                deadline = time.monotonic() + 30
                while not journal.entries(10, run=run_id, open_only=True):
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            finally:
                journal.close()
            service.stop(signal.SIGKILL)
            server.clear_faults()
            service.start()
            with service.client("site-admin") as http:
                run = wait_for_run(http, run_id)
        finally:
            service.stop()
        tenants = server.snapshot()["tenants"]
    assert run["state"] == "succeeded", run
    assert [(i["key"], i["state"]) for i in run["items"]] == [
        ("example.com", "sold"),
        ("example.net", "sold"),
    ]
    assert tenants["example.com"]["allocations"]["shared_mailboxes"] == 5 + 2
    assert tenants["example.net"]["allocations"]["shared_mailboxes"] == 5 + 2
    engine = sa.create_engine(service.store)
    try:
        with engine.connect() as db:
            sales = db.execute(
                sa.select(addon_sales.c.owner, addon_sales.c.quantity).where(
                    addon_sales.c.addon == "shared_mailbox"
                )
            ).all()
    finally:
        engine.dispose()
    assert sorted(sales) == [("example.com", 2), ("example.net", 2)]  # each sold once
    journal = Journal(service.store)
    try:
        assert not journal.entries(100, run=run_id, open_only=True)
    finally:
        journal.close()
