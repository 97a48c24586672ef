"""Issue 29.8, a single write: ``mailadmin serve`` is SIGKILLed while a plan change sent
with an ``Idempotency-Key`` is in flight (the platform holds the write on a latency fault).
The next start settles the dead process's claim: a repeat with the same key gets a final
answer, not ``409 idempotency_in_progress`` for five minutes, and the platform took the
change exactly once."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("procrastinate")
sys.path.insert(0, str(Path(__file__).parent.parent / "worker"))
from test_distributed import Mock, address, cli, write_config

#: How long the platform holds the write: long enough to kill the service mid-write.
HOLD = 4.0


class Serve:
    """``mailadmin serve`` on a free loopback port, in its own process."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailadmin", "--config", str(config), "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, self._err())
        self.url = line.removeprefix("listening on ")

    def _err(self) -> str:
        if self.process.poll() is None:
            return ""
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _sent(store: Path, subject: str) -> bool:
    """Whether the journal stamped the write of ``subject`` as sent."""
    with sqlite3.connect(store) as db:
        try:
            row = db.execute(
                "SELECT count(*) FROM mailadmin_journal WHERE subject = ? AND sent IS NOT NULL",
                (subject,),
            ).fetchone()
        except sqlite3.OperationalError:
            return False  # not created yet
    return bool(row and row[0])


def _plan_writes(mock: Mock, subject: str) -> list[dict[str, Any]]:
    return [w for w in mock.writes() if subject in str(w.get("path", "")) + str(w.get("body", ""))]


def test_a_key_in_flight_when_serve_is_killed_gets_a_final_answer_after_restart(
    tmp_path: Path,
) -> None:
    mock = Mock(tmp_path, 4)
    store = tmp_path / "journal.sqlite"
    config = write_config(tmp_path, f"sqlite:///{store}", mock.url)
    made = cli(config, "keys", "create", "--identity", "site-admin")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip().splitlines()[-1]
    subject = address(0)
    headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "plan-of-u0"}
    body = {"plan": "collaborate"}
    first: Serve | None = None
    second: Serve | None = None
    try:
        mock.fault({"kind": "latency", "operation": "change_plan", "delay": HOLD})
        first = Serve(config)
        url = f"{first.url}/v1/mailboxes/{subject}/plan"

        def put() -> None:
            # The answer never comes: the service dies under it.
            with contextlib.suppress(httpx.HTTPError):
                httpx.put(url, json=body, headers=headers, timeout=30)

        request = threading.Thread(target=put, daemon=True)
        request.start()
        deadline = time.monotonic() + 30
        while not _sent(store, subject):
            assert time.monotonic() < deadline, "the write was never sent"
            time.sleep(0.05)
        first.kill()  # mid-write: the claim is pending, the journal row open
        request.join(timeout=30)
        time.sleep(HOLD)  # the platform finishes the write it was holding
        second = Serve(config)
        again = httpx.put(
            f"{second.url}/v1/mailboxes/{subject}/plan", json=body, headers=headers, timeout=60
        )
        replay = httpx.put(
            f"{second.url}/v1/mailboxes/{subject}/plan", json=body, headers=headers, timeout=60
        )
        state = mock.state()
        writes = _plan_writes(mock, subject)
    finally:
        for serve in (first, second):
            if serve is not None:
                serve.stop()
        mock.stop()
    assert again.status_code != 409, again.text
    assert again.status_code == 200, again.text
    assert again.json()["after"] == "collaborate"
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.status_code == again.status_code
    assert state[subject] == "premium"
    assert len(writes) == 1, writes  # the platform took the change once
