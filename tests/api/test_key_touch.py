"""``last_used`` of an API key is written at most once per key per touch interval, not
committed on every request; and the app's layers are pure ASGI (no BaseHTTPMiddleware)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apihelpers import config_text
from starlette.middleware.base import BaseHTTPMiddleware
from test_inprocess import served

from mailadmin.api.app import create_app
from mailadmin.api.keys import TOUCH_INTERVAL, ApiKeys
from mailadmin.api.tables import API_KEYS
from mailadmin.mock.server import MockServer
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.rules.identities import SITE_ADMIN
from mailadmin.store.database import Database

#: A value no request writes: seeing it still there proves nothing was written.
_OLD = datetime(2000, 1, 1, tzinfo=UTC)


def _set_last_used(store: Database, key_id: str, when: datetime) -> None:
    with store.begin() as db:
        db.execute(API_KEYS.update().where(API_KEYS.c.id == key_id).values(last_used=when))


def _last_used(store: Database, key_id: str) -> datetime | None:
    return next(k.last_used for k in ApiKeys(store).list() if k.id == key_id)


def test_touch_writes_once_per_interval_per_key(tmp_path: Path) -> None:
    store = Database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    now = [1000.0]
    keys = ApiKeys(store, touch_interval=60.0, clock=lambda: now[0])
    one, two = keys.create(SITE_ADMIN, "one"), keys.create(SITE_ADMIN, "two")
    assert _last_used(store, one.id) is None

    keys.touch(one.id)
    first = _last_used(store, one.id)
    assert first is not None and first > _OLD

    _set_last_used(store, one.id, _OLD)
    now[0] += 59.0
    assert not keys.touch_due(one.id)
    keys.touch(one.id)
    assert _last_used(store, one.id) == _OLD  # within the interval: nothing written

    keys.touch(two.id)  # another key has its own interval
    assert _last_used(store, two.id) is not None

    now[0] += 1.0
    assert keys.touch_due(one.id)
    keys.touch(one.id)
    again = _last_used(store, one.id)
    assert again is not None and again > _OLD  # the interval passed: written again
    store.close()


def test_a_failed_touch_is_tried_again_by_the_next_request(tmp_path: Path) -> None:
    store = Database(f"sqlite:///{tmp_path / 'keys.sqlite'}")
    keys = ApiKeys(store, clock=lambda: 5.0)
    made = keys.create(SITE_ADMIN)
    with store.begin() as db:
        db.execute(sa.text("DROP TABLE mailadmin_api_keys"))
    with pytest.raises(sa.exc.OperationalError):
        keys.touch(made.id)
    assert keys.touch_due(made.id)
    store.close()


def test_authenticated_requests_note_last_used_once_per_interval(
    mock: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(mock.url, tmp_path))  # type: ignore[attr-defined]
    store = Database(f"sqlite:///{tmp_path / 'mailadmin.sqlite'}")
    with served(lambda: Orchestrator.from_config(config)) as (url, key):
        key_id = key.split("_")[1]
        headers = {"Authorization": f"Bearer {key}"}
        assert _last_used(store, key_id) is None
        assert httpx.get(f"{url}/v1/instances", headers=headers).status_code == 200
        noted = _last_used(store, key_id)
        assert noted is not None and noted > _OLD

        _set_last_used(store, key_id, _OLD)
        for _ in range(5):
            assert httpx.get(f"{url}/v1/instances", headers=headers).status_code == 200
        # The next requests came well within TOUCH_INTERVAL: none wrote last_used.
        assert TOUCH_INTERVAL >= 10
        assert _last_used(store, key_id) == _OLD
    store.close()


def test_the_app_has_no_base_http_middleware() -> None:
    app = create_app(orchestrator=lambda: None)  # type: ignore[arg-type, return-value]
    layers = [m.cls for m in app.user_middleware]
    assert BaseHTTPMiddleware not in layers
    assert all(callable(layer) for layer in layers)
