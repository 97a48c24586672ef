"""Resume settles open ``create_mailbox`` and ``delete_mailbox`` rows from the platform's
state, on the reference platform and on OX: the mock's state and the journal agree, and a
second resume does nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import SecretStr

from mailadmin import Orchestrator
from mailadmin.contract.models import NewMailbox
from mailadmin.mock import Fault, MockServer
from mailadmin.orchestration.registry import Registry, get_registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.store.journal import Journal, JournalEntry


@dataclass
class Platform:
    orch: Orchestrator
    server: MockServer
    create_op: str
    delete_op: str
    #: The provider reads a creation or deletion back at once when its answer is lost
    #: (every platform plugin); the reference provider leaves the row to resume.
    reads_back: bool = False

    @property
    def journal(self) -> Journal:
        assert self.orch.journal is not None
        return self.orch.journal

    def addresses(self) -> set[str]:
        """Every mailbox address the mock holds (read from its state)."""
        snapshot = self.server.snapshot()
        if "contexts" in snapshot:
            return {
                str(user["primaryEmail"]).lower()
                for context in snapshot["contexts"]
                for user in context["users"]
            }
        return {m["address"] for m in snapshot["tenants"]["example.com"]["mailboxes"]}

    def sent(self, operation: str) -> int:
        return sum(1 for w in self.server.writes() if w.operation == operation)


def _memory(store_url: str) -> tuple[Orchestrator, MockServer]:
    server = MockServer(MemoryMock)
    config = {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": "http://memory.test",
                "credentials": {"username": "admin", "secret": "secret"},
                "plans": {"mail": {"native": "basic"}, "sync": {"native": "standard"}},
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": store_url},
    }
    registry = Registry(load=["reference"], disable=[])
    orch = Orchestrator.from_dict(
        config, registry=registry, http={"eu": server.router("http://memory.test")}
    )
    return orch, server


def _ox(store_url: str) -> tuple[Orchestrator, MockServer]:
    from mailadmin.cli.demo import CATALOGUE, DemoScenario

    entry = get_registry().providers()["ox"]
    scenario = DemoScenario.model_validate(entry.load_demo()())
    server = MockServer(entry.load_mock(), seed=scenario.seed)
    config = {
        **CATALOGUE,
        "instances": {"ox": {**scenario.instance, "endpoint": "http://ox.test", "retries": 0}},
        "tenants": {name: {**t, "instance": "ox"} for name, t in scenario.tenants.items()},
        "journal": {"url": store_url},
    }
    orch = Orchestrator.from_dict(
        config, registry=get_registry(), http={"ox": server.router("http://ox.test")}
    )
    return orch, server


@pytest.fixture(params=["memory", "ox"])
async def platform(request: Any, store_url: str) -> AsyncIterator[Platform]:
    if request.param == "memory":
        orch, server = _memory(store_url)
        ops = ("create_mailbox", "delete_mailbox")
    else:
        orch, server = _ox(store_url)
        ops = ("createByModuleAccessName", "delete")  # a user created on a plan
    async with orch:
        yield Platform(orch, server, *ops, reads_back=request.param != "memory")


def _new(password: str | None = None) -> NewMailbox:
    secret = SecretStr(password) if password is not None else None
    return NewMailbox(address="new@example.com", display_name="New", plan="mail", password=secret)


async def _cut_off(platform: Platform, call: Awaitable[Any], operation: str) -> JournalEntry:
    """Run ``call`` until its write reaches the platform, then cancel it, as a crash
    would: the write never lands (the fault holds it) and no end is recorded."""
    held = platform.server.inject(Fault(kind="latency", delay=30, operation=operation))
    task = asyncio.ensure_future(call)
    while not held.fired:  # the write is at the platform, held before its state
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    platform.server.clear_faults()
    [row] = platform.journal.entries(open_only=True)
    assert row.status == "started"
    return row


async def _resumed_twice(platform: Platform) -> tuple[Any, JournalEntry]:
    first = await platform.orch.resume()
    [item] = first.items
    second = await platform.orch.resume()
    assert second.items == [] and platform.journal.entries(open_only=True) == []
    [entry] = platform.journal.entries()
    return item, entry


async def test_a_create_that_landed_with_its_answer_lost_is_completed(platform: Platform) -> None:
    platform.server.inject(Fault(kind="drop", operation=platform.create_op, handled=True))
    if platform.reads_back:
        await _read_back_at_once(
            platform, platform.orch.create_mailbox("example.com", _new("Secret-123"))
        )
        assert "new@example.com" in platform.addresses()
        assert platform.sent(platform.create_op) == 1  # never created twice
        return
    with pytest.raises(Exception):  # noqa: B017 - only the journal row matters here
        await platform.orch.create_mailbox("example.com", _new("Secret-123"))
    [row] = platform.journal.entries(open_only=True)
    assert (row.status, row.outcome) == ("failed", "unknown")
    assert "new@example.com" in platform.addresses()
    platform.server.clear_faults()

    item, entry = await _resumed_twice(platform)
    assert item.value is not None and item.value.outcome == "changed"
    assert (entry.id, entry.status, entry.outcome, entry.resumed_from) == (
        row.id,
        "done",
        "changed",
        "unknown",
    )
    assert entry.state_after["address"] == "new@example.com"  # the mailbox read
    assert platform.sent(platform.create_op) == 1  # never created twice


async def _read_back_at_once(platform: Platform, write: Any) -> None:
    """The write whose answer was lost is read back by the provider: the platform holds
    it, so it is ``changed`` and its row settled, with nothing left for resume."""
    result = await write
    platform.server.clear_faults()
    assert result.outcome.value == "changed"
    assert "read back" in result.note
    assert platform.journal.entries(open_only=True) == []
    assert (await platform.orch.resume()).items == []


async def test_a_create_cut_off_without_a_password_is_sent_again(platform: Platform) -> None:
    row = await _cut_off(
        platform, platform.orch.create_mailbox("example.com", _new()), platform.create_op
    )
    assert "new@example.com" not in platform.addresses()

    item, entry = await _resumed_twice(platform)
    assert item.value is not None and item.value.outcome == "changed"
    assert "new@example.com" in platform.addresses()
    assert (entry.id, entry.outcome, entry.resumed_from) == (row.id, "changed", "started")


async def test_a_create_cut_off_with_a_password_fails_saying_it_was_not_created(
    platform: Platform,
) -> None:
    row = await _cut_off(
        platform,
        platform.orch.create_mailbox("example.com", _new("Secret-123")),
        platform.create_op,
    )
    assert row.arguments["mailbox"]["password"] != "Secret-123"  # never stored
    sent = platform.sent(platform.create_op)

    item, entry = await _resumed_twice(platform)
    assert item.error is not None and "was not created" in item.error.message
    assert "password" in item.error.message and "Secret-123" not in item.error.message
    assert "new@example.com" not in platform.addresses()
    assert platform.sent(platform.create_op) == sent  # nothing invented, nothing sent
    assert (entry.id, entry.status, entry.outcome, entry.resumed_from) == (
        row.id,
        "failed",
        "failed",
        "started",
    )
    assert entry.error_message is not None and "was not created" in entry.error_message


async def test_a_delete_that_landed_with_its_answer_lost_is_completed(platform: Platform) -> None:
    assert "ben@example.com" in platform.addresses()
    platform.server.inject(Fault(kind="drop", operation=platform.delete_op, handled=True))
    if platform.reads_back:
        await _read_back_at_once(platform, platform.orch.delete_mailbox("ben@example.com"))
        assert "ben@example.com" not in platform.addresses()
        assert platform.sent(platform.delete_op) == 1
        return
    with pytest.raises(Exception):  # noqa: B017 - only the journal row matters here
        await platform.orch.delete_mailbox("ben@example.com")
    [row] = platform.journal.entries(open_only=True)
    assert (row.status, row.outcome) == ("failed", "unknown")
    platform.server.clear_faults()

    item, entry = await _resumed_twice(platform)
    assert item.value is not None and item.value.outcome == "changed"
    assert "ben@example.com" not in platform.addresses()
    assert platform.sent(platform.delete_op) == 1
    assert (entry.id, entry.outcome, entry.resumed_from) == (row.id, "changed", "unknown")
    assert entry.state_before["address"] == "ben@example.com"


async def test_a_delete_cut_off_before_it_landed_is_sent_again(platform: Platform) -> None:
    row = await _cut_off(
        platform, platform.orch.delete_mailbox("ben@example.com"), platform.delete_op
    )
    assert "ben@example.com" in platform.addresses()

    item, entry = await _resumed_twice(platform)
    assert item.value is not None and item.value.outcome == "changed"
    assert "ben@example.com" not in platform.addresses()
    assert (entry.id, entry.outcome, entry.resumed_from) == (row.id, "changed", "started")
