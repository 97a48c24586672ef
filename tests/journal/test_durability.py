"""The SQLite journal's durability setting: what it runs with, and what it survives."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa

from mailadmin.contract import errors
from mailadmin.store.database import open_engine
from mailadmin.store.journal import Journal

_LEVELS = {1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def _synchronous(engine: sa.Engine) -> str:
    with engine.connect() as db:
        return _LEVELS[db.execute(sa.text("PRAGMA synchronous")).scalar_one()]


def test_a_sqlite_file_runs_in_wal_with_synchronous_normal_by_default(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path}/j.sqlite")
    with engine.connect() as db:
        assert db.execute(sa.text("PRAGMA journal_mode")).scalar_one() == "wal"
    assert _synchronous(engine) == "NORMAL"


def test_the_url_can_ask_for_a_sync_on_every_commit(tmp_path: Path) -> None:
    journal = Journal(f"sqlite:///{tmp_path}/j.sqlite?synchronous=full")
    try:
        assert _synchronous(journal.engine) == "FULL"
        assert journal.entries() == []  # the option is not passed on to the driver
    finally:
        journal.close()


def test_an_unknown_synchronous_level_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigurationError, match="synchronous must be"):
        open_engine(f"sqlite:///{tmp_path}/j.sqlite?synchronous=off")


def test_an_intent_survives_the_process_being_killed_right_after_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/j.sqlite"
    child = textwrap.dedent(
        f"""
        import os, signal
        from mailadmin.contract.provider import CallInfo
        from mailadmin.store.journal import Journal
        journal = Journal({url!r})
        call = CallInfo("ox", "ox", "set_plan", {{"mailbox": {{"address": "a@example.com"}},
                        "plan": "sync"}}, call_id="killed-after-intent")
        journal.started(call)
        os.kill(os.getpid(), signal.SIGKILL)  # no close, no checkpoint, no flush
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    journal = Journal(url)
    try:
        rows = journal.entries()
        assert [(r.call_id, r.status, r.subject) for r in rows] == [
            ("killed-after-intent", "started", "a@example.com")
        ]
    finally:
        journal.close()
