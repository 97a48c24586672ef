"""The service served by uvicorn in a thread, for faults a subprocess cannot be given:
an unexpected exception in a route, a configuration with no instance."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from apihelpers import config_text

from mailadmin.api.app import create_app
from mailadmin.api.keys import ApiKeys
from mailadmin.mock.server import MockServer
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.rules.identities import SITE_ADMIN


@contextmanager
def served(make: Callable[[], Orchestrator]) -> Iterator[tuple[str, str]]:
    """Serve the API over ``make()``; yield its URL and a site-admin key."""
    holder: dict[str, Orchestrator] = {}

    def factory() -> Orchestrator:
        holder["orch"] = make()
        return holder["orch"]

    app = create_app(orchestrator=factory)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        key = ApiKeys(holder["orch"].rules.store).create(SITE_ADMIN).key
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", key
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_an_unexpected_failure_is_a_500_problem_without_detail(
    mock: MockServer, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(mock.url, tmp_path))  # type: ignore[attr-defined]

    def broken() -> Orchestrator:
        orch = Orchestrator.from_config(config)

        async def fail(tenant: str) -> None:
            raise RuntimeError("password=hunter2 in /srv/secret.py line 3")

        orch.list_mailboxes = fail  # type: ignore[assignment, method-assign]
        return orch

    with served(broken) as (url, key):
        answer = httpx.get(
            f"{url}/v1/customers/example.com/mailboxes",
            headers={"Authorization": f"Bearer {key}", "X-Request-Id": "boom-1"},
        )
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["X-Request-Id"] == "boom-1"
    problem = answer.json()
    assert problem["code"] == "internal" and problem["request_id"] == "boom-1"
    assert "hunter2" not in answer.text and "Traceback" not in answer.text
    assert "RuntimeError" not in answer.text


def test_not_ready_without_instances(tmp_path: Path) -> None:
    def empty() -> Orchestrator:
        return Orchestrator.from_dict(
            {"instances": {}, "journal": {"url": f"sqlite:///{tmp_path / 'm.sqlite'}"}}
        )

    with served(empty) as (url, _key):
        ready = httpx.get(f"{url}/readyz")
        alive = httpx.get(f"{url}/healthz")
    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "not ready",
        "checks": {"store": "ok", "instances": "none configured"},
    }


def test_every_typed_error_has_its_own_status() -> None:
    """A typed error never falls through to the 500 kept for unexpected failures."""
    from mailadmin import errors
    from mailadmin.api.problems import status_of

    def subclasses(cls: type) -> list[type]:
        found = []
        for sub in cls.__subclasses__():
            found += [sub, *subclasses(sub)]
        return found

    typed = [c for c in subclasses(errors.MailadminError) if c.__module__ == errors.__name__]
    assert {c.code for c in typed} >= {"partial", "unknown", "unsettled"}
    for cls in typed:
        error = cls.__new__(cls)
        assert status_of(error) != 500, cls.code
    assert status_of(errors.ChangeUnsettled.__new__(errors.ChangeUnsettled)) == 409
