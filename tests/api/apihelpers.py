"""The HTTP API on loopback: ``mailadmin serve`` in a subprocess, a memory mock in-process.

The mock runs in the test process (a thread), so tests read its state and every request
it received; the service is the real command, so each test goes through real HTTP.
Tenancy: reseller acme owns example.com, reseller globex owns example.net, example.org
is the host's own customer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock

PLANS = {"mail": "basic", "sync": "standard", "collaborate": "premium"}
TENANTS = ("example.com", "example.net", "example.org")


def seed() -> dict[str, Any]:
    def tenant(domain: str) -> dict[str, Any]:
        return {
            "allocations": {"user_seats": 100, "shared_mailboxes": 5, "resource_mailboxes": 5},
            "mailboxes": [
                {"address": f"anna@{domain}", "kind": "user", "plan": "basic", "quota_mb": 2048},
                {"address": f"ben@{domain}", "kind": "user", "plan": "standard", "quota_mb": 5120},
                {"address": f"info@{domain}", "kind": "shared", "quota_mb": 2048},
            ],
        }

    return {
        "tenants": {domain: tenant(domain) for domain in TENANTS},
        "licence": {"seats": 200, "state": "active"},
    }


#: The shared service's limits: its tests send wrong keys on purpose (schemathesis checks
#: every operation refuses them), so the throttle is set high; tests/api/test_admission.py
#: tests the throttle at its own limits.
SUITE_LIMITS = "auth_failures = 100000"


#: Webhook deliveries off: the property-based run registers endpoints with made-up
#: URLs, which must never be called (tests/api/test_webhooks.py turns them on).
NO_DELIVERIES = "deliver = false"


def config_text(
    mock_url: str,
    folder: Path,
    store: str | None = None,
    api: str = SUITE_LIMITS,
    events: str = NO_DELIVERIES,
) -> str:
    """The service's configuration; ``store``: the database URL (default: SQLite in
    ``folder``); ``api``: the body of its ``[api]`` table; ``events``: of ``[events]``."""
    plans = "\n".join(
        f'plans.{neutral} = {{ native = "{native}", quota_mb = {quota} }}'
        for (neutral, native), quota in zip(PLANS.items(), (2048, 5120, 10240), strict=True)
    )
    tenants = "\n".join(f'[tenants."{t}"]\ninstance = "mem"\ndomains = ["{t}"]\n' for t in TENANTS)
    return f"""
[journal]
url = "{store or sqlite_url(folder)}"

[api]
{api}

[events]
{events}

[plans.mail]
rank = 1
[plans.sync]
rank = 2
[plans.collaborate]
rank = 3

[addons.mailboxes]
unit = "seats"
[addons.shared_mailbox]
[addons.resource_mailbox]
[addons.storage_gb]

[instances.mem]
provider = "memory"
endpoint = "{mock_url}"
credentials = {{ username = "admin", secret = "secret" }}
{plans}

{tenants}
[resellers.acme]
package = {{ user_mailboxes = 500, shared_mailboxes = 50 }}
[resellers.globex]
package = {{ user_mailboxes = 500, shared_mailboxes = 50 }}

