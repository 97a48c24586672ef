"""The outbox in the store: an event commits or rolls back with the change that caused
it, deliveries are made once per endpoint and event, claimed by one process at a time,
and journal rows left open too long are noted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailadmin.errors import NotFoundError, ValidationError
from mailadmin.orchestration.events import Webhooks, sign, verify
from mailadmin.store import events as store
from mailadmin.store.database import Database
from mailadmin.store.schema import journal


@pytest.fixture
def database() -> Database:
    return Database("sqlite://")


def test_an_event_rolls_back_with_its_change(database: Database) -> None:
    with pytest.raises(RuntimeError), database.begin() as db:
        store.emit(db, "tenant.suspended", {"tenant": "example.com"})
        raise RuntimeError("the change failed")
    assert store.list_events(database) == []
    with database.begin() as db:
        store.emit(db, "tenant.suspended", {"tenant": "example.com"})
    (event,) = store.list_events(database)
    assert event.kind == "tenant.suspended" and event.uid.startswith("evt_")


def test_deliveries_are_made_once_and_claimed_by_one_process(database: Database) -> None:
    hooks = Webhooks(database)
    with database.begin() as db:
        store.emit(db, "run.finished", {"run_id": "before"})  # before the endpoint: not sent
    every, _ = hooks.add("http://127.0.0.1:9/all")
    some, _ = hooks.add("http://127.0.0.1:9/some", ("tenant.resumed",))
    with database.begin() as db:
        store.emit(db, "run.finished", {"run_id": "r1"})
        store.emit(db, "tenant.resumed", {"tenant": "t"})
    assert store.fan_out(database) == 3
    assert store.fan_out(database) == 0  # the cursors moved: nothing twice
    first = store.claim_due(database, limit=10, hold=60)
    assert sorted(d.event.kind for d in first) == [
        "run.finished",
        "tenant.resumed",
        "tenant.resumed",
    ]
    assert store.claim_due(database, limit=10, hold=60) == []  # held by the first claim
    due = first[0]
    assert store.settle(database, due.id, status=500, error="answered HTTP 500", retry_in=0) == (
        "pending"
    )
    (again,) = store.claim_due(database, limit=10, hold=60)
    assert again.id == due.id and again.attempts == 2
    assert store.settle(database, due.id, status=200, error=None, retry_in=None) == "delivered"
    assert {d.state for d in hooks.deliveries(some.id)} == {"pending"}
    removed = hooks.remove(some.id)
    assert removed.removed is not None
    assert {d.state for d in hooks.deliveries(some.id)} == {"failed"}
    with pytest.raises(NotFoundError):
        hooks.replay(hooks.deliveries(some.id)[0].id)  # its endpoint is gone
    replayed = hooks.replay(due.id, every.id)
    assert (replayed.state, replayed.attempts) == ("pending", 0)
    with pytest.raises(ValidationError):
        hooks.add("file:///etc/passwd")


def test_journal_rows_open_too_long_are_noted_once(database: Database) -> None:
    old = datetime.now(UTC) - timedelta(hours=2)
    row = {
        "call_id": "c1",
        "instance": "ox",
        "operation": "set_plan",
        "subject": "anna@example.com",
        "arguments": "{}",
        "dry_run": False,
    }
    with database.begin() as db:
        db.execute(journal.insert(), [row | {"at": old, "status": "started"}])
        db.execute(journal.insert(), [row | {"call_id": "c2", "at": old, "status": "done"}])
        db.execute(
            journal.insert(),
            [row | {"call_id": "c3", "at": datetime.now(UTC), "status": "started"}],
        )
    assert store.sweep_open_rows(database, timedelta(hours=1)) == 1
    assert store.sweep_open_rows(database, timedelta(hours=1)) == 0
    (event,) = store.list_events(database)
    assert (event.kind, event.data["call_id"]) == ("journal.open_row", "c1")
    with database.connect() as db:
        assert db.execute(sa.text("SELECT count(*) FROM mailadmin_events")).scalar() == 1


def test_signatures_verify_only_with_the_secret_and_a_fresh_timestamp() -> None:
    body = b'{"id":"evt_1"}'
    now = 1_800_000_000
    header = sign("whsec_a", now, body)
    assert verify("whsec_a", str(now), header, body, now=now + 10)
    assert not verify("whsec_b", str(now), header, body, now=now)
    assert not verify("whsec_a", str(now), header, body + b" ", now=now)
    assert not verify("whsec_a", str(now), header, body, now=now + 301)
    assert not verify("whsec_a", "soon", header, body, now=now)
