"""Every identity kind against every other's resources: refused, journalled, nothing sent.

The mock records every request it receives; a refused call must leave it empty (not even
a read), because the identity is checked before anything goes to the platform.
"""

from __future__ import annotations

from typing import Any

import pytest
from apihelpers import Service

from mailadmin.mock.server import MockServer

#: Each identity and resources of others it must not reach: (tenant, mailbox).
FOREIGN: dict[str, list[tuple[str, str]]] = {
    "reseller:acme": [("example.net", "anna@example.net"), ("example.org", "anna@example.org")],
    "reseller:globex": [("example.com", "anna@example.com"), ("example.org", "ben@example.org")],
    "customer:example.com": [
        ("example.net", "anna@example.net"),
        ("example.org", "anna@example.org"),
    ],
    "customer:example.net": [("example.com", "ben@example.com")],
    "mailbox:anna@example.com": [
        ("example.com", "ben@example.com"),
        ("example.net", "anna@example.net"),
    ],
}


def _calls(tenant: str, mailbox: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    new = {"address": f"eve@{tenant}", "kind": "user"}
    return [
        ("GET", f"/v1/customers/{tenant}", None),
        ("GET", f"/v1/customers/{tenant}/mailboxes", None),
        ("GET", f"/v1/customers/{tenant}/mailbox-count", None),
        ("POST", f"/v1/customers/{tenant}/mailboxes", new),
        ("POST", f"/v1/customers/{tenant}/mailboxes?dry_run=true", new),
        ("DELETE", f"/v1/mailboxes/{mailbox}", None),
        ("PUT", f"/v1/mailboxes/{mailbox}/plan", {"plan": "collaborate"}),
        ("PUT", f"/v1/mailboxes/{mailbox}/plan?dry_run=true", {"plan": "collaborate"}),
        ("PUT", f"/v1/customers/{tenant}/addons/mailboxes", {"quantity": 7}),
    ]


#: Calls that are the site admin's alone.
SITE_ADMIN_ONLY: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/v1/instances/mem/licence", None),
    ("GET", "/v1/instances/mem/connection", None),
    ("GET", "/v1/reports/licences", None),
    ("POST", "/v1/resellers", {"name": "intruder"}),
]


@pytest.mark.parametrize("identity", sorted(FOREIGN))
def test_an_identity_is_refused_others_resources_and_nothing_is_sent(
    service: Service, fresh: MockServer, identity: str
) -> None:
    calls = [c for tenant, box in FOREIGN[identity] for c in _calls(tenant, box)]
    with service.client(identity) as http:
        for method, path, body in calls + SITE_ADMIN_ONLY:
            answer = http.request(method, path, json=body)
            assert answer.status_code == 403, (identity, method, path, answer.text)
            problem = answer.json()
            assert answer.headers["content-type"] == "application/problem+json"
            assert problem["code"] == "policy_denied", (identity, path)
            assert problem["reason"] in ("cross_boundary", "not_permitted"), problem
            assert not fresh.requests, (identity, method, path, fresh.requests)
    snapshot = fresh.snapshot()["tenants"]
    assert {b["address"] for b in snapshot["example.net"]["mailboxes"]} == {
        "anna@example.net",
        "ben@example.net",
        "info@example.net",
    }


def test_refusals_are_journalled(service: Service, fresh: MockServer) -> None:
    with service.client("reseller:globex") as http:
        refused = http.put("/v1/mailboxes/ben@example.com/plan", json={"plan": "mail"})
    assert refused.status_code == 403
    with service.client("site-admin") as http:
        journal = http.get("/v1/journal?subject=ben@example.com&status=refused").json()
    assert journal and journal[0]["error_code"] == "policy_denied"
    assert "reseller:globex" in journal[0]["error_message"]


def test_each_identity_reaches_its_own(service: Service, fresh: MockServer) -> None:
    with service.client("reseller:acme") as http:
        assert http.get("/v1/customers/example.com/mailboxes").status_code == 200
        assert [c["name"] for c in http.get("/v1/customers").json()] == ["example.com"]
    with service.client("customer:example.net") as http:
        assert http.get("/v1/customers/example.net/mailbox-count").json()["total"] == 3
        assert [c["name"] for c in http.get("/v1/customers").json()] == ["example.net"]
        # A customer admin changes plans of its tenant but buys no add-ons.
        plan = http.put("/v1/mailboxes/anna@example.net/plan", json={"plan": "sync"})
        addon = http.put("/v1/customers/example.net/addons/mailboxes", json={"quantity": 9})
    assert plan.status_code == 200
    assert addon.status_code == 403 and addon.json()["reason"] == "not_permitted"
    with service.client("mailbox:anna@example.com") as http:
        # Its own plan, subject to seed 000's switch (off by default).
        own = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "sync"})
        customers = http.get("/v1/customers")
    assert own.status_code == 403 and own.json()["reason"] == "upgrade_not_allowed"
    assert own.json()["detail"] == "You are not allowed to upgrade or downgrade your account."
    assert customers.status_code == 403


def test_runs_of_one_identity_are_invisible_to_another(service: Service) -> None:
    with service.client("reseller:acme") as http:
        run = http.post(
            "/v1/runs/plan-changes?dry_run=true",
            json={"items": [{"address": "anna@example.com", "plan": "sync"}]},
        ).json()
    with service.client("reseller:globex") as http:
        assert http.get(f"/v1/runs/{run['id']}").status_code == 404
        assert run["id"] not in {r["id"] for r in http.get("/v1/runs").json()}
    with service.client("site-admin") as http:
        assert http.get(f"/v1/runs/{run['id']}").status_code == 200
