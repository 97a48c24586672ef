"""Self-service and orders over HTTP (seeds 000 and 001): the allow-upgrade switch and the
order endpoints, with the same rules as the CLI and Python."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from apihelpers import Service, _start, plan_of

from mailadmin.mock.server import MockServer


@pytest.fixture(scope="module")
def shop(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service with a store of its own: orders placed here reach no other test."""
    running = _start(mock, tmp_path_factory.mktemp("orders"), None)
    yield running
    running.stop()


def _seats(mock: MockServer, tenant: str) -> int:
    return int(mock.snapshot()["tenants"][tenant]["allocations"]["user_seats"])


def _place(http: Any, body: dict[str, Any]) -> Any:
    return http.post("/v1/orders", json=body)


def test_seed_000_the_switch_over_http(shop: Service, fresh: MockServer) -> None:
    anna = "anna@example.com"
    path = f"/v1/mailboxes/{anna}"
    with shop.client(f"mailbox:{anna}") as user:
        refused = user.put(f"{path}/plan", json={"plan": "collaborate"})
        assert refused.status_code == 403
        assert refused.json()["reason"] == "upgrade_not_allowed"
        assert refused.json()["detail"] == (
            "You are not allowed to upgrade or downgrade your account."
        )
        assert user.put(f"{path}/allow-upgrade", json={"allow_upgrade": True}).status_code == 403
    assert fresh.writes() == []
    with shop.client("reseller:globex") as other:
        answer = other.put(f"{path}/allow-upgrade", json={"allow_upgrade": True})
        assert answer.status_code == 403 and answer.json()["reason"] == "cross_boundary"
    with shop.client("reseller:acme") as owner:
        dry = owner.put(f"{path}/allow-upgrade?dry_run=true", json={"allow_upgrade": True})
        assert dry.status_code == 200
        assert owner.get(f"{path}/allow-upgrade").json()["allow_upgrade"] is None
        done = owner.put(f"{path}/allow-upgrade", json={"allow_upgrade": True})
        assert done.status_code == 200, done.text
        assert done.json() == {"address": anna, "allow_upgrade": True}
        assert owner.get(f"{path}/allow-upgrade").json()["allow_upgrade"] is True
    with shop.client(f"mailbox:{anna}") as user:
        changed = user.put(f"{path}/plan", json={"plan": "collaborate"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["note"]
        # Seed 000: the switch lets the user downgrade as well.
        assert user.put(f"{path}/plan", json={"plan": "mail"}).status_code == 200
    assert plan_of(fresh, anna) == "basic"


def test_seed_001_orders_over_http(shop: Service, fresh: MockServer) -> None:
    with shop.client("reseller:acme") as acme:
        body = {"subject": "example.com", "kind": "seat_upgrade", "add": 5}
        dry = acme.post("/v1/orders?dry_run=true", json=body)
        assert dry.status_code == 200 and dry.json()["detail"]["sum"] == "50 + 5 = 55"
        # The seed's panel asks for the number of accounts to add; the order states the
        # total (50 in the package + 5 = 55).
        seats = _place(acme, {"subject": "example.com", "kind": "seat_upgrade", "add": 5})
        assert seats.status_code == 201, seats.text
        order = seats.json()
        assert order["state"] == "pending"
        assert order["detail"] == order["detail"] | {"add": 5, "current": 50, "total": 55}
        assert order["detail"]["sum"] == "50 + 5 = 55"
        # The first invoice is unpaid: the second upgrade waits.
        waiting = _place(
            acme,
            {"subject": "example.com", "kind": "plan_upgrade", "package": {"storage_gb": 20}},
        )
        assert waiting.status_code == 403 and waiting.json()["reason"] == "order_open"
        assert acme.post(f"/v1/orders/{order['id']}/confirm").status_code == 403
        other = _place(acme, {"subject": "example.net", "kind": "seat_upgrade", "add": 1})
        assert other.status_code == 403 and other.json()["reason"] == "cross_boundary"
    with shop.client("site-admin") as admin:
        assert admin.get("/v1/orders").json() == [order]  # the dry run stored nothing
        checked = admin.post(f"/v1/orders/{order['id']}/confirm?dry_run=true")
        assert checked.status_code == 200 and checked.json()["state"] == "pending"
        paid = admin.post(f"/v1/orders/{order['id']}/confirm")
        assert paid.status_code == 200 and paid.json()["state"] == "paid"
        assert fresh.writes() == []
        applied = admin.post(f"/v1/orders/{order['id']}/apply")
        assert applied.status_code == 200, applied.text
        assert applied.json()["state"] == "applied"
        assert _seats(fresh, "example.com") == 55
        listed = admin.get("/v1/orders", params={"subject": "example.com"}).json()
        assert [o["id"] for o in listed] == [order["id"]]
        # A plan upgrade carrying a seat change is refused, naming the two orders.
        both = _place(
            admin,
            {
                "subject": "example.com",
                "kind": "plan_upgrade",
                "package": {"user_mailboxes": 70, "storage_gb": 20},
            },
        )
        assert both.status_code == 403 and both.json()["reason"] == "order_open"
        assert "plan_upgrade of storage_gb=20" in both.json()["detail"]
        assert "seat_upgrade adding 15 accounts" in both.json()["detail"]
        assert admin.get("/v1/orders", params={"subject": "example.com"}).json() == listed
        missing = _place(admin, {"subject": "example.com", "kind": "seat_upgrade"})
        assert missing.status_code == 422
        assert (
            _place(admin, {"subject": "example.com", "kind": "seat_upgrade", "add": 0}).status_code
            == 422
        )
    with shop.client("customer:example.com") as customer:
        assert customer.get("/v1/orders").status_code == 403


def test_seed_003_the_9999_cap_over_http(shop: Service, fresh: MockServer) -> None:
    path = "/v1/customers/example.org/addons/shared_mailbox"
    with shop.client("site-admin") as admin:
        refused = admin.put(path, json={"quantity": 10000})
        assert refused.status_code == 403 and refused.json()["reason"] == "allocation_limit"
        assert fresh.writes() == []
        assert admin.put(f"{path}?dry_run=true", json={"quantity": 9999}).status_code == 200


def test_seed_002_edition_orders_over_http(shop: Service, fresh: MockServer) -> None:
    with shop.client("site-admin") as admin:
        body = {"subject": "mem", "kind": "edition_change", "edition": "team_pro", "current": "pro"}
        short = admin.post("/v1/orders?dry_run=true", json=body | {"mailboxes": 9})
        assert short.status_code == 403 and short.json()["reason"] == "edition_rule"
        done = admin.post("/v1/orders?dry_run=true", json=body | {"mailboxes": 10})
        assert done.status_code == 200, done.text
        assert done.json()["detail"] == {"edition": "team_pro", "from": "pro", "mailboxes": 10}


def test_seed_003_held_against_sold_over_http(shop: Service, fresh: MockServer) -> None:
    with shop.client("site-admin") as admin:
        rows = admin.get("/v1/reports/usage", params={"reseller": "globex"}).json()
    held = [r for r in rows if r["level"] == "reseller"]
    assert {r["subscription"] for r in held} == {"reseller:globex"}
    sold = {r["resource"]: r["allocated"] for r in rows if r["subscription"] == "example.net"}
    seats = next(r for r in held if r["resource"] == "user_mailboxes")
    assert (seats["allocated"], seats["utilised"]) == (500, sold["user_mailboxes"])
    assert seats["over_use"] == 0


def test_seed_002_a_licence_renewal_over_http(shop: Service, fresh: MockServer) -> None:
    with shop.client("site-admin") as admin:
        body = {"subject": "mem", "kind": "licence_renewal"}
        assert admin.post("/v1/orders", json=body).status_code == 422
        placed = admin.post("/v1/orders?dry_run=true", json=body | {"until": "2999-01-01"})
        assert placed.status_code == 200, placed.text
        assert placed.json()["kind"] == "licence_renewal"
        assert placed.json()["detail"]["until"] == "2999-01-01"


def test_seed_002_a_maintenance_order_over_http(shop: Service, fresh: MockServer) -> None:
    with shop.client("site-admin") as admin:
        body = {"subject": "mem", "kind": "maintenance", "years": 1}
        answer = admin.post("/v1/orders?dry_run=true", json=body)
    # The memory platform's licence in this service's seed sells no maintenance.
    assert answer.status_code == 422
    assert "no maintenance end date" in answer.json()["detail"]


def test_seed_003_the_seeds_99999_sale_is_explained_over_http(shop: Service) -> None:
    body = {"addon": "resource_mailbox", "quantity": 99999, "to": "resellers"}
    with shop.client("site-admin") as admin:
        answer = admin.post("/v1/sales?dry_run=true", json=body)
    assert answer.status_code == 422
    assert "seed 003's bulk form sells 99999" in answer.text
