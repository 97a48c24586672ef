"""Issue 29.1 across processes: two ``mailadmin set-plan --file`` runs, each its own OS
process, change the same mailboxes at once over one store (PostgreSQL, and SQLite), while
the platform fails some writes (a 500 with nothing applied, a 500 or a dropped connection
after applying, a slow answer). ``mailadmin journal resume`` then settles what they left
open. Every mailbox must hold, in the mock's own state, what the journal's newest settled
row of it says (newest: the last to take effect): a resume that re-applied an older row
over a newer one would undo it.

Adds ``load: two writer processes: ...`` to the suite's summary.
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from mailadmin.store.journal import OPEN_OUTCOMES

pytest.importorskip("procrastinate")

_HERE = Path(__file__).parent
sys.path.insert(0, str(_HERE.parent / "worker"))
from test_distributed import PLANS, Mock, address, cli, write_config  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "_mailadmin_two_process_stores", _HERE.parent / "rules" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_stores = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_stores)
postgres_server = _stores.postgres_server
postgres_schema_url = _stores.postgres_schema_url

MAILBOXES = 60
ROUNDS = 2
SEED = 2909
NATIVE = {name: plan["native"] for name, plan in PLANS.items()}
_FIGURES: dict[str, str] = {}


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.sqlite'}"
    return str(request.getfixturevalue("postgres_schema_url"))


def _faults(rng: random.Random, writes: int) -> list[dict[str, Any]]:
    """About 15% of the plan writes fail: a third before applying, a third after (the
    answer a 500), a third after with the connection dropped; 20% are slow. Reads fail
    in bursts (past the transport's retries), so some read-backs of a failed write fail
    too and leave its row open for ``journal resume``."""
    calls = list(range(1, writes + 1))
    hit = [c for c in calls if rng.random() < 0.15]
    slow = [c for c in calls if rng.random() < 0.2]
    thirds = [hit[i::3] for i in range(3)]
    bursts = sorted({c + n for c in range(1, 6 * writes) if rng.random() < 0.04 for n in range(4)})
    return [
        {"kind": "status", "status": 500, "operation": "change_plan", "calls": thirds[0]},
        {
            "kind": "status",
            "status": 500,
            "operation": "change_plan",
            "calls": thirds[1],
            "handled": True,
        },
        {"kind": "drop", "operation": "change_plan", "calls": thirds[2], "handled": True},
        {"kind": "latency", "delay": 0.02, "operation": "change_plan", "calls": slow},
        {"kind": "status", "status": 503, "operation": "get_mailbox", "calls": bursts},
    ]


def _plans_file(folder: Path, name: str, rng: random.Random) -> Path:
    rows = [(address(i), rng.choice(("mail", "collaborate"))) for i in range(MAILBOXES)]
    rng.shuffle(rows)
    path = folder / name
    path.write_text("address,plan\n" + "".join(f"{a},{p}\n" for a, p in rows))
    return path


def _writer(config: Path, changes: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "mailadmin", "--config", str(config), "set-plan"]
    return subprocess.Popen(
        [*command, "--file", str(changes), "--concurrency", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_writer_processes_then_resume_leave_the_newest_settled_row(
    shared_store: str, tmp_path: Path, summary: Any
) -> None:
    kind = "sqlite" if shared_store.startswith("sqlite") else "postgresql"
    rng = random.Random(SEED + len(kind))
    mock = Mock(tmp_path, MAILBOXES)
    try:
        config = write_config(tmp_path, shared_store, mock.url)
        exits: list[int] = []
        for round_ in range(ROUNDS):
            faults = _faults(rng, 2 * MAILBOXES)
            httpx.post(f"{mock.url}/_mock/faults", json=faults, timeout=10).raise_for_status()
            files = [_plans_file(tmp_path, f"w{w}-r{round_}.csv", rng) for w in (1, 2)]
            writers = [_writer(config, f) for f in files]  # both at once
            for writer in writers:
                out, err = writer.communicate(timeout=300)
                # 0, or 4 when some item failed: never a crash (1) nor a bad input (2).
                assert writer.returncode in (0, 4), (writer.returncode, out[-2000:], err[-2000:])
                exits.append(writer.returncode)
            httpx.delete(f"{mock.url}/_mock/faults", timeout=10).raise_for_status()
        before = _rows(shared_store)
        opened = sum(1 for r in before if _open(r))
        resumed = cli(config, "journal", "resume", "--json", timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        rows = _rows(shared_store)
        state = mock.state()
        writes = len(mock.writes())
    finally:
        mock.stop()
    newest: dict[str, dict[str, Any]] = {}
    # Newest by when each write took effect (re-applied by resume, else sent; a row that
    # found its target already there, from its intent on), not by id: two processes'
    # intents may be numbered in another order than they are sent (the write fence,
    # docs/journal.md).
    for row in rows:
        if row["status"] == "done" and row["outcome"] in ("changed", "unchanged"):
            newest[row["subject"].lower()] = row
    lost = []
    for i in range(MAILBOXES):
        last = newest.get(address(i).lower())
        if last is None:
            continue
        wanted = NATIVE[json.loads(last["arguments"])["plan"]]
        if state[address(i)] != wanted:
            lost.append(f"{address(i)}: holds {state[address(i)]}, row {last['id']} {wanted}")
    still_open = sum(1 for r in rows if _open(r))
    _FIGURES[kind] = (
        f"{kind}: {2 * ROUNDS * MAILBOXES} ops on {MAILBOXES} mailboxes in "
        f"{len(exits)} processes, {writes} platform writes, {opened} left open, resume "
        f"settled them, {len(lost)} lost, {still_open} left open"
    )
    line = "load: two writer processes: "
    kept = summary.notes.setdefault("load", [])
    kept[:] = [n for n in kept if not n.startswith(line)]  # one line for both stores
    summary.note(
        "load",
        line + "; ".join(_FIGURES[k] for k in ("sqlite", "postgresql") if k in _FIGURES),
    )
    assert 4 in exits or opened, "no fault hit a write"
    history = {
        line.partition(":")[0]: [
            {k: str(v)[:40] for k, v in r.items() if k != "arguments"}
            | {"plan": json.loads(r["arguments"])["plan"]}
            for r in rows
            if r["subject"].lower() == line.partition(":")[0].lower()
        ]
        for line in lost[:3]
    }
    assert lost == [], (lost[:5], history)
    assert still_open == 0
    assert len(newest) > MAILBOXES // 2  # most mailboxes end on a settled change


def _open(row: dict[str, Any]) -> bool:
    """As the journal says: started and never finished, or finished not knowing."""
    return bool(row["status"] == "started" or row["outcome"] in OPEN_OUTCOMES)


def _rows(url: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            found = db.execute(
                sa.text(
                    "SELECT id, subject, status, outcome, arguments, sent, finished, resumed, "
                    "resumed_from, run_id FROM mailadmin_journal "
                    "WHERE operation = 'set_plan' AND NOT dry_run "
                    "ORDER BY COALESCE(resumed, sent, at), id"
                )
            )
            return [dict(row) for row in found.mappings()]
    finally:
        engine.dispose()
