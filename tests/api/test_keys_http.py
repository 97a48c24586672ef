"""API keys over HTTP: create (the secret shown once), list, revoke; read-only keys; the
site admin's keys and a reseller's (its own and its customers'); the rules of
``mailadmin keys``, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apihelpers import PLANS, config_text
from fastapi.testclient import TestClient

from mailadmin.api.app import create_app
from mailadmin.api.keys import ApiKeys
from mailadmin.mock.server import MockServer
from mailadmin.rules.identities import SITE_ADMIN
from mailadmin.store.database import Database


@pytest.fixture
def api(mock: MockServer, tmp_path: Path, store_url: str) -> Iterator[TestClient]:
    """The API in-process over a fresh store, with no key sent by default."""
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(mock.url, tmp_path, store_url))  # type: ignore[attr-defined]
    with TestClient(create_app(config)) as client:
        client.store_url = store_url  # type: ignore[attr-defined]
        yield client


def _admin(client: TestClient) -> dict[str, str]:
    store = Database(client.store_url)  # type: ignore[attr-defined]
    try:
        key = ApiKeys(store).create(SITE_ADMIN, "bootstrap").key
    finally:
        store.close()
    return {"Authorization": f"Bearer {key}"}


def test_the_site_admin_creates_lists_and_revokes_keys(api: TestClient) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "reseller:acme", "label": "whmcs"})
    assert made.status_code == 201, made.text
    assert made.headers["Cache-Control"] == "no-store"
    body = made.json()
    key = body["key"]
    assert key.startswith(f"mak_{body['id']}_")
    assert (body["identity"], body["label"], body["revoked"]) == ("reseller:acme", "whmcs", None)

    acme = {"Authorization": f"Bearer {key}"}
    assert api.get("/v1/customers", headers=acme).status_code == 200

    listed = api.get("/v1/keys", headers=admin)
    assert listed.status_code == 200
    assert key not in listed.text and key.split("_", 2)[2] not in listed.text
    mine = next(k for k in listed.json() if k["id"] == body["id"])
    assert mine["identity"] == "reseller:acme" and "key" not in mine
    engine = sa.create_engine(api.store_url)  # type: ignore[attr-defined]
    try:
        with engine.connect() as db:
            stored = db.execute(sa.text("select * from mailadmin_api_keys")).all()
    finally:
        engine.dispose()
    assert key.split("_", 2)[2] not in repr(stored)

    preview = api.delete(f"/v1/keys/{body['id']}?dry_run=true", headers=admin)
    assert preview.status_code == 200 and preview.json()["revoked"] is None
    assert api.get("/v1/customers", headers=acme).status_code == 200
    revoked = api.delete(f"/v1/keys/{body['id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked"] is not None
    refused = api.get("/v1/customers", headers=acme)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    again = next(k for k in api.get("/v1/keys", headers=admin).json() if k["id"] == body["id"])
    assert again["revoked"] is not None


def test_a_key_out_of_reach_is_refused_and_nothing_changes(api: TestClient) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "reseller:acme"}).json()
    acme = {"Authorization": f"Bearer {made['key']}"}
    before = api.get("/v1/keys", headers=admin).json()
    for identity in ("site-admin", "reseller:globex", "customer:example.net", "mailbox:a@b.test"):
        answer = api.post("/v1/keys", headers=acme, json={"identity": identity})
        assert answer.status_code == 403, (identity, answer.text)
        assert answer.json()["code"] == "policy_denied"
        assert answer.json()["reason"] == "cross_boundary"
    admin_id = before[0]["id"]
    assert admin_id != made["id"]
    refused = api.delete(f"/v1/keys/{admin_id}", headers=acme)
    unknown = api.delete("/v1/keys/000000000000", headers=acme)
    assert refused.status_code == unknown.status_code == 403
    # The same words whether the key exists or not: the answer tells no id that does.
    said = {k: v for k, v in refused.json().items() if k not in ("instance", "request_id")}
    told = {k: v for k, v in unknown.json().items() if k not in ("instance", "request_id")}
    assert said == told | {"detail": said["detail"]}
    assert said["detail"].replace(admin_id, "X") == told["detail"].replace("000000000000", "X")
    after = api.get("/v1/keys", headers=admin).json()
    assert [k["id"] for k in after] == [k["id"] for k in before], "a key was made"
    assert all(k["revoked"] is None for k in after), "a key was revoked"


def test_a_mailbox_user_manages_no_keys(api: TestClient) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "mailbox:anna@example.com"})
    anna = {"Authorization": f"Bearer {made.json()['key']}"}
    for method, url, body in (
        ("POST", "/v1/keys", {"identity": "mailbox:anna@example.com"}),
        ("GET", "/v1/keys", None),
        ("DELETE", f"/v1/keys/{made.json()['id']}", None),
    ):
        answer = api.request(method, url, headers=anna, json=body)
        assert answer.status_code == 403, (method, answer.text)
        assert answer.json()["reason"] == "not_permitted"
    assert len(api.get("/v1/keys", headers=admin).json()) == 2


def test_a_reseller_manages_its_own_and_its_customers_keys(api: TestClient) -> None:
    admin = _admin(api)
    acme_key = api.post("/v1/keys", headers=admin, json={"identity": "reseller:acme"}).json()
    globex_key = api.post("/v1/keys", headers=admin, json={"identity": "reseller:globex"}).json()
    acme = {"Authorization": f"Bearer {acme_key['key']}"}
    globex = {"Authorization": f"Bearer {globex_key['key']}"}
    theirs = api.post(
        "/v1/keys", headers=globex, json={"identity": "customer:example.net", "label": "g"}
    )
    assert theirs.status_code == 201, theirs.text

    made = api.post(
        "/v1/keys", headers=acme, json={"identity": "customer:example.com", "label": "panel"}
    )
    assert made.status_code == 201, made.text
    customer = {"Authorization": f"Bearer {made.json()['key']}"}
    boxes = api.post(
        "/v1/keys", headers=acme, json={"identity": "mailbox:anna@example.com", "read_only": True}
    )
    assert boxes.status_code == 201 and boxes.json()["read_only"] is True

    # The customer's key works within its reach, and only there.
    assert api.get("/v1/customers/example.com/mailboxes", headers=customer).status_code == 200
    away = api.get("/v1/customers/example.net/mailboxes", headers=customer)
    assert away.status_code == 403 and away.json()["reason"] == "cross_boundary"

    # Each reseller lists only the keys whose identity it reaches.
    listed = {k["identity"] for k in api.get("/v1/keys", headers=acme).json()}
    assert listed == {"reseller:acme", "customer:example.com", "mailbox:anna@example.com"}
    listed = {k["identity"] for k in api.get("/v1/keys", headers=globex).json()}
    assert listed == {"reseller:globex", "customer:example.net"}
    assert len(api.get("/v1/keys", headers=admin).json()) == 6

    # A reseller cannot revoke another's key; it revokes its customer's.
    refused = api.delete(f"/v1/keys/{theirs.json()['id']}", headers=acme)
    assert refused.status_code == 403 and refused.json()["reason"] == "cross_boundary"
    refused = api.delete(f"/v1/keys/{globex_key['id']}", headers=acme)
    assert refused.status_code == 403
    still = {k["id"]: k["revoked"] for k in api.get("/v1/keys", headers=admin).json()}
    assert still[theirs.json()["id"]] is None and still[globex_key["id"]] is None
    gone = api.delete(f"/v1/keys/{made.json()['id']}", headers=acme)
    assert gone.status_code == 200 and gone.json()["revoked"] is not None
    assert api.get("/v1/customers/example.com/mailboxes", headers=customer).status_code == 401


def test_a_customer_admin_manages_its_tenant_s_keys(api: TestClient) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "customer:example.com"}).json()
    customer = {"Authorization": f"Bearer {made['key']}"}
    mine = api.post("/v1/keys", headers=customer, json={"identity": "mailbox:ben@example.com"})
    assert mine.status_code == 201, mine.text
    for identity in ("reseller:acme", "customer:example.net", "mailbox:ben@example.net"):
        answer = api.post("/v1/keys", headers=customer, json={"identity": identity})
        assert answer.status_code == 403, identity
    listed = {k["identity"] for k in api.get("/v1/keys", headers=customer).json()}
    assert listed == {"customer:example.com", "mailbox:ben@example.com"}


def _state(api: TestClient, mock: MockServer, admin: dict[str, str]) -> tuple[Any, ...]:
    journal = api.get("/v1/journal?limit=500", headers=admin)
    assert journal.status_code == 200, journal.text
    keys = api.get("/v1/keys", headers=admin).json()
    return (mock.snapshot(), len(mock.writes()), journal.json(), keys)


def test_a_read_only_key_reads_and_is_refused_every_write(
    api: TestClient, mock: MockServer
) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "site-admin", "read_only": True})
    assert made.status_code == 201 and made.json()["read_only"] is True
    listed = {k["id"]: k["read_only"] for k in api.get("/v1/keys", headers=admin).json()}
    assert listed[made.json()["id"]] is True and list(listed.values()).count(False) == 1
    reader = {"Authorization": f"Bearer {made.json()['key']}"}
    assert api.get("/v1/customers/example.com/mailboxes", headers=reader).status_code == 200
    assert api.get("/v1/keys", headers=reader).status_code == 200

    before = _state(api, mock, admin)
    for method, url, body in (
        (
            "POST",
            "/v1/customers/example.com/mailboxes",
            {"address": "ro@example.com", "kind": "shared"},
        ),
        ("PUT", "/v1/mailboxes/anna@example.com/plan", {"plan": "collaborate"}),
        ("DELETE", "/v1/mailboxes/ben@example.com", None),
        ("POST", "/v1/keys", {"identity": "site-admin"}),
        ("DELETE", f"/v1/keys/{made.json()['id']}", None),
        ("PATCH", "/v1/mailboxes/anna@example.com/plan", {"plan": "sync"}),
    ):
        answer = api.request(method, url, headers=reader, json=body)
        assert answer.status_code == 403, (method, url, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["code"] == "read_only"
    assert _state(api, mock, admin) == before, "a refused write changed something"
    # The same write with a key that may act does go through (the refusal was the flag's).
    was = _plan(mock, "anna@example.com")
    wanted = next(neutral for neutral, native in PLANS.items() if native != was)
    plan = api.put("/v1/mailboxes/anna@example.com/plan", headers=admin, json={"plan": wanted})
    assert plan.status_code == 200, plan.text
    assert _plan(mock, "anna@example.com") == PLANS[wanted]
    back = next(neutral for neutral, native in PLANS.items() if native == was)
    api.put("/v1/mailboxes/anna@example.com/plan", headers=admin, json={"plan": back})


def _plan(mock: MockServer, address: str) -> str:
    boxes = mock.snapshot()["tenants"]["example.com"]["mailboxes"]
    return str(next(b["plan"] for b in boxes if b["address"] == address))


def test_bad_requests_are_refused_with_clear_problems(api: TestClient) -> None:
    admin = _admin(api)
    for identity in ("reseller:nobody", "customer:nowhere.test", "mailbox:a@nowhere.test", "boss"):
        answer = api.post("/v1/keys", headers=admin, json={"identity": identity})
        assert answer.status_code == 422, identity
        assert answer.json()["code"] == "validation"
    gone = api.delete("/v1/keys/000000000000", headers=admin)
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"
    replay = api.post(
        "/v1/keys", headers=admin | {"Idempotency-Key": "k-1"}, json={"identity": "site-admin"}
    )
    assert replay.status_code == 400 and replay.json()["code"] == "idempotency_key"
    preview = api.post("/v1/keys?dry_run=true", headers=admin, json={"identity": "reseller:acme"})
    assert preview.status_code == 200 and "key" not in preview.json()
    assert len(api.get("/v1/keys", headers=admin).json()) == 1, "a refused request made a key"
