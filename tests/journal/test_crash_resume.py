"""Done when: the CLI is SIGKILLed in the middle of a 1,000-mailbox bulk plan change against
a standalone mock; ``mailadmin journal resume`` finishes the run; the mock's state and the
journal agree that every mailbox is on its target plan, once, with no row left open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from mailadmin.store.journal import Journal

MAILBOXES = 1000

CONFIG = """
[plans.mail]
rank = 1
[plans.sync]
rank = 2

[instances.eu]
provider = "memory"
endpoint = "{endpoint}"
credentials = {{ username = "admin", secret = "secret" }}
plans.mail = {{ native = "basic", quota_mb = 2048 }}
plans.sync = {{ native = "standard", quota_mb = 5120 }}

[tenants."example.com"]
instance = "eu"

[journal]
url = "{journal}"
"""


def _env() -> dict[str, str]:
    return {**os.environ, "MAILADMIN_LOAD_PLUGINS": "reference"}


@pytest.fixture
def mock(tmp_path: Path) -> Iterator[str]:
    """``mailadmin mock serve memory`` in its own process, seeded with 1,000 mailboxes."""
    seed = {
        "licence": {"seats": 5000},
        "tenants": {
            "example.com": {
                "allocations": {},
                "mailboxes": [
                    {"address": f"user{n:04d}@example.com", "plan": "basic", "quota_mb": 2048}
                    for n in range(MAILBOXES)
                ],
            }
        },
    }
    path = tmp_path / "seed.json"
    path.write_text(json.dumps(seed))
    command = [sys.executable, "-m", "mailadmin.cli", "mock", "serve", "memory"]
    process = subprocess.Popen(
        [*command, "--seed", str(path)], stdout=subprocess.PIPE, text=True, env=_env()
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("listening on "), line
        yield line.removeprefix("listening on ")
    finally:
        process.terminate()
        process.wait(timeout=10)


def _done_rows(url: str) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            found = db.execute(
                sa.text("SELECT count(*) FROM mailadmin_journal WHERE status <> 'started'")
            ).scalar()
    except sa.exc.OperationalError:
        return 0  # not migrated yet
    except sa.exc.ProgrammingError:
        return 0
    finally:
        engine.dispose()
    return int(found or 0)


def test_a_killed_bulk_run_is_finished_by_resume(tmp_path: Path, mock: str, store_url: str) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(CONFIG.format(endpoint=mock, journal=store_url))
    changes = tmp_path / "changes.csv"
    addresses = [f"user{n:04d}@example.com" for n in range(MAILBOXES)]
    changes.write_text("address,plan\n" + "".join(f"{a},sync\n" for a in addresses))
    # Each plan change takes a little while on the platform, so the kill lands mid-flight.
    httpx.post(f"{mock}/_mock/faults", json={"kind": "latency", "delay": 0.01}).raise_for_status()

    cli = [sys.executable, "-m", "mailadmin.cli", "--config", str(config)]
    run = subprocess.Popen(
        [*cli, "set-plan", "--file", str(changes), "--concurrency", "32"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    deadline = time.monotonic() + 60
    while _done_rows(store_url) < 150:
        assert run.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=10)

    journal = Journal(store_url)
    try:
        [run_id] = {e.run_id for e in journal.entries(limit=10_000)}
        assert run_id is not None
        killed_at = journal.entries(limit=10_000, run=run_id)
        assert 150 <= len(killed_at) < MAILBOXES  # the kill came in the middle
        httpx.delete(f"{mock}/_mock/faults").raise_for_status()

        resumed = subprocess.run(
            [*cli, "--json", "journal", "resume", "--concurrency", "32"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
        )
        assert resumed.returncode == 0, resumed.stderr
        report = json.loads(resumed.stdout)
        assert report["failed"] == 0
        assert len(report["items"]) == MAILBOXES - len([e for e in killed_at if not e.open])

        # The platform: every mailbox on the target plan.
        state = httpx.get(f"{mock}/_mock/state").json()
        plans = Counter(m["plan"] for m in state["tenants"]["example.com"]["mailboxes"])
        assert plans == Counter({"standard": MAILBOXES})

        # The journal: every item once, each settled, none open; the run is finished.
        entries = journal.entries(limit=10_000, run=run_id)
        assert sorted(e.subject for e in entries) == addresses
        assert all(not e.open and e.outcome in ("changed", "unchanged") for e in entries)
        assert journal.entries(limit=10_000, open_only=True) == []
        assert journal.unfinished_runs() == []
        resumed_rows = [e for e in entries if e.resumed_from]
        assert {e.resumed_from for e in resumed_rows} <= {"started", "unknown", "partial"}
    finally:
        journal.close()

    again = subprocess.run(
        [*cli, "journal", "resume"], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert again.returncode == 0 and "nothing to resume" in again.stdout
