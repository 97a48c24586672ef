"""The journal's resume finishes add-on runs too (the API's add-on runs are journal runs)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from apihelpers import config_text

from mailadmin.mock.server import MockServer
from mailadmin.orchestration.orchestrator import Orchestrator
from mailadmin.store.journal import run_scope

ITEMS = [
    ("example.com", "shared_mailbox", 3),
    ("example.net", "shared_mailbox", 4),
    ("example.org", "shared_mailbox", 2),
]


def test_resume_finishes_an_addon_run_cut_short(fresh: MockServer, tmp_path: Path) -> None:
    config = tmp_path / "mailadmin.toml"
    config.write_text(config_text(fresh.url, tmp_path))  # type: ignore[attr-defined]

    async def go() -> dict[str, Any]:
        async with Orchestrator.from_config(config) as orch:
            journal = orch.journal
            assert journal is not None
            items = [{"tenant": t, "addon": a, "quantity": q} for t, a, q in ITEMS]
            run_id = (await orch.runs.prepare("apply_addon", items)).run_id
            with run_scope(run_id):  # only the first item ran before the process died
                await orch.apply_addon(*ITEMS[0])
            first = await orch.resume(run=run_id)
            again = await orch.resume(run=run_id)
            return {
                "first": [item.key for item in first.items if item.ok],
                "again": again.items,
                "rows": journal.entries(100, run=run_id),
                "unfinished": [found[0] for found in journal.unfinished_runs()],
                "run": run_id,
            }

    done = asyncio.run(go())
    assert done["first"] == ["example.net:shared_mailbox", "example.org:shared_mailbox"]
    assert done["again"] == []
    tenants = fresh.snapshot()["tenants"]
    assert [tenants[t]["allocations"]["shared_mailboxes"] for t, _, _ in ITEMS] == [3, 4, 2]
    assert Counter(row.subject for row in done["rows"]) == Counter(
        f"{tenant} {addon}" for tenant, addon, _ in ITEMS
    )
    assert not [row for row in done["rows"] if row.open]
    assert done["run"] not in done["unfinished"]
