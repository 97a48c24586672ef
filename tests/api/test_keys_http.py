"""API keys over HTTP (the site admin's): create (the secret shown once), list, revoke;
the rules of ``mailadmin keys``, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from apihelpers import config_text
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


def test_a_non_admin_is_refused_and_nothing_changes(api: TestClient) -> None:
    admin = _admin(api)
    made = api.post("/v1/keys", headers=admin, json={"identity": "reseller:acme"}).json()
    acme = {"Authorization": f"Bearer {made['key']}"}
    before = api.get("/v1/keys", headers=admin).json()
    for method, url, body in (
        ("POST", "/v1/keys", {"identity": "site-admin"}),
        ("GET", "/v1/keys", None),
        ("DELETE", f"/v1/keys/{before[0]['id']}", None),
    ):
        answer = api.request(method, url, headers=acme, json=body)
        assert answer.status_code == 403, (method, answer.text)
        assert answer.json()["code"] == "policy_denied"
        assert answer.json()["reason"] == "not_permitted"
    after = api.get("/v1/keys", headers=admin).json()
    assert [k["id"] for k in after] == [k["id"] for k in before], "a key was made"
    assert all(k["revoked"] is None for k in after), "a key was revoked"


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
