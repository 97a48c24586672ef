"""``mailadmin keys``: create (shown once, stored hashed), list, revoke; on SQLite and on
PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import sqlalchemy as sa
from apihelpers import Service, mailadmin

from mailadmin.mock.server import MockServer


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


def _cli(service: Service, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mailadmin.cli", "--config", str(service.config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_a_read_only_key_made_on_the_cli_reads_and_writes_nothing(
    any_service: Service, mock: MockServer
) -> None:
    service = any_service
    key = mailadmin(
        "keys", "create", "--identity", "site-admin", "--read-only", config=service.config
    ).strip()
    key_id = key.split("_")[1]
    listed = json.loads(mailadmin("keys", "list", "--all", "--json", config=service.config))
    assert next(k for k in listed["keys"] if k["id"] == key_id)["read_only"] is True
    table = mailadmin("keys", "list", "--all", config=service.config)
    assert "read-only" in table and any(
        key_id in line and "yes" in line for line in table.splitlines()
    )

    reader = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{service.url}/v1/customers", headers=reader).status_code == 200
    before = (mock.snapshot(), len(mock.writes()))
    for method, url, body in (
        (
            "POST",
            "/v1/customers/example.org/mailboxes",
            {"address": "ro@example.org", "kind": "shared"},
        ),
        ("PUT", "/v1/mailboxes/anna@example.org/plan", {"plan": "collaborate"}),
        ("DELETE", "/v1/mailboxes/ben@example.org", None),
    ):
        answer = httpx.request(method, f"{service.url}{url}", headers=reader, json=body)
        assert answer.status_code == 403, (method, answer.text)
        assert answer.json()["code"] == "read_only"
    assert (mock.snapshot(), len(mock.writes())) == before


def test_a_reseller_manages_its_customers_keys_on_the_cli(any_service: Service) -> None:
    service = any_service
    made = _cli(service, "--as", "reseller:acme", "--json", "keys", "create",
                "--identity", "customer:example.com", "--label", "acme-panel")  # fmt: skip
    assert made.returncode == 0, made.stderr
    customer = json.loads(made.stdout)
    auth = {"Authorization": f"Bearer {customer['key']}"}
    mine = httpx.get(f"{service.url}/v1/customers/example.com/mailboxes", headers=auth)
    assert mine.status_code == 200
    away = httpx.get(f"{service.url}/v1/customers/example.net/mailboxes", headers=auth)
    assert away.status_code == 403

    other = mailadmin(
        "--as", "reseller:globex", "keys", "create", "--identity", "customer:example.net",
        config=service.config,
    ).strip()  # fmt: skip
    listed = _cli(service, "--as", "reseller:acme", "--json", "keys", "list", "--all")
    assert listed.returncode == 0, listed.stderr
    seen = json.loads(listed.stdout)["keys"]
    assert customer["id"] in {k["id"] for k in seen}
    assert other.split("_")[1] not in {k["id"] for k in seen}
    for found in seen:  # nothing outside acme's reach: itself, its customer, their boxes
        who = found["identity"]
        assert who in ("reseller:acme", "customer:example.com") or who.endswith("@example.com")

    for key_id in (other.split("_")[1], "000000000000"):
        refused = _cli(
            service, "--as", "reseller:acme", "--json", "keys", "revoke", key_id, "--yes"
        )
        assert refused.returncode == 3, refused.stdout
        assert json.loads(refused.stdout)["error"]["code"] == "policy_denied"
    assert (
        httpx.get(
            f"{service.url}/v1/customers", headers={"Authorization": f"Bearer {other}"}
        ).status_code
        == 200
    )
    gone = _cli(service, "--as", "reseller:acme", "keys", "revoke", customer["id"], "--yes")
    assert gone.returncode == 0, gone.stderr
    assert httpx.get(f"{service.url}/v1/customers", headers=auth).status_code == 401
