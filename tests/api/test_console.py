"""The operator console over plain HTTP: its session, its guards, cancel through the run
manager (the browser tests in ``test_console_browser.py`` drive the pages themselves)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from apihelpers import Service, mailadmin, plan_of

from mailadmin.mock.server import MockServer


@contextmanager
def _signed_in(service: Service, identity: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=service.url, timeout=30) as http:
        answer = http.post("/console/sign-in", data={"key": service.key(identity)})
        assert answer.status_code == 303 and answer.headers["location"] == "/console/runs"
        yield http


def _token(page: str) -> str:
    found = re.search(r'name="token" value="([0-9a-f]+)"', page)
    assert found is not None, page
    return found.group(1)


def test_the_console_needs_a_key_and_keeps_it_out_of_urls(service: Service) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as http:
        away = http.get("/console/runs")
        assert away.status_code == 303 and away.headers["location"] == "/console/sign-in"
        form = http.get("/console/sign-in")
        assert form.status_code == 200 and 'type="password"' in form.text
        assert "default-src 'none'" in form.headers["content-security-policy"]
        assert http.get("/console/static/console.css").status_code == 200
        wrong = http.post("/console/sign-in", data={"key": "mak_nope_nope"})
        assert wrong.status_code == 401 and "unknown or revoked" in wrong.text
        assert "set-cookie" not in wrong.headers
        key = service.key("site-admin")
        elsewhere = {"Origin": "http://elsewhere.invalid"}
        forged = http.post("/console/sign-in", data={"key": key}, headers=elsewhere)
        assert forged.status_code == 403 and "set-cookie" not in forged.headers
        hidden = http.post("/console/sign-in", data={"key": key}, headers={"Origin": "null"})
        assert hidden.status_code == 403 and "set-cookie" not in hidden.headers
        signed = http.post("/console/sign-in", data={"key": key})
    assert signed.status_code == 303 and key not in signed.headers["location"]
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith("mailadmin_console=")
    for flag in ("HttpOnly", "Path=/console", "SameSite=strict"):
        assert flag.lower() in cookie.lower(), cookie
    assert "max-age" not in cookie.lower() and "expires" not in cookie.lower()  # a session's


def test_a_stale_cookie_is_dropped_and_a_post_needs_the_form_token(
    service: Service, fresh: MockServer
) -> None:
    with httpx.Client(base_url=service.url, timeout=30) as stale:
        stale.cookies.set("mailadmin_console", "mak_0000_forged", path="/console")
        away = stale.get("/console/journal")
        assert away.status_code == 303 and "Max-Age=0" in away.headers["set-cookie"]
    with _signed_in(service, "site-admin") as http:
        assert http.get("/console/runs").status_code == 200
        # A post without the page's token (a form of another site) is refused.
        forged = http.post("/console/sign-out", data={"token": "0" * 64})
        assert forged.status_code == 403 and "form" in forged.text
        token = _token(http.get("/console/runs").text)
        out = http.post("/console/sign-out", data={"token": token})
        assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]


def test_the_console_pages_answer_within_the_keys_reach(
    service: Service, fresh: MockServer
) -> None:
    with _signed_in(service, "reseller:acme") as http:
        for path in ("/console/runs", "/console/journal", "/console/reports", "/console/tenants"):
            page = http.get(path)
            assert page.status_code == 200, (path, page.text)
        tenants = http.get("/console/tenants").text
        reports = http.get("/console/reports").text
    assert "example.com" in tenants and "example.net" not in tenants  # globex's
    assert "may not read the licences" in reports  # the site admin's only


def test_cancel_stops_a_run_and_sends_nothing_more(service: Service, fresh: MockServer) -> None:
    fresh.inject({"kind": "latency", "operation": "change_plan", "delay": 0.5})
    items = [
        {"address": address, "plan": "collaborate"}
        for address in (
            "anna@example.org",
            "ben@example.org",
            "anna@example.com",
            "ben@example.com",
        )
    ]
    with service.client("site-admin") as http:
        started = http.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 1})
        assert started.status_code == 202
        run_id = started.json()["id"]
        while not any(r.operation == "change_plan" for r in fresh.requests):
            time.sleep(0.02)
        cancelled = http.post(f"/v1/runs/{run_id}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        run = cancelled.json()
        again = http.post(f"/v1/runs/{run_id}/cancel").json()
        other = service.client("reseller:acme").post(f"/v1/runs/{run_id}/cancel")
    assert run["state"] == "cancelled" and again["state"] == "cancelled"
    assert other.status_code == 404  # another identity's run
    states = [item["state"] for item in run["items"]]
    assert "cancelled" in states and "pending" not in states, run["items"]
    # What was cancelled was never sent: the mock still has those plans.
    for item in run["items"]:
        expected = (
            "premium"
            if item["state"] == "succeeded"
            else "basic"
            if item["key"].startswith("anna")
            else "standard"
        )
        assert plan_of(fresh, item["key"]) == expected, item
    sent = [r for r in fresh.writes() if r.operation == "change_plan"]
    assert len(sent) == sum(1 for s in states if s == "succeeded")
    # The journal's plan is finished: a resume sends nothing that was cancelled (only
    # 'journal resume --run ID', naming the run, would send the rest on purpose).
    mailadmin("journal", "resume", config=service.config)
    assert len([r for r in fresh.writes() if r.operation == "change_plan"]) == len(sent)


def test_the_console_cancels_through_the_run_manager(service: Service, fresh: MockServer) -> None:
    fresh.inject({"kind": "latency", "operation": "change_plan", "delay": 0.5})
    items = [
        {"address": address, "plan": "collaborate"}
        for address in ("anna@example.org", "ben@example.org", "anna@example.com")
    ]
    with service.client("site-admin") as api:
        run_id = api.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 1}).json()[
            "id"
        ]
        with _signed_in(service, "site-admin") as http:
            page = http.get(f"/console/runs/{run_id}").text
            assert "Cancel run" in page
            done = http.post(f"/console/runs/{run_id}/cancel", data={"token": _token(page)})
            assert done.status_code == 303
            shown = http.get(done.headers["location"]).text
        run = api.get(f"/v1/runs/{run_id}").json()
    assert run["state"] == "cancelled" and "cancelled" in shown
    assert "Cancel run" not in shown  # ended: nothing left to cancel
    cancelled = [item["key"] for item in run["items"] if item["state"] == "cancelled"]
    assert cancelled and all(plan_of(fresh, key) != "premium" for key in cancelled)


def _tenant_card(page: str, name: str) -> str:
    """The tenants page's card of ``name`` (its heading to the end of its section)."""
    assert f">{name}" in page, page
    card = page[page.index(f">{name}") :]
    return card[: card.index("</section>")]


