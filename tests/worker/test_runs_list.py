"""``mailadmin runs list``: ``--limit N`` or ``--all``, and "showing N of M" when cut."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from mailadmin.store.runs import PlannedRun, record_run


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "mailadmin", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_runs_list_says_showing_n_of_m_and_all_lists_every_run(
    postgres_schema_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(
        f"[journal]\nurl = {json.dumps(postgres_schema_url)}\n"
        '[instances.mem]\nprovider = "memory"\nendpoint = "http://127.0.0.1:9"\n'
    )
    _cli(config, "store", "upgrade")
    engine = sa.create_engine(postgres_schema_url)
    try:
        with engine.begin() as db:
            for n in range(3):
                record_run(db, PlannedRun(f"run{n}", "set_plan", [], {}), identity=None)
    finally:
        engine.dispose()

    cut = _cli(config, "runs", "list", "--limit", "2")
    assert "showing 2 of 3 runs" in cut.stdout and "--all" in cut.stdout
    every = _cli(config, "runs", "list", "--all")
    assert "showing" not in every.stdout
    assert all(f"run{n}" in every.stdout for n in range(3))
    listed = _cli(config, "--json", "runs", "list", "--limit", "1")
    assert len(json.loads(listed.stdout)) == 1
    assert "showing 1 of 3 runs" in listed.stderr
