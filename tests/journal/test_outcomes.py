"""What the journal records for each write, read against the mock's state, on every store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.mock import Fault, MockServer
from mailadmin.orchestration.registry import Registry
from mailadmin.reference.mock import MemoryMock
from mailadmin.store.database import Database
from mailadmin.store.journal import Journal

ENDPOINT = "http://memory.test"


def config(journal_url: str, **instance: Any) -> dict[str, Any]:
    return {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": ENDPOINT,
                "credentials": {"username": "admin", "secret": "secret"},
                "plans": {
                    "mail": {"native": "basic", "quota_mb": 2048},
                    "sync": {"native": "standard", "quota_mb": 5120},
                    "collaborate": {"native": "premium", "quota_mb": 10240},
                },
                **instance,
            }
        },
        "tenants": {"example.com": {"instance": "eu"}},
        "journal": {"url": journal_url},
    }


class Spy(httpx.AsyncBaseTransport):
    """Forwards to the mock; before each request notes what the journal holds then."""

    def __init__(self, inner: httpx.AsyncBaseTransport, journal: Journal) -> None:
        self.inner = inner
        self.journal = journal
        self.seen: list[tuple[str, list[Any]]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        rows = [(e.status, e.target, e.state_before, e.identity) for e in self.journal.entries()]
        self.seen.append((request.method, rows))
        return await self.inner.handle_async_request(request)


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
async def orch(store_url: str, server: MockServer) -> AsyncIterator[Orchestrator]:
    journal = Journal(store_url)
    spy = Spy(server.router(ENDPOINT), journal)
    async with Orchestrator.from_dict(
        config(store_url),
        registry=Registry(load=["reference"], disable=[]),
        journal=journal,
        http={"eu": spy},
    ) as orch:
        orch.spy = spy  # type: ignore[attr-defined]
        yield orch


def plan_of(server: MockServer, address: str) -> str:
    for mailbox in server.snapshot()["tenants"]["example.com"]["mailboxes"]:
        if mailbox["address"] == address:
            return str(mailbox["plan"])
    raise AssertionError(address)


def journal_of(orch: Orchestrator) -> Journal:
    assert orch.journal is not None
    return orch.journal


async def test_the_intent_is_committed_before_the_first_request(orch: Orchestrator) -> None:
    await orch.set_plan("anna@example.com", "sync")
    (read, at_read), (write, at_write) = orch.spy.seen  # type: ignore[attr-defined]
    # Before the read: the intent (target, who); before the write: the state read too.
    assert (read, at_read) == ("GET", [("started", "sync", None, "site-admin")])
    assert (write, at_write) == ("PUT", [("started", "sync", "mail", "site-admin")])
    [entry] = journal_of(orch).entries()
    assert (entry.status, entry.outcome, entry.before, entry.after) == (
        "done",
        "changed",
        "mail",
        "sync",
    )
    assert entry.idempotency_key and entry.finished is not None and not entry.open


async def test_the_schema_is_migrated_to_the_newest_version(store_url: str) -> None:
    journal = Journal(store_url)
    try:
        assert journal.database.current() == Database.head()
    finally:
        journal.close()


async def test_an_applied_write_whose_answer_was_lost_is_reported_changed(
    orch: Orchestrator, server: MockServer
) -> None:
    # The platform applies the change, then the connection drops before the answer.
    server.inject(Fault(kind="drop", operation="change_plan", handled=True))
    result = await orch.set_plan("anna@example.com", "sync")
    assert result.outcome == "changed" and "answer was lost" in result.note
    assert plan_of(server, "anna@example.com") == "standard"
    assert [w.operation for w in server.writes()] == ["change_plan"]  # never resent
    [entry] = journal_of(orch).entries()
    assert (entry.status, entry.outcome, entry.state_after) == ("done", "changed", "sync")


async def test_a_write_that_never_landed_is_failed_after_reading_back(
    orch: Orchestrator, server: MockServer
) -> None:
    server.inject(Fault(kind="drop", operation="change_plan"))  # dropped before the state
    with pytest.raises(errors.Unavailable):
        await orch.set_plan("anna@example.com", "sync")
    assert plan_of(server, "anna@example.com") == "basic"
    assert len(server.writes()) == 1  # not resent blindly: read back instead
    [entry] = journal_of(orch).entries()
    assert (entry.status, entry.outcome, entry.error_code) == ("failed", "failed", "unavailable")
    assert entry.state_after == {"plan": "basic", "quota_mb": 2048}  # what was read back
    assert entry.debug is not None and not entry.open


async def test_resume_completes_a_write_cut_off_in_flight_and_is_safe_twice(
    orch: Orchestrator, server: MockServer
) -> None:
    server.inject(Fault(kind="latency", delay=5, operation="change_plan"))
    task = asyncio.create_task(orch.set_plan("ben@example.com", "collaborate"))
    while not server.requests or server.requests[-1].operation != "get_mailbox":
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    task.cancel()  # as a crash: no end is recorded
    with pytest.raises(asyncio.CancelledError):
        await task
    [open_row] = journal_of(orch).entries(open_only=True)
    assert open_row.status == "started" and open_row.state_before == "sync"
    server.clear_faults()

    first = await orch.resume()
    assert [item.value.outcome for item in first.items if item.value] == ["changed"]
    assert plan_of(server, "ben@example.com") == "premium"
    [entry] = journal_of(orch).entries()
    assert (entry.id, entry.outcome, entry.resumed_from) == (open_row.id, "changed", "started")
    assert entry.resumed is not None
    second = await orch.resume()
    assert second.items == [] and journal_of(orch).entries(open_only=True) == []


async def test_resume_marks_a_write_already_on_the_platform_unchanged(
    orch: Orchestrator, server: MockServer
) -> None:
    server.inject(Fault(kind="latency", delay=5, operation="change_plan"))
    task = asyncio.create_task(orch.set_plan("anna@example.com", "sync"))
    while not any(r.operation == "get_mailbox" for r in server.requests):
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    server.clear_faults()
    # The platform got there anyway (another admin, or the write landed before the crash).
    # Outside this journal: through it, the open row would fence the write (test_fence.py).
    journalled = orch.provider("eu")
    other = type(journalled)(journalled.settings, instance="eu", http=server.router(ENDPOINT))
    async with other:
        await other.set_plan(orch.mailbox("anna@example.com")[1], "sync")
    writes = len(server.writes())
    await orch.resume()
    assert len(server.writes()) == writes  # nothing sent
    entries = [e for e in journal_of(orch).entries() if e.resumed_from]
    assert [(e.outcome, e.resumed_from) for e in entries] == [("unchanged", "started")]


async def test_the_list_filters_by_run_and_identity_and_prune_keeps_open_rows(
    orch: Orchestrator,
) -> None:
    bulk = await orch.set_plans([("anna@example.com", "sync"), ("ben@example.com", "mail")])
    assert bulk.run_id is not None
    await orch.acting_as("customer:example.com").set_plan("carla@example.com", "mail")
    journal = journal_of(orch)
    assert {e.subject for e in journal.entries(run=bulk.run_id)} == {
        "anna@example.com",
        "ben@example.com",
    }
    [mine] = journal.entries(identity="customer:example.com")
    assert mine.subject == "carla@example.com" and mine.run_id is None
    assert journal.get(mine.id) == mine
    assert journal.prune(datetime.now(UTC) - timedelta(days=1)) == 0
    assert journal.prune(datetime.now(UTC) + timedelta(seconds=1)) == 3
    assert journal.entries() == []


WRITER = """
import sys
from mailadmin.contract.provider import CallInfo
from mailadmin.store.journal import Journal

journal = Journal(sys.argv[1])
for number in range(int(sys.argv[3])):
    call = CallInfo("eu", "memory", "set_plan",
                    {"mailbox": {"address": f"{sys.argv[2]}{number}@example.com"}, "plan": "sync"})
    journal.started(call)
    journal.succeeded(call, {"outcome": "changed", "before": "mail", "after": "sync"})
journal.close()
"""


def test_two_processes_writing_one_journal_lose_nothing(store_url: str) -> None:
    Journal(store_url).close()  # migrated once up front, as 'mailadmin store upgrade' would
    count = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, store_url, name, str(count)])
        for name in ("a", "b")
    ]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    journal = Journal(store_url)
    try:
        entries = journal.entries(limit=10_000)
    finally:
        journal.close()
    assert len(entries) == 2 * count
    assert len({e.subject for e in entries}) == 2 * count
    assert {(e.status, e.outcome) for e in entries} == {("done", "changed")}
