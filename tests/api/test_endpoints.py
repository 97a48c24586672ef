"""Every endpoint of the HTTP API through real HTTP, against ``mailadmin serve`` and a mock."""

from __future__ import annotations

import uuid

from apihelpers import Service, plan_of

from mailadmin.mock.server import MockServer

PROBLEM = "application/problem+json"


def test_health_and_readiness_need_no_key(service: Service) -> None:
    with service.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "checks": {"store": "ok", "instances": "ok"}}


def test_request_ids_are_echoed_and_logged(service: Service) -> None:
    with service.client("site-admin") as http:
        given = http.get("/v1/catalogue", headers={"X-Request-Id": "panel-42.a"})
        made = http.get("/v1/catalogue")
        hostile = http.get("/v1/catalogue", headers={"X-Request-Id": "x\ty" + "z" * 200})
    assert given.headers["X-Request-Id"] == "panel-42.a"
    assert len(made.headers["X-Request-Id"]) == 32
    assert hostile.headers["X-Request-Id"] != "x\ty" + "z" * 200
    log = service.log.read_text()
    assert "request panel-42.a GET /v1/catalogue -> 200" in log
    assert f"request {made.headers['X-Request-Id']} GET /v1/catalogue -> 200" in log


def test_no_key_or_a_bad_key_is_401_problem(service: Service) -> None:
    with service.client() as http:
        missing = http.get("/v1/customers")
        wrong = http.get("/v1/customers", headers={"Authorization": "Bearer mak_nope_nope"})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        body = answer.json()
        assert body["code"] == "unauthenticated" and body["status"] == 401
        assert body["request_id"] == answer.headers["X-Request-Id"]
        assert "WWW-Authenticate" in answer.headers


def test_unknown_routes_and_invalid_bodies_are_problems(service: Service) -> None:
    with service.client("site-admin") as http:
        route = http.get("/v1/nothing-here")
        body = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": 5, "extra": 1})
        text = http.put(
            "/v1/mailboxes/anna@example.com/plan",
            content=b"not json",
            headers={"content-type": "application/json"},
        )
        plan = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "platinum"})
    assert route.status_code == 404 and route.json()["code"] == "not_found"
    assert body.status_code == 422 and body.headers["content-type"] == PROBLEM
    assert {e["field"] for e in body.json()["errors"]} == {"plan", "extra"}
    assert text.status_code == 422
    assert plan.status_code == 422 and plan.json()["code"] == "validation"
    assert "Unknown plan 'platinum'" in plan.json()["detail"]
    for answer in (route, body, text, plan):
        assert "Traceback" not in answer.text and "secret" not in answer.text


def test_platform_failures_are_safe_problems(service: Service, fresh: MockServer) -> None:
    fresh.inject({"kind": "status", "status": 500, "body": "java.lang.NullPointerException at"})
    with service.client("site-admin") as http:
        answer = http.get("/v1/customers/example.com/mailboxes")
    fresh.clear_faults()
    assert answer.status_code in (502, 503)
    assert answer.headers["content-type"] == PROBLEM
    assert "NullPointer" not in answer.text and "Traceback" not in answer.text
    assert "admin" not in answer.json()["detail"]


def test_providers_instances_catalogue_plans_licence_connection(service: Service) -> None:
    with service.client("site-admin") as http:
        providers = http.get("/v1/providers").json()
        instances = http.get("/v1/instances").json()
        one = http.get("/v1/instances/mem").json()
        missing = http.get("/v1/instances/nope")
        catalogue = http.get("/v1/catalogue").json()
        plans = http.get("/v1/instances/mem/plans").json()
        licence = http.get("/v1/instances/mem/licence").json()
        connection = http.get("/v1/instances/mem/connection").json()
    assert "memory" in {p["name"] for p in providers}
    assert [i["name"] for i in instances] == ["mem"]
    assert one["provider"] == "memory" and "set_plan" in one["capabilities"]
    assert one["tenants"] == ["example.com", "example.net", "example.org"]
    assert "endpoint" not in one and "credentials" not in str(one)
    assert missing.status_code == 404
    assert list(catalogue["plans"]) == ["mail", "sync", "collaborate"]
    assert {p["native_name"] for p in plans} >= {"basic", "standard", "premium"}
    assert licence["seats_licensed"] == 200
    assert connection["ok"] is True


