"""Throttling (issue 31): the mocks throttle like the platforms (a token bucket per tenant
or credential, each platform's own throttling answer, set through ``/_mock/throttle``),
an instance's transport paces its requests once throttled (AIMD), and a bulk run sends a
throttled item again after the platform's ``Retry-After`` (a 429 applied nothing).
How close to the allowed rate a run gets is measured by benchmarks/throttle.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mailadmin import Orchestrator
from mailadmin.mock import Fault, MockServer
from mailadmin.wire.pacing import Pacer

#: Per platform: its demo configuration, its mock, a mailbox and the plan it moves to,
#: and the request that writes the plan.
PLATFORMS: dict[str, tuple[str, str, str, str]] = {
    "ox": ("mailadmin_ox", "OXMock", "anna@example.com", "changeByModuleAccessName"),
    "exchange": (
        "mailadmin_exchange",
        "ExchangeMock",
        "anna@contoso.onmicrosoft.com",
        "set-mailbox",
    ),
}


def _platform(name: str) -> tuple[dict[str, Any], MockServer, str, str]:
    import importlib

    package, mock, address, write = PLATFORMS[name]
    config = importlib.import_module(f"{package}.demo").sample_config()
    server = MockServer(getattr(importlib.import_module(f"{package}.mock.platform"), mock))
    return config, server, address, write


@pytest.mark.parametrize("name", sorted(PLATFORMS))
async def test_a_bulk_run_sends_a_throttled_write_again_and_it_lands(
    name: str, tmp_path: Path
) -> None:
    config, server, address, write = _platform(name)
    config["journal"] = {"url": f"sqlite:///{tmp_path}/journal.sqlite"}
    async with Orchestrator.from_dict(config, http={name: server.transport()}) as orch:
        before = await _plan(orch, config, address)
        target = "sync" if before != "sync" else "mail"
        # Throttled more often than the transport sends one call again: the call fails
        # RateLimited, and the run sends the item again as a new call.
        refused = orch.provider(name).http.retries + 1
        calls = frozenset(range(1, refused + 1))
        server.inject(Fault(kind="rate_limit", operation=write, calls=calls, retry_after=0))
        result = await orch.set_plans([(address, target)])
        assert result.ok, result.items
        writes = server.calls(write)
        # Refused (never reaching the state), then sent again and applied.
        assert [(w.fault, w.status) for w in writes] == [("rate_limit", 429)] * refused + [
            (None, 200)
        ]
        assert orch.journal is not None
        rows = orch.journal.entries(oldest_first=True, run=result.run_id)
        assert [(r.outcome, r.error_code) for r in rows] == [
            ("failed", "rate_limited"),
            ("changed", None),
        ]
        assert orch.provider(name).http.pacer.throttled == refused
    # The platform holds the new plan: a fresh orchestrator reads it from the mock.
    async with Orchestrator.from_dict(config, journal=False, http={name: server.transport()}) as o:
        assert await _plan(o, config, address) == target


async def _plan(orch: Orchestrator, config: dict[str, Any], address: str) -> str | None:
    tenant = next(iter(config["tenants"]))
    found = [m.plan for m in await orch.list_mailboxes(tenant) if m.address == address]
    return found[0]


async def _send(server: MockServer, path: str, body: bytes = b"") -> httpx.Response:
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://mock") as c:
        return await c.post(path, content=body)


async def test_exchange_throttles_each_tenant_with_429_and_retry_after() -> None:
    _, server, _, _ = _platform("exchange")
    control = await _send(server, "/_mock/throttle", b"")  # PUT below; POST is unknown
    assert control.status_code == 404
    async with httpx.AsyncClient(transport=server.transport(), base_url="http://mock") as c:
        put = await c.put("/_mock/throttle", json={"rate": 0.001, "burst": 2, "per": "tenant"})
        assert put.status_code == 200 and put.json()["rate"] == 0.001
        a = "/adminapi/beta/tenant-a/InvokeCommand"
        answers = [await c.post(a, content=b"{}") for _ in range(3)]
        assert [r.status_code == 429 for r in answers] == [False, False, True]
        refused = answers[2]
        assert int(refused.headers["Retry-After"]) >= 1
        assert "maximum number of concurrent requests per tenant" in refused.text
        other = await c.post("/adminapi/beta/tenant-b/InvokeCommand", content=b"{}")
        assert other.status_code != 429  # another tenant has its own bucket
        counters = (await c.get("/_mock/throttle")).json()
        assert (counters["allowed"], counters["throttled"]) == (3, 1)
        assert (await c.delete("/_mock/throttle")).status_code == 200
        assert (await c.post(a, content=b"{}")).status_code != 429
        assert (await c.get("/_mock/throttle")).json() is None
    assert [r.fault for r in server.requests].count("rate_limit") == 1


async def test_ox_throttles_each_login_with_its_rate_limited_error() -> None:
    _, server, _, _ = _platform("ox")
    server.throttle({"rate": 0.001, "burst": 1, "per": "credential"})
    path = "/webservices/OXUserService"
    first = await _send(server, path, b"<auth><login>admin-a</login></auth>")
    refused = await _send(server, path, b"<auth><login>admin-a</login></auth>")
    other = await _send(server, path, b"<auth><login>admin-b</login></auth>")
    assert first.status_code != 429 and other.status_code != 429
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["errors"][0]["code"] == "39"


def test_the_pacer_sends_freely_until_throttled_then_cuts_once_and_climbs() -> None:
    pacer = Pacer(cut=0.9, climb=0.01)
    for _ in range(50):
        pacer.answered(False)
    assert pacer.rate is None  # nothing throttled: not paced
    pacer.answered(True)
    assert pacer.rate == pytest.approx(45.0)  # the last second's 50 answers, less 10 %
    pacer.answered(True)  # the same burst of refusals: no second cut
    assert (pacer.cuts, pacer.throttled) == (1, 2) and pacer.rate == pytest.approx(45.0)
    for _ in range(45):
        pacer.answered(False)
    assert pacer.rate == pytest.approx(45.45, abs=0.02)  # about 1 % a second's answers


async def test_a_paced_instance_spaces_its_requests_by_its_rate() -> None:
    pacer = Pacer()
    pacer.answered(False)
    pacer.answered(True)
    assert pacer.rate == 1.0  # never below one request a second
    pacer.rate = 1000.0
    floor = time.monotonic()
    for _ in range(5):
        await pacer.wait()
    # Five turns given one after another, a thousandth of a second apart.
    assert pacer._next >= floor + 5 / 1000
