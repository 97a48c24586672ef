"""A hostile answer to a write through the faces: the platform (Zextras' mock, in its own
process) answers a mailbox creation with another operation's answer. The CLI exits 4 and
the HTTP API answers 502 ``unknown``, never ``changed``; the journal's row says
``unknown`` on both, the provider read the platform back before saying so, and the mock
holds no such mailbox. Counted on the ``hostile:`` summary line."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("mailadmin_zextras")
pytest.importorskip("fastapi")

sys.path.insert(0, str(Path(__file__).parent))
from test_hostile_writes import _zextras_answer

ADDRESS = "newbie@example.com"
_MAILADMIN = (sys.executable, "-m", "mailadmin")


class ZextrasMock:
    """``mailadmin mock serve zextras`` in its own process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mailadmin", "mock", "serve", "zextras"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), line
        self.url = line.removeprefix("listening on ")

    def hostile(self) -> None:
        fault = _zextras_answer("other_operation", "CreateAccountRequest")
        payload = json.loads(fault.model_dump_json(exclude_none=True))
        httpx.post(f"{self.url}/_mock/faults", json=payload, timeout=10).raise_for_status()

    def clear(self) -> None:
        httpx.delete(f"{self.url}/_mock/faults", timeout=10).raise_for_status()

    def holds(self, address: str) -> bool:
        """Whether the mock's own state has the account."""
        state = httpx.get(f"{self.url}/_mock/state", timeout=10).json()
        return address in json.dumps(state)

    def read_back(self) -> bool:
        """Whether the account was looked up after the (hostile) creation."""
        seen = httpx.get(f"{self.url}/_mock/requests", timeout=10).json()
        operations = [r["operation"] for r in seen]
        if "CreateAccountRequest" not in operations:
            return False
        after = operations[operations.index("CreateAccountRequest") + 1 :]
        return "GetAccountRequest" in after

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _config(folder: Path, endpoint: str) -> Path:
    from mailadmin_zextras.demo import sample_config

    from mailadmin.cli.api import write_toml

    config = sample_config()
    instance = {**config["instances"]["zextras"], "endpoint": endpoint, "retries": 0}
    data = {
        "instances": {"zextras": instance},
        "tenants": config["tenants"],
        "journal": {"url": f"sqlite:///{folder / 'journal.sqlite'}"},
    }
    path = folder / "mailadmin.toml"
    write_toml(path, data)
    return path


def _rows(folder: Path, operation: str) -> list[tuple[str, str | None]]:
    with sqlite3.connect(folder / "journal.sqlite") as db:
        return list(
            db.execute(
                "SELECT status, outcome FROM mailadmin_journal WHERE operation = ? "
                "AND subject = ? AND NOT dry_run ORDER BY id",
                (operation, ADDRESS),
            ).fetchall()
        )


@pytest.fixture
def zextras() -> Any:
    mock = ZextrasMock()
    yield mock
    mock.stop()


def test_the_cli_reports_a_hostile_write_answer_unknown(
    zextras: ZextrasMock, tmp_path: Path, hostile_tally: Any
) -> None:
    config = _config(tmp_path, zextras.url)
    zextras.hostile()
    done = subprocess.run(
        [*_MAILADMIN, "--config", str(config), "mailbox", "create", ADDRESS, "--plan", "mail"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    zextras.clear()
    rows = _rows(tmp_path, "create_mailbox")
    held, read_back = zextras.holds(ADDRESS), zextras.read_back()
    hostile_tally.write_answers += 1
    if done.returncode == 4 and rows[-1][1] == "unknown" and not held:
        hostile_tally.write_answers_kept += 1
    assert done.returncode == 4, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert rows and rows[-1][1] == "unknown", rows  # an open row: resume reads it back
    assert not held
    assert read_back, "the unknown answer was not read back"


async def test_the_http_api_reports_a_hostile_write_answer_unknown(
    zextras: ZextrasMock, tmp_path: Path, hostile_tally: Any
) -> None:
    from mailadmin.api.app import create_app
    from mailadmin.api.keys import ApiKeys
    from mailadmin.rules.identities import Identity

    config = _config(tmp_path, zextras.url)
    app = create_app(config)
    async with app.router.lifespan_context(app):
        services = app.state.services
        key = ApiKeys(services.orch.rules.store).create(Identity.parse("site-admin")).key
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            zextras.hostile()
            answer = await client.post(
                "/v1/customers/example.com/mailboxes",
                json={"address": ADDRESS, "plan": "mail"},
                headers={"Authorization": f"Bearer {key}"},
            )
            zextras.clear()
    rows = _rows(tmp_path, "create_mailbox")
    held, read_back = zextras.holds(ADDRESS), zextras.read_back()
    hostile_tally.write_answers += 1
    problem = answer.json()
    if answer.status_code >= 500 and rows[-1][1] == "unknown" and not held:
        hostile_tally.write_answers_kept += 1
    assert answer.status_code == 502, answer.text  # never a 200 "changed"
    assert problem.get("code") == "unknown", problem
    assert "not known" in problem["detail"]
    assert rows and rows[-1][1] == "unknown", rows  # an open row: resume reads it back
    assert not held
    assert read_back, "the unknown answer was not read back"