def test_resellers_and_customers(service: Service) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"
    with service.client("site-admin") as http:
        listed = http.get("/v1/resellers").json()
        dry = http.post("/v1/resellers?dry_run=true", json={"name": name})
        after_dry = http.get(f"/v1/resellers/{name}")
        made = http.post("/v1/resellers", json={"name": name, "package": {"user_mailboxes": 9}})
        got = http.get(f"/v1/resellers/{name}").json()
        customers = http.get("/v1/customers").json()
        acme_only = http.get("/v1/customers?reseller=acme").json()
        one = http.get("/v1/customers/example.com").json()
        count = http.get("/v1/customers/example.org/mailbox-count").json()
    assert {"acme", "globex"} <= {r["name"] for r in listed}
    assert dry.status_code == 200 and dry.json()["name"] == name
    assert after_dry.status_code == 404
    assert made.status_code == 201 and got["package"] == {"user_mailboxes": 9}
    assert [c["name"] for c in customers] == ["example.com", "example.net", "example.org"]
    assert [c["name"] for c in acme_only] == ["example.com"]
    assert one["reseller"] == "acme"
    assert count["tenant"] == "example.org" and count["total"] == 3
    assert count["unclassified"] == 0  # the field every face carries
    with service.client("reseller:acme") as http:
        # A reseller records customers under itself only, whatever the body says.
        mine = http.post("/v1/customers?dry_run=true", json={"name": "example.com"})
        theirs = http.post("/v1/customers", json={"name": "example.com", "reseller": "globex"})
        itself = http.get("/v1/resellers").json()
    assert mine.status_code == 200 and mine.json()["reseller"] == "acme"
    assert theirs.status_code == 403 and theirs.json()["reason"] == "cross_boundary"
    assert [r["name"] for r in itself] == ["acme"]


def test_re_adding_an_existing_customer_or_reseller_is_a_409_conflict(service: Service) -> None:
    with service.client("site-admin") as http:
        before = http.get("/v1/customers/example.com").json()
        again = http.post("/v1/customers", json={"name": "example.com", "reseller": "globex"})
        after = http.get("/v1/customers/example.com").json()
        reseller = http.post("/v1/resellers", json={"name": "acme"})
    assert again.status_code == 409, again.text
    assert again.headers["content-type"].startswith(PROBLEM)
    assert again.json()["code"] == "conflict" and "already exists" in again.json()["detail"]
    assert after == before and after["reseller"] == "acme"
    assert reseller.status_code == 409 and reseller.json()["code"] == "conflict"


def test_a_plan_for_a_room_or_equipment_mailbox_is_a_422(
    service: Service, fresh: MockServer
) -> None:
    with service.client("site-admin") as http:
        refused = [
            http.post(
                "/v1/customers/example.com/mailboxes",
                json={"address": f"r-{kind}@example.com", "kind": kind, "plan": "sync"},
            )
            for kind in ("room", "equipment")
        ]
    for answer in refused:
        assert answer.status_code == 422, answer.text
        assert "plans apply to user mailboxes only" in answer.text
    assert not fresh.writes()


def test_mailboxes_list_create_delete_with_dry_runs(service: Service, fresh: MockServer) -> None:
    new = {"address": "zoe@example.com", "kind": "user", "plan": "sync", "display_name": "Zoe"}
    with service.client("reseller:acme") as http:
        listed = http.get("/v1/customers/example.com/mailboxes").json()
        preview = http.post("/v1/customers/example.com/mailboxes?dry_run=true", json=new)
        assert not fresh.writes()
        created = http.post("/v1/customers/example.com/mailboxes", json=new)
        dry_delete = http.delete("/v1/mailboxes/zoe@example.com?dry_run=true")
        writes = len(fresh.writes())
        deleted = http.delete("/v1/mailboxes/zoe@example.com")
    assert {m["address"] for m in listed} == {
        "anna@example.com",
        "ben@example.com",
        "info@example.com",
    }
    assert preview.status_code == 200 and preview.json()["dry_run"] is True
    assert created.status_code == 201 and created.json()["after"]["address"] == "zoe@example.com"
    assert dry_delete.status_code == 200 and writes == 1
    assert deleted.status_code == 200 and deleted.json()["outcome"] == "changed"
    boxes = fresh.snapshot()["tenants"]["example.com"]["mailboxes"]
    assert "zoe@example.com" not in {b["address"] for b in boxes}


def test_plan_change_dry_run_first_then_for_real(service: Service, fresh: MockServer) -> None:
    with service.client("reseller:acme") as http:
        preview = http.put(
            "/v1/mailboxes/anna@example.com/plan?dry_run=true", json={"plan": "sync"}
        )
        assert plan_of(fresh, "anna@example.com") == "basic" and not fresh.writes()
        done = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "sync"})
        again = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "sync"})
    assert preview.json() | {"dry_run": False} == done.json()
    assert done.json()["before"] == "mail" and done.json()["after"] == "sync"
    assert again.json()["outcome"] == "unchanged"
    assert plan_of(fresh, "anna@example.com") == "standard"


def test_addon_total(service: Service, fresh: MockServer) -> None:
    with service.client("reseller:acme") as http:
        preview = http.put(
            "/v1/customers/example.com/addons/shared_mailbox?dry_run=true", json={"quantity": 4}
        )
        sold = http.put("/v1/customers/example.com/addons/shared_mailbox", json={"quantity": 4})
        negative = http.put(
            "/v1/customers/example.com/addons/shared_mailbox", json={"quantity": -1}
        )
    assert preview.json()["dry_run"] is True and preview.json()["after"] == 4
    assert sold.status_code == 200 and sold.json()["after"] == 4
    assert fresh.snapshot()["tenants"]["example.com"]["allocations"]["shared_mailboxes"] == 4
    assert negative.status_code == 422