[customers."example.com"]
reseller = "acme"
package = {{ user_mailboxes = 50, shared_mailboxes = 5 }}
[customers."example.net"]
reseller = "globex"
package = {{ user_mailboxes = 50, shared_mailboxes = 5 }}
"""


def sqlite_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'mailadmin.sqlite'}"


def mailadmin(*args: str, config: Path | None = None, check: bool = True) -> str:
    """Run the ``mailadmin`` command; returns stdout."""
    command = [sys.executable, "-m", "mailadmin.cli"]
    if config is not None:
        command += ["--config", str(config)]
    done = subprocess.run(command + list(args), capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        raise AssertionError(f"mailadmin {' '.join(args)}: {done.returncode}\n{done.stderr}")
    return done.stdout


class Service:
    """``mailadmin serve`` on a free loopback port, started and stopped by tests."""

    def __init__(self, config: Path, extra: tuple[str, ...] = (), store: str | None = None) -> None:
        self.config = config
        #: The database URL of the service's store (journal, keys, runs).
        self.store = store or sqlite_url(config.parent)
        self.extra = extra
        self.log = config.with_name("serve.log")
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self._keys: dict[str, str] = {}

    def start(self) -> None:
        command = [sys.executable, "-m", "mailadmin.cli", "--config", str(self.config)]
        command += ["serve", "--port", "0", *self.extra]
        log = self.log.open("a")
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ)
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, self.log.read_text())
        self.url = line.removeprefix("listening on ")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=20)
        self.process = None

    def key(self, identity: str) -> str:
        """An API key for ``identity``, made once, straight in the service's store
        (``test_keys.py`` tests ``mailadmin keys`` itself)."""
        if identity not in self._keys:
            from mailadmin.api.keys import ApiKeys
            from mailadmin.rules.identities import Identity
            from mailadmin.store.database import Database

            store = Database(self.store)
            try:
                made = ApiKeys(store).create(Identity.parse(identity), "test")
            finally:
                store.close()
            self._keys[identity] = made.key
        return self._keys[identity]

    def client(self, identity: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key(identity)}"} if identity else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


@pytest.fixture(scope="session")
def mock() -> Iterator[MockServer]:
    server = MockServer(MemoryMock, seed=seed())
    with serve(server) as url:
        server.url = url  # type: ignore[attr-defined]
        yield server


def _start(mock: MockServer, folder: Path, store: str | None) -> Service:
    config = folder / "mailadmin.toml"
    config.write_text(config_text(mock.url, folder, store))  # type: ignore[attr-defined]
    running = Service(config, store=store)
    running.start()
    return running


@pytest.fixture(scope="session")
def service(mock: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The service on SQLite, shared by the tests of a session."""
    running = _start(mock, tmp_path_factory.mktemp("api"), None)
    yield running
    running.stop()


@pytest.fixture(scope="session")
def pg_service(
    mock: MockServer, tmp_path_factory: pytest.TempPathFactory, postgres_server: str
) -> Iterator[Service]:
    """The service on PostgreSQL (a schema of its own, dropped afterwards)."""
    with postgres_schema(postgres_server) as url:
        running = _start(mock, tmp_path_factory.mktemp("api-pg"), url)
        yield running
        running.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_service(request: pytest.FixtureRequest) -> Service:
    """The service on each supported store in turn."""
    name = "service" if request.param == "sqlite" else "pg_service"
    running: Service = request.getfixturevalue(name)
    return running


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database URL of each supported kind."""
    yield from _store_url(request, tmp_path)


@pytest.fixture
def fresh(mock: MockServer) -> MockServer:
    """The mock back at its seed, with no request recorded."""
    mock.reset()
    return mock


def plan_of(mock: MockServer, address: str) -> str | None:
    domain = address.split("@", 1)[1]
    for box in mock.snapshot()["tenants"][domain]["mailboxes"]:
        if box["address"] == address:
            return str(box["plan"]) if box.get("plan") else None
    return None


def wait_for_run(client: httpx.Client, run_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = client.get(f"/v1/runs/{run_id}")
        assert found.status_code == 200, found.text
        body: dict[str, Any] = found.json()
        if body["state"] in ("succeeded", "failed"):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


# -- PostgreSQL (the server lookup, skip and CI rule of tests/rules/conftest.py) ---------------


@contextmanager
def postgres_schema(server: str) -> Iterator[str]:
    """A URL whose search path is a fresh schema of ``server``, dropped afterwards."""
    schema = f"mailadmin_api_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server)
    with admin.begin() as db:
        db.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in server else "?"
    try:
        yield f"{server}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.begin() as db:
            db.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    server = request.getfixturevalue("postgres_server")
    with postgres_schema(server) as url:
        yield url
