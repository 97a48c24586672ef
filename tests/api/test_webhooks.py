"""Webhooks end to end: ``mailadmin serve`` delivers the store's events to a receiver on
loopback, which checks every signature. The receiver first answers 500 (deliveries are
retried), the service is SIGKILLed, and after a restart each event arrives exactly once:
none lost, none invented. The CLI lists, replays and removes."""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from apihelpers import Service, config_text, mailadmin, seed, wait_for_run

from mailadmin.mock.serve import serve
from mailadmin.mock.server import MockServer
from mailadmin.reference.mock.platform import MemoryMock

#: Short waits, so retries and a dead process's claims come round within the test.
EVENTS = """
poll_seconds = 0.1
backoff_seconds = 0.2
max_backoff_seconds = 0.5
hold_seconds = 3.0
max_attempts = 100
"""


class Receiver:
    """A webhook endpoint on loopback: records each delivery, answers ``status``."""

    def __init__(self) -> None:
        self.status = 500
        self.seen: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver.lock:
                    answer = receiver.status
                    receiver.seen.append(
                        {"headers": dict(self.headers), "body": body, "answered": answer}
                    )
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def deliveries(self) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.seen)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signed_by(secret: str, delivery: dict[str, Any]) -> bool:
    """The recipe of docs/operations.md, written out as a receiver would."""
    headers = delivery["headers"]
    stamp = headers["Mailadmin-Timestamp"]
    message = stamp.encode() + b"." + delivery["body"]
    expected = "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(stamp)) < 300
    return fresh and hmac.compare_digest(expected, headers["Mailadmin-Signature"])


