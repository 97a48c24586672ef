"""Faults between sending and answering: the recorded outcome is what the platform holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.mock import Fault, MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry, get_registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.store.journal import Journal

# -- OX's two-step plan change: access combination, then quota ------------------------------


def _ox_user(server: MockServer, login: str) -> dict[str, Any]:
    for context in server.snapshot()["contexts"]:
        for user in context["users"]:
            if user["name"] == login:
                return dict(user)
    raise AssertionError(login)


@pytest.fixture
async def ox(store_url: str) -> AsyncIterator[tuple[Orchestrator, MockServer]]:
    from mailadmin.cli.demo import CATALOGUE, DemoScenario

    entry = get_registry().providers()["ox"]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    config = {
        **CATALOGUE,
        "instances": {"ox": {**scenario.instance, "endpoint": "http://ox.test"}},
        "tenants": {name: {**t, "instance": "ox"} for name, t in scenario.tenants.items()},
        "journal": {"url": store_url},
    }
    async with Orchestrator.from_dict(
        config, registry=get_registry(), http={"ox": server.router("http://ox.test")}
    ) as orch:
        yield orch, server


async def test_a_failure_between_the_two_steps_is_recorded_partial_then_resumed(
    ox: tuple[Orchestrator, MockServer],
) -> None:
    orch, server = ox
    assert (
        _ox_user(server, "anna")["access_combination"],
        _ox_user(server, "anna")["maxQuota"],
    ) == (
        "pim",
        2048,
    )
    # The second step (OXUserService.change: the quota) fails on the platform.
    server.inject(Fault(kind="status", status=500, operation="change", calls=frozenset({1})))
    with pytest.raises(errors.PartialChange) as caught:
        await orch.set_plan("anna@example.com", "sync")
    assert (caught.value.applied, caught.value.missing) == (("access_combination",), ("quota",))
    anna = _ox_user(server, "anna")
    assert (anna["access_combination"], anna["maxQuota"]) == ("pim_mobility", 2048)

    assert orch.journal is not None
    [entry] = orch.journal.entries()
    assert (entry.status, entry.outcome, entry.applied, entry.missing) == (
        "failed",
        "partial",
        ["access_combination"],
        ["quota"],
    )
    assert entry.state_after == {"access_combination": "pim_mobility", "quota_mb": 2048}
    assert entry.open and entry.error_code == "partial"

    await orch.resume()
    anna = _ox_user(server, "anna")
    assert (anna["access_combination"], anna["maxQuota"]) == ("pim_mobility", 5120)
    [settled] = orch.journal.entries()
    assert (settled.id, settled.outcome, settled.resumed_from) == (entry.id, "changed", "partial")
    assert not settled.open


# -- a write delayed past the timeout, then a newer change to the same mailbox ---------------


@pytest.fixture
def memory() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def endpoint(memory: MockServer) -> Iterator[str]:
    with serve(memory) as url:  # real HTTP on loopback: real timeouts
        yield url


async def test_a_late_write_is_verified_before_a_newer_change_is_sent(
    memory: MockServer, endpoint: str, store_url: str
) -> None:
    config = {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": endpoint,
                "credentials": {"username": "admin", "secret": "secret"},
                "timeout": 0.5,
                "retries": 3,
                "plans": {
                    "mail": {"native": "basic"},
                    "sync": {"native": "standard"},
                    "collaborate": {"native": "premium"},
                },
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": store_url},
    }
    # The first plan change reaches the platform only after the client stopped waiting.
    memory.inject(Fault(kind="latency", delay=0.8, operation="change_plan", calls=frozenset({1})))
    registry = Registry(load=["reference"], disable=[])
    async with Orchestrator.from_dict(
        config, registry=registry, journal=Journal(store_url)
    ) as orch:
        first = asyncio.create_task(orch.set_plan("anna@example.com", "sync"))
        await asyncio.sleep(0.2)
        newer = asyncio.create_task(orch.set_plan("anna@example.com", "collaborate"))
        late, latest = await first, await newer
        assert orch.journal is not None
        entries = orch.journal.entries()
    # Not resent: two writes reached the platform, the late one before the newer one.
    assert [w.body and w.body.decode() for w in memory.writes()] == [
        '{"plan":"standard","quota_mb":null}',
        '{"plan":"premium","quota_mb":null}',
    ]
    plan = memory.snapshot()["tenants"]["example.com"]["mailboxes"][0]
    assert (plan["address"], plan["plan"]) == ("anna@example.com", "premium")
    assert (late.outcome, latest.outcome, latest.before) == ("changed", "changed", "sync")
    assert "answer was lost" in late.note
    newest, oldest = entries
    assert (oldest.outcome, oldest.state_after) == ("changed", "sync")
    assert (newest.outcome, newest.state_before, newest.after) == ("changed", "sync", "collaborate")
    assert not oldest.open and not newest.open
