"""The write fence: a write that lands after its read-back window does not overwrite a newer
change of the same mailbox; the mock's state ends on the newer change and both journal rows
tell what happened. No assertion on elapsed time: the fault's delay only orders events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.provider import _VERIFY_WINDOW
from mailadmin.mock import Fault, MockServer
from mailadmin.mock.serve import serve
from mailadmin.orchestration.registry import Registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.store.journal import Journal

#: How late the first plan change lands, against a 0.3 s timeout and a 0.2 s read-back.
LATE = 1.5


def _config(endpoint: str, store_url: str, **instance: Any) -> dict[str, Any]:
    return {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": endpoint,
                "credentials": {"username": "admin", "secret": "secret"},
                "timeout": 0.3,
                "plans": {
                    "mail": {"native": "basic"},
                    "sync": {"native": "standard"},
                    "collaborate": {"native": "premium"},
                },
                **instance,
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": store_url},
    }


@pytest.fixture
def memory() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def endpoint(memory: MockServer) -> Iterator[str]:
    with serve(memory) as url:  # real HTTP on loopback: real timeouts, a request that lands late
        yield url


@pytest.fixture
def short_read_back() -> Iterator[None]:
    token = _VERIFY_WINDOW.set(0.2)
    yield
    _VERIFY_WINDOW.reset(token)


def _plan(server: MockServer) -> str:
    for mailbox in server.snapshot()["tenants"]["example.com"]["mailboxes"]:
        if mailbox["address"] == "anna@example.com":
            return str(mailbox["plan"])
    raise AssertionError("anna")


def _bodies(server: MockServer) -> list[str]:
    return [w.body.decode() for w in server.writes() if w.body]


async def _landed(server: MockServer, count: int) -> None:
    """Wait until the mock has handled ``count`` writes (the late one included)."""
    while len(server.writes()) < count:
        await asyncio.sleep(0.05)


@pytest.fixture
async def orch(endpoint: str, store_url: str, request: Any) -> AsyncIterator[Orchestrator]:
    settings = getattr(request, "param", {})
    registry = Registry(load=["reference"], disable=[])
    async with Orchestrator.from_dict(
        _config(endpoint, store_url, **settings), registry=registry, journal=Journal(store_url)
    ) as made:
        yield made


def _journal(orch: Orchestrator) -> Journal:
    assert orch.journal is not None
    return orch.journal


@pytest.mark.parametrize("orch", [{"landing_horizon": 60, "fence_wait": 60}], indirect=True)
async def test_a_newer_change_waits_for_a_late_write_then_wins(
    orch: Orchestrator, memory: MockServer, short_read_back: None
) -> None:
    memory.inject(Fault(kind="latency", delay=LATE, operation="change_plan", calls=frozenset({1})))
    with pytest.raises(errors.OutcomeUnknown):  # past the read-back: it may still land
        await orch.set_plan("anna@example.com", "sync")
    [unknown] = _journal(orch).entries(open_only=True)
    assert unknown.outcome == "unknown"

    newer = await orch.set_plan("anna@example.com", "collaborate")
    await _landed(memory, 2)
    # The late write landed first; the newer one was sent after it and holds.
    assert _bodies(memory) == [
        '{"plan":"standard","quota_mb":null}',
        '{"plan":"premium","quota_mb":null}',
    ]
    assert _plan(memory) == "premium"
    assert (newer.outcome, newer.before, newer.after) == ("changed", "sync", "collaborate")
    latest, oldest = _journal(orch).entries()
    assert (oldest.id, oldest.status, oldest.outcome, oldest.resumed_from) == (
        unknown.id,
        "done",
        "changed",
        "unknown",
    )
    assert oldest.state_after == "sync" and "holds its target" in oldest.debug["note"]
    assert (latest.outcome, latest.state_before, latest.after) == ("changed", "sync", "collaborate")
    assert _journal(orch).entries(open_only=True) == []


@pytest.mark.parametrize("orch", [{"landing_horizon": 60, "fence_wait": 0}], indirect=True)
async def test_a_newer_change_is_refused_while_the_fence_holds(
    orch: Orchestrator, memory: MockServer, short_read_back: None
) -> None:
    memory.inject(Fault(kind="latency", delay=LATE, operation="change_plan", calls=frozenset({1})))
    with pytest.raises(errors.OutcomeUnknown):
        await orch.set_plan("anna@example.com", "sync")

    with pytest.raises(errors.ChangeUnsettled) as caught:
        await orch.set_plan("anna@example.com", "collaborate")
    message = str(caught.value)
    assert "still unsettled" in message and "mailadmin journal resume" in message
    assert "Traceback" not in message and "secret" not in message
    await _landed(memory, 1)
    await asyncio.sleep(LATE)  # a newer write, had one been sent, would have landed too
    assert _bodies(memory) == ['{"plan":"standard","quota_mb":null}']  # nothing sent for it
    assert _plan(memory) == "standard"
    refused, unknown = _journal(orch).entries()
    assert (refused.status, refused.outcome, refused.error_code) == (
        "failed",
        "failed",
        "unsettled",
    )
    assert not refused.open and unknown.open and unknown.outcome == "unknown"

    await orch.resume()  # settles the late write from what the platform holds
    assert _journal(orch).entries(open_only=True) == []
    assert _journal(orch).get(unknown.id).outcome == "unchanged"  # type: ignore[union-attr]
    assert len(memory.writes()) == 1  # it was there: nothing resent


async def test_a_cut_off_write_past_its_landing_horizon_is_settled_failed(
    store_url: str,
) -> None:
    memory = MockServer(MemoryMock)
    config = _config("http://memory.test", store_url, landing_horizon=0.3, fence_wait=60)
    registry = Registry(load=["reference"], disable=[])
    async with Orchestrator.from_dict(
        config, registry=registry, http={"eu": memory.router("http://memory.test")}
    ) as orch:
        held = memory.inject(Fault(kind="latency", delay=30, operation="change_plan"))
        task = asyncio.create_task(orch.set_plan("anna@example.com", "sync"))
        while not held.fired:
            await asyncio.sleep(0.01)
        task.cancel()  # as a crash mid-write: the row stays started
        with pytest.raises(asyncio.CancelledError):
            await task
        memory.clear_faults()
        [started] = _journal(orch).entries(open_only=True)
        assert started.status == "started"

        newer = await orch.set_plan("anna@example.com", "collaborate")
        assert _plan(memory) == "premium"
        assert _bodies(memory) == ['{"plan":"premium","quota_mb":null}']
        assert newer.outcome == "changed"
        latest, oldest = _journal(orch).entries()
        assert (oldest.id, oldest.status, oldest.outcome, oldest.resumed_from) == (
            started.id,
            "failed",
            "failed",
            "started",
        )
        assert oldest.state_after == "mail" and "never landed" in oldest.debug["note"]
        assert (latest.outcome, latest.state_before) == ("changed", "mail")
        assert _journal(orch).entries(open_only=True) == []


async def test_another_orchestrator_sharing_the_journal_is_fenced_too(store_url: str) -> None:
    """The fence reads the journal, not this process's locks: a second orchestrator (as a
    second process would) sees the first one's unsettled write and sends nothing."""
    memory = MockServer(MemoryMock)
    registry = Registry(load=["reference"], disable=[])
    http = {"eu": memory.router("http://memory.test")}
    first = Orchestrator.from_dict(
        _config("http://memory.test", store_url), registry=registry, http=http
    )
    async with first:
        held = memory.inject(Fault(kind="latency", delay=30, operation="change_plan"))
        task = asyncio.create_task(first.set_plan("anna@example.com", "sync"))
        while not held.fired:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    memory.clear_faults()
    config = _config("http://memory.test", store_url, landing_horizon=60, fence_wait=0)
    async with Orchestrator.from_dict(config, registry=registry, http=http) as second:
        with pytest.raises(errors.ChangeUnsettled):
            await second.set_plan("anna@example.com", "collaborate")
        assert memory.writes() == [] and _plan(memory) == "basic"
        refused, started = _journal(second).entries()
        assert (started.status, refused.error_code) == ("started", "unsettled")
        await second.resume()  # the first write is sent again: nothing else is in flight
        assert _plan(memory) == "standard"
        assert _journal(second).entries(open_only=True) == []