def until(check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


@pytest.fixture
def own_mock() -> Iterator[MockServer]:
    server = MockServer(MemoryMock, seed=seed())
    with serve(server) as url:
        server.url = url  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def events_service(own_mock: MockServer, tmp_path: Path) -> Iterator[Service]:
    config = tmp_path / "mailadmin.toml"
    text = config_text(own_mock.url, tmp_path, events=EVENTS)  # type: ignore[attr-defined]
    config.write_text(text)
    running = Service(config)
    running.start()
    yield running
    running.stop()


def _events(store: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(store)
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("SELECT uid, kind FROM mailadmin_events ORDER BY id"))
            return [(str(uid), str(kind)) for uid, kind in rows]
    finally:
        engine.dispose()


def test_each_event_arrives_signed_retried_and_once_across_a_sigkill(
    events_service: Service, own_mock: MockServer, receiver: Receiver
) -> None:
    service = events_service
    with service.client("reseller:acme") as http:
        refused = http.post("/v1/webhooks", json={"url": receiver.url})
    assert refused.status_code == 403
    with service.client("site-admin") as http:
        bad = http.post("/v1/webhooks", json={"url": receiver.url, "events": ["run.nope"]})
        assert bad.status_code == 422
        assert "run.nope" in bad.json()["detail"]
        made = http.post("/v1/webhooks", json={"url": receiver.url, "label": "panel"})
        assert made.status_code == 201, made.text
        hook = made.json()
        secret = hook["secret"]
        assert secret.startswith("whsec_")
        listed = http.get("/v1/webhooks").json()
        assert [h["id"] for h in listed] == [hook["id"]]
        assert "secret" not in listed[0]

        # A run with one item the platform refuses, and a customer suspended.
        items = [
            {"address": "anna@example.com", "plan": "sync"},
            {"address": "nobody@example.com", "plan": "sync"},
        ]
        run = http.post("/v1/runs/plan-changes", json={"items": items}).json()
        finished = wait_for_run(http, run["id"])
        assert finished["progress"]["failed"] == 1
        suspended = http.post("/v1/customers/example.org/suspend")
        assert suspended.status_code == 200, suspended.text
    assert own_mock.snapshot()["tenants"]["example.org"]["status"] == "suspended"

    expected = _events(service.store)
    kinds = sorted(kind for _, kind in expected)
    assert kinds == ["run.finished", "run.item_failed", "tenant.suspended"]

    # Answered 500: each event is sent again (retried), every attempt signed.
    def retried() -> bool:
        tries: dict[str, int] = {}
        for one in receiver.deliveries():
            uid = one["headers"]["Mailadmin-Event-Id"]
            tries[uid] = tries.get(uid, 0) + 1
        return all(tries.get(uid, 0) >= 2 for uid, _ in expected)

    until(retried)
    service.stop(signal.SIGKILL)
    failing = receiver.deliveries()
    assert all(one["answered"] == 500 for one in failing)
    attempts = [int(one["headers"]["Mailadmin-Attempt"]) for one in failing]
    assert max(attempts) >= 2

    receiver.status = 200
    service.start()

    def accepted() -> dict[str, int]:
        counts: dict[str, int] = {}
        for one in receiver.deliveries():
            if one["answered"] == 200:
                uid = one["headers"]["Mailadmin-Event-Id"]
                counts[uid] = counts.get(uid, 0) + 1
        return counts

    until(lambda: set(accepted()) == {uid for uid, _ in expected})
    with service.client("site-admin") as http:
        until(
            lambda: all(
                d["state"] == "delivered"
                for d in http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()
            )
        )
        deliveries = http.get(f"/v1/webhooks/{hook['id']}/deliveries").json()
    assert accepted() == {uid: 1 for uid, _ in expected}
    assert sorted(d["event"] for d in deliveries) == sorted(uid for uid, _ in expected)
    # Nothing invented: the store holds the same events as before the kill.
    assert _events(service.store) == expected
    for one in receiver.deliveries():
        assert signed_by(secret, one), one["headers"]
        document = json.loads(one["body"])
        assert document["id"] == one["headers"]["Mailadmin-Event-Id"]
        assert document["type"] == one["headers"]["Mailadmin-Event-Type"]
    by_kind = {
        json.loads(one["body"])["type"]: json.loads(one["body"])["data"]
        for one in receiver.deliveries()
    }
    assert by_kind["run.finished"]["run_id"] == run["id"]
    assert by_kind["run.item_failed"]["subject"] == "nobody@example.com"
    assert by_kind["tenant.suspended"]["tenant"] == "example.org"
    # A signature with another secret, or an old timestamp, does not verify.
    sample = receiver.deliveries()[0]
    assert not signed_by(secret + "x", sample)

    # The CLI: list, deliveries, replay (sent again, signed), remove.
    config = service.config
    listed_cli = json.loads(mailadmin("--json", "webhooks", "list", config=config))
    assert [h["id"] for h in listed_cli["webhooks"]] == [hook["id"]]
    shown = json.loads(mailadmin("--json", "webhooks", "deliveries", hook["id"], config=config))
    assert {d["state"] for d in shown["deliveries"]} == {"delivered"}
    first = shown["deliveries"][0]
    before = len(receiver.deliveries())
    replayed = json.loads(
        mailadmin("--json", "webhooks", "replay", str(first["id"]), config=config)
    )
    assert replayed["state"] == "pending"
    until(lambda: len(receiver.deliveries()) > before)
    again = receiver.deliveries()[-1]
    assert again["headers"]["Mailadmin-Event-Id"] == first["event"]
    assert signed_by(secret, again)
    removed = json.loads(
        mailadmin("--json", "webhooks", "remove", hook["id"], "--yes", config=config)
    )
    assert removed["removed"] is not None
    assert json.loads(mailadmin("--json", "webhooks", "list", config=config))["webhooks"] == []


def test_cli_adds_a_webhook_and_refuses_a_bad_url(
    events_service: Service, receiver: Receiver
) -> None:
    config = events_service.config
    made = json.loads(
        mailadmin(
            "--json", "webhooks", "add", receiver.url, "--event", "run.finished", config=config
        )
    )
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["run.finished"]
    with events_service.client("site-admin") as http:
        listed = http.get("/v1/webhooks").json()
    assert [h["id"] for h in listed] == [made["id"]]
    assert listed[0]["events"] == ["run.finished"]
    for url in ("ftp://example.invalid/x", "not a url"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "mailadmin.cli",
                "--config",
                str(config),
                "webhooks",
                "add",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert "is not an http:// or https:// URL" in done.stderr
        assert "Traceback" not in done.stderr