def test_the_tenants_page_shows_a_suspension_as_last_set(
    service: Service, fresh: MockServer
) -> None:
    with service.client("site-admin") as api, _signed_in(service, "site-admin") as http:
        before = _tenant_card(http.get("/console/tenants").text, "example.org")
        done = api.post("/v1/customers/example.org/suspend", json={"reason": "non-payment"})
        assert done.status_code == 200, done.text
        suspended = _tenant_card(http.get("/console/tenants").text, "example.org")
        assert api.post("/v1/customers/example.org/resume").status_code == 200
        resumed = _tenant_card(http.get("/console/tenants").text, "example.org")
    assert "suspended</span>" in suspended and "suspended</span>" not in resumed
    assert "active</span>" in resumed
    assert "suspended</span>" not in before
    assert "user_mailboxes" in suspended  # its allocations beside it


def test_a_read_only_key_sees_no_cancel_and_its_post_is_refused(
    service: Service, fresh: MockServer
) -> None:
    reader = mailadmin(
        "keys", "create", "--identity", "site-admin", "--read-only", config=service.config
    ).strip()
    fresh.inject({"kind": "latency", "operation": "change_plan", "delay": 1.0})
    items = [{"address": a, "plan": "collaborate"} for a in ("anna@example.org", "ben@example.org")]
    with service.client("site-admin") as admin:
        started = admin.post("/v1/runs/plan-changes", json={"items": items, "concurrency": 1})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        while not any(r.operation == "change_plan" for r in fresh.requests):
            time.sleep(0.02)
        with _signed_in(service, "site-admin") as acting:
            assert "Cancel run" in acting.get(f"/console/runs/{run_id}").text
        with httpx.Client(base_url=service.url, timeout=30) as http:
            signed = http.post("/console/sign-in", data={"key": reader})
            assert signed.status_code == 303
            page = http.get(f"/console/runs/{run_id}")
            assert page.status_code == 200
            assert "Cancel run" not in page.text and "read-only" in page.text
            refused = http.post(f"/console/runs/{run_id}/cancel", data={"token": _token(page.text)})
            assert refused.status_code == 403 and refused.json()["code"] == "read_only"
            assert admin.get(f"/v1/runs/{run_id}").json()["state"] != "cancelled"
            # Signing out is the one post a read-only key makes (it only drops the cookie).
            out = http.post("/console/sign-out", data={"token": _token(page.text)})
            assert out.status_code == 303 and "Max-Age=0" in out.headers["set-cookie"]
        admin.post(f"/v1/runs/{run_id}/cancel")
