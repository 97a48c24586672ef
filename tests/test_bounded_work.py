"""Behaviour kept by the performance work of issue 15 (no timings here: see benchmarks/).

Bulk runs hold a few workers, not a task per item; the transport still keeps and sends
cookies a platform sets while skipping cookie work on answers that set none; call URLs it
remembers still join the right base."""

from __future__ import annotations

import asyncio

import httpx

from mailadmin.orchestration.bulk import run_bulk
from mailadmin.wire.transport import Transport


async def test_a_bulk_run_holds_concurrency_workers_not_a_task_per_item() -> None:
    live: list[int] = []
    in_flight = 0
    peak = 0

    def item(i: int):  # type: ignore[no-untyped-def]
        async def call() -> int:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            live.append(len(asyncio.all_tasks()))
            await asyncio.sleep(0)
            in_flight -= 1
            return i

        return call

    result = await run_bulk(((str(i), item(i)) for i in range(500)), concurrency=4)

    assert [r.value for r in result.items] == list(range(500))  # input order kept
    assert peak == 4
    assert max(live) <= 4 + 1  # the workers and the test's own task


async def test_cookies_set_by_the_platform_are_kept_and_sent_back() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        if request.url.path == "/api/login":
            return httpx.Response(200, headers={"set-cookie": "SESSION=abc; Path=/"})
        return httpx.Response(200, json={})

    transport = Transport(
        "http://platform.example.com/api", backend=httpx.MockTransport(answer), retries=0
    )
    try:
        await transport.request("POST", "/login", write=False)
        await transport.request("GET", "users", write=False)
        first = await transport.request("GET", "users", write=False)
    finally:
        await transport.aclose()

    assert seen == [None, "SESSION=abc", "SESSION=abc"]
    assert str(first.request.url) == "http://platform.example.com/api/users"


async def test_remembered_urls_follow_a_new_client_and_named_endpoints() -> None:
    urls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        urls.append(str(request.url))
        return httpx.Response(200, json={})

    transport = Transport(
        "http://platform.test/v1",
        backend=httpx.MockTransport(answer),
        endpoints={"graph": "http://graph.test/v1.0"},
        retries=0,
    )
    for _ in range(2):
        await transport.request("GET", "users", write=False)
        await transport.request("GET", "users", write=False, endpoint="graph")
        await transport.request("GET", "http://other.test/next?page=2", write=False)
        await transport.aclose()  # the next round runs on a new client

    assert urls == 2 * [
        "http://platform.test/v1/users",
        "http://graph.test/v1.0/users",
        "http://other.test/next?page=2",
    ]


def test_tenants_are_found_by_domain_through_the_index_and_after_changes() -> None:
    from mailadmin.orchestration.config import Config, TenantConfig

    config = Config.from_dict(
        {
            "instances": {"a": {"provider": "memory"}},
            "tenants": {
                f"customer-{i}": {"instance": "a", "domains": [f"d{i}.example"]} for i in range(200)
            },
        }
    )

    assert config.tenant_of_address("anna@D150.example").name == "customer-150"
    assert config.tenant_ref("customer-7").name == "customer-7"
    # A tenant added to the table later is still found (the index is rebuilt).
    config.tenants["late"] = TenantConfig(instance="a", domains=["late.example"])
    assert config.tenant_ref("late.example").name == "late"
    # A domain moved to another tenant follows it.
    config.tenants["customer-3"] = TenantConfig(instance="a", domains=["other.example"])
    config.tenants["moved"] = TenantConfig(instance="a", domains=["d3.example"])
    assert config.tenant_ref("d3.example").name == "moved"