def test_reports_and_journal(service: Service, fresh: MockServer) -> None:
    with service.client("reseller:acme") as http:
        http.put("/v1/mailboxes/ben@example.com/plan", json={"plan": "collaborate"})
        usage = http.get("/v1/reports/usage").json()
        renewals = http.get("/v1/reports/renewals")
        journal = http.get("/v1/journal?operation=set_plan").json()
        denied = http.get("/v1/reports/licences")
    with service.client("site-admin") as http:
        licences = http.get("/v1/reports/licences").json()
        everything = http.get("/v1/journal?limit=500").json()
    customers = {row["subscription"] for row in usage if row["level"] == "customer"}
    assert customers == {"example.com"}
    # acme sees what it holds against what it sold, its own row only.
    assert {row["subscription"] for row in usage if row["level"] == "reseller"} == {"reseller:acme"}
    assert renewals.status_code == 200
    assert journal and all(e["subject"].endswith("@example.com") for e in journal)
    assert journal[0]["subject"] == "ben@example.com" and journal[0]["after"] == "collaborate"
    assert denied.status_code == 403
    assert licences[0]["instance"] == "mem" and licences[0]["licensed"] == 200
    # The site admin sees other customers' writes, which acme does not.
    assert len(everything) >= len(journal)


def test_idempotency_key_replays_and_refuses_another_body(
    service: Service, fresh: MockServer
) -> None:
    key = {"Idempotency-Key": f"plan-{uuid.uuid4()}"}
    with service.client("reseller:acme") as http:
        first = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "sync"}, headers=key)
        writes = len(fresh.writes())
        repeat = http.put("/v1/mailboxes/anna@example.com/plan", json={"plan": "sync"}, headers=key)
        after_repeat = len(fresh.writes())
        other = http.put(
            "/v1/mailboxes/anna@example.com/plan", json={"plan": "collaborate"}, headers=key
        )
        dry = http.put(
            "/v1/mailboxes/anna@example.com/plan?dry_run=true", json={"plan": "sync"}, headers=key
        )
    with service.client("reseller:globex") as http:
        # Keys are per API key: another panel's same key is its own request.
        elsewhere = http.put(
            "/v1/mailboxes/anna@example.net/plan", json={"plan": "sync"}, headers=key
        )
    assert first.status_code == 200 and first.json()["outcome"] == "changed"
    assert repeat.status_code == 200 and repeat.json() == first.json()
    assert repeat.headers["Idempotent-Replayed"] == "true"
    assert after_repeat == writes == 1  # the repeat sent nothing
    assert other.status_code == 409 and other.json()["code"] == "idempotency_mismatch"
    assert dry.status_code == 409
    assert elsewhere.status_code == 200 and elsewhere.json()["subject"] == "anna@example.net"
    assert plan_of(fresh, "anna@example.com") == "standard"


def test_a_refusal_is_kept_under_its_idempotency_key(service: Service, fresh: MockServer) -> None:
    key = {"Idempotency-Key": f"deny-{uuid.uuid4()}"}
    with service.client("reseller:acme") as http:
        first = http.put("/v1/mailboxes/anna@example.net/plan", json={"plan": "sync"}, headers=key)
        repeat = http.put("/v1/mailboxes/anna@example.net/plan", json={"plan": "sync"}, headers=key)
    assert first.status_code == repeat.status_code == 403
    assert repeat.headers["content-type"] == PROBLEM
    assert repeat.json()["code"] == "policy_denied"
    assert not fresh.requests


def test_a_creation_beyond_the_allocation_is_refused_with_no_request(
    service: Service, fresh: MockServer
) -> None:
    # example.net has 5 shared mailboxes in its package and uses one (info@).
    made = [f"team{n}@example.net" for n in range(4)]
    with service.client("reseller:globex") as http:
        counted = http.get("/v1/customers/example.net/mailbox-count")
        for address in made:
            created = http.post(
                "/v1/customers/example.net/mailboxes", json={"address": address, "kind": "shared"}
            )
            assert created.status_code == 201
        fresh.clear_requests()
        refused = http.post(
            "/v1/customers/example.net/mailboxes",
            json={"address": "one-more@example.net", "kind": "shared"},
        )
        requests = list(fresh.requests)
        # Leave the service's kept use as the next test's fresh mock has it.
        for address in made:
            assert http.delete(f"/v1/mailboxes/{address}").status_code == 200
    assert counted.status_code == 200
    assert refused.status_code == 403 and refused.json()["reason"] == "allocation_exceeded"
    assert "allocated 5 shared mailboxes and uses 5" in refused.json()["detail"]
    assert requests == []
