"""The idempotency store's rules that take time to show over HTTP: stale claims, expiry.
Each runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from mailadmin.api.idempotency import STALE_CLAIM, IdempotencyStore, Stored, fingerprint
from mailadmin.api.tables import IDEMPOTENCY
from mailadmin.store.database import Database


@pytest.fixture
def database(store_url: str) -> Iterator[Database]:
    found = Database(store_url)
    yield found
    found.close()


def _store(database: Database, retention: timedelta = timedelta(hours=1)) -> IdempotencyStore:
    return IdempotencyStore(database, retention)


def test_same_request_same_fingerprint_whatever_the_json_layout() -> None:
    one = fingerprint("PUT", "/v1/x", "b=2&a=1", b'{"plan": "sync", "n": 1}')
    two = fingerprint("put", "/v1/x", "a=1&b=2", b'{"n":1,"plan":"sync"}')
    assert one == two
    assert one != fingerprint("PUT", "/v1/x", "a=1&b=2&dry_run=true", b'{"n":1,"plan":"sync"}')


def test_claim_replay_mismatch_and_running(database: Database) -> None:
    store = _store(database)
    assert store.claim("k1", "a", "p1").state == "new"
    assert store.claim("k1", "a", "p1").state == "running"
    assert store.claim("k1", "a", "p2").state == "mismatch"
    assert store.claim("k2", "a", "p2").state == "new"  # per API key
    store.complete("k1", "a", Stored(201, b'{"ok":true}', {"location": "/v1/runs/1"}))
    replay = store.claim("k1", "a", "p1")
    assert replay.state == "stored" and replay.stored is not None
    assert replay.stored.status == 201 and replay.stored.headers == {"location": "/v1/runs/1"}
    store.release("k2", "a")
    assert store.claim("k2", "a", "p3").state == "new"


def test_a_claim_left_by_a_dead_service_is_taken_over_once_stale(database: Database) -> None:
    store = _store(database)
    assert store.claim("k", "a", "p").state == "new"
    old = datetime.now(UTC) - STALE_CLAIM - timedelta(seconds=1)
    with store._store.begin() as db:  # the service died long ago, mid-request
        db.execute(sa.update(IDEMPOTENCY).values(created=old))
    assert store.claim("k", "a", "p").state == "new"
    assert store.claim("k", "a", "p").state == "running"


def test_answers_expire_after_the_retention(database: Database) -> None:
    store = _store(database, timedelta(seconds=30))
    store.claim("k", "a", "p")
    store.complete("k", "a", Stored(200, b"{}", {}))
    with store._store.begin() as db:
        db.execute(sa.update(IDEMPOTENCY).values(created=datetime.now(UTC) - timedelta(minutes=1)))
    assert store.claim("k", "a", "other").state == "new"
    assert store.count() == 1
