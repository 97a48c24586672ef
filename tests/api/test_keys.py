"""``mailadmin keys``: create (shown once, stored hashed), list, revoke; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa
from apihelpers import Service, mailadmin


def test_create_shows_the_key_once_and_stores_only_its_hash(any_service: Service) -> None:
    service = any_service
    key = mailadmin(
        "keys", "create", "--identity", "reseller:acme", "--label", "whmcs", config=service.config
    ).strip()
    assert key.startswith("mak_")
    listed = json.loads(mailadmin("keys", "list", "--json", config=service.config))["keys"]
    mine = next(k for k in listed if k["id"] == key.split("_")[1])
    assert mine == mine | {"identity": "reseller:acme", "label": "whmcs", "revoked": None}
    assert key not in json.dumps(listed)
    engine = sa.create_engine(service.store)
    try:
        with engine.connect() as db:
            stored = db.execute(sa.text("select * from mailadmin_api_keys")).all()
    finally:
        engine.dispose()
    assert stored
    assert key not in repr(stored) and key.split("_", 2)[2] not in repr(stored)


def test_a_revoked_key_is_refused_from_the_next_request(any_service: Service) -> None:
    service = any_service
    key = mailadmin("keys", "create", "--identity", "site-admin", config=service.config).strip()
    auth = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{service.url}/v1/customers", headers=auth).status_code == 200
    out = mailadmin("keys", "revoke", key.split("_")[1], "--yes", config=service.config)
    assert "revoked" in out
    refused = httpx.get(f"{service.url}/v1/customers", headers=auth)
    assert refused.status_code == 401 and refused.json()["code"] == "unauthenticated"
    listed = json.loads(mailadmin("keys", "list", "--json", config=service.config))["keys"]
    assert next(k for k in listed if k["id"] == key.split("_")[1])["revoked"] is not None


def test_a_key_for_an_unknown_identity_is_refused(any_service: Service) -> None:
    service = any_service
    for identity in ("reseller:nobody", "customer:nowhere.test", "mailbox:a@nowhere.test", "boss"):
        out = mailadmin(
            "--json", "keys", "create", "--identity", identity, config=service.config, check=False
        )
        assert json.loads(out)["error"]["code"] == "validation", identity


def test_only_the_site_admin_manages_keys(any_service: Service) -> None:
    service = any_service
    out = mailadmin(
        "--json",
        "--as",
        "reseller:acme",
        "keys",
        "create",
        "--identity",
        "site-admin",
        config=service.config,
        check=False,
    )
    assert json.loads(out)["error"]["code"] == "policy_denied"
