"""Grouped commits: journal writes queued by concurrent items while the writer thread is
busy share one transaction; each caller still returns only once its own row is durable
(an intent before its write is sent), and a blocking write keeps the order of the rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from mailadmin.contract.provider import CallInfo
from mailadmin.store.journal import Journal


def _call(i: int) -> CallInfo:
    address = f"user{i}@example.com"
    return CallInfo(
        "ox", "ox", "set_plan", {"mailbox": {"address": address}, "plan": "sync"}, call_id=f"c{i}"
    )


def _commits(journal: Journal) -> list[int]:
    seen: list[int] = []

    @sa.event.listens_for(journal.engine, "commit")
    def _record(conn: Any) -> None:
        seen.append(1)

    return seen


async def test_concurrent_intents_share_commits_and_each_is_durable_on_return(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/journal.sqlite"
    journal = Journal(url)
    commits = _commits(journal)
    other = Journal(url)  # another reader: sees only what was committed

    async def item(i: int) -> int:
        await journal.write(journal.intent(_call(i)))
        # Returned: the intent is in the database for any other connection to read.
        found = other.entries(limit=1, subject=f"user{i}@example.com")
        assert [e.status for e in found] == ["started"]
        await journal.write(journal.success(f"c{i}", {"outcome": "changed"}))
        return i

    done = await asyncio.gather(*(item(i) for i in range(40)))
    assert done == list(range(40))
    assert journal.count() == 40 and journal.count(status="done") == 40
    # 80 rows written by 40 concurrent items: grouped, not a commit per row.
    assert 0 < len(commits) <= 40
    journal.close()
    other.close()


async def test_a_blocking_write_on_the_loop_thread_keeps_the_order_of_queued_ones(
    tmp_path: Path,
) -> None:
    journal = Journal(f"sqlite:///{tmp_path}/journal.sqlite")
    queued = asyncio.ensure_future(journal.write(journal.intent(_call(1))))
    await asyncio.sleep(0)  # queued for the next turn of the loop, not yet handed over
    journal.write_now(journal.success("c1", {"outcome": "changed"}))  # after the intent
    await queued
    [entry] = journal.entries()
    assert (entry.status, entry.outcome) == ("done", "changed")
    journal.close()
