"""The writer sends a batch's rows together: one executemany per statement shape, the
write fence's look-ups of every intent in the batch in one query. What each row holds and
what each intent's look-up finds must be what one-by-one writes give."""

from __future__ import annotations

import asyncio
from typing import Any

import sqlalchemy as sa

from mailadmin.contract.change import Change
from mailadmin.contract.provider import CallInfo
from mailadmin.store.journal import Journal, JournalEntry


def _call(call_id: str, address: str, plan: str = "sync") -> CallInfo:
    return CallInfo(
        "ox",
        "ox",
        "set_plan",
        {"mailbox": {"address": address}, "plan": plan},
        call_id=call_id,
    )


async def _nothing() -> None:
    return None


def _change(before: str, after: str) -> Change[str]:
    return Change(subject="", before=before, after=after, apply=_nothing)


def _statements(journal: Journal) -> list[tuple[str, bool]]:
    """Every statement the engine sends from now on, with whether it was an executemany."""
    seen: list[tuple[str, bool]] = []

    @sa.event.listens_for(journal.engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: bool):
        if "mailadmin_journal" in statement:  # not the runs table the batch waits behind
            seen.append((statement.split()[0].upper(), many))

    return seen


async def _queued_together(journal: Journal, writes: list[Any]) -> None:
    """Queue ``writes`` while the writer waits for the store, so they form one batch."""
    journal.lock.acquire()
    try:
        blocker = asyncio.ensure_future(journal.write(journal.run_finished("none")))
        await asyncio.sleep(0.05)  # the writer has taken the blocker and waits on the lock
        tasks = [asyncio.ensure_future(journal.write(op)) for op in writes]
        await asyncio.sleep(0.05)
    finally:
        journal.lock.release()
    await asyncio.gather(blocker, *tasks)


async def test_a_batch_of_intents_finds_exactly_the_older_open_rows_of_each_subject(
    store_url: str,
) -> None:
    journal = Journal(store_url)
    try:
        # a@ has an older write that was sent and never ended; b@ has one that ended.
        await journal.write(journal.intent(_call("old-a", "a@example.com")))
        await journal.write(journal.sending("old-a", _change("mail", "sync")))
        await journal.write(journal.intent(_call("old-b", "b@example.com")))
        await journal.write(journal.sending("old-b", _change("mail", "sync")))
        await journal.write(journal.success("old-b", {"outcome": "changed"}))
        # c@'s older write was never sent: it cannot land, so it does not count.
        await journal.write(journal.intent(_call("old-c", "c@example.com")))

        found: dict[str, list[JournalEntry]] = {k: [] for k in ("a1", "b1", "c1", "a2")}
        seen = _statements(journal)
        await _queued_together(
            journal,
            [
                journal.intent(_call("a1", "a@example.com"), unsettled=found["a1"]),
                journal.intent(_call("b1", "b@example.com"), unsettled=found["b1"]),
                journal.intent(_call("c1", "c@example.com"), unsettled=found["c1"]),
                journal.intent(_call("a2", "a@example.com", "mail"), unsettled=found["a2"]),
            ],
        )
        assert [e.call_id for e in found["a1"]] == ["old-a"]
        assert [e.call_id for e in found["a2"]] == ["old-a"]  # a1 was not sent yet
        assert found["b1"] == [] and found["c1"] == []
        # The four rows went in one executemany, the look-ups in two queries.
        inserts = [many for verb, many in seen if verb == "INSERT"]
        assert inserts == [True]
        assert sum(1 for verb, _ in seen if verb == "SELECT") == 2

        rows = {e.call_id: e for e in journal.entries(limit=20)}
        assert rows["a2"].target == "mail" and rows["a1"].target == "sync"
        assert all(rows[c].status == "started" for c in ("a1", "b1", "c1", "a2"))
        assert rows["a1"].id < rows["a2"].id
    finally:
        journal.close()


async def test_a_batch_of_ends_of_different_shapes_completes_every_row(store_url: str) -> None:
    from mailadmin.contract import errors

    journal = Journal(store_url)
    try:
        for n in range(4):
            await journal.write(journal.intent(_call(f"w{n}", f"u{n}@example.com")))
        seen = _statements(journal)
        await _queued_together(
            journal,
            [
                journal.success("w0", {"outcome": "changed", "before": "mail", "after": "sync"}),
                journal.success("w1", {"outcome": "unchanged", "note": "already there"}),
                journal.failure("w2", errors.NotFoundError("no such mailbox")),
                journal.success("w3", {"outcome": "changed", "before": "x", "after": "sync"}),
            ],
        )
        rows = {e.call_id: e for e in journal.entries(limit=10)}
        assert (rows["w0"].status, rows["w0"].outcome, rows["w0"].before) == (
            "done",
            "changed",
            "mail",
        )
        assert rows["w1"].debug == {"note": "already there"}
        assert (rows["w2"].status, rows["w2"].outcome, rows["w2"].error_code) == (
            "failed",
            "failed",
            "not_found",
        )
        assert rows["w3"].before == "x"
        # w0 and w3 share a shape: one executemany; w1 and w2 have their own.
        updates = [many for verb, many in seen if verb == "UPDATE"]
        assert sorted(updates) == [False, False, True]
    finally:
        journal.close()


async def test_two_writes_of_one_row_in_a_batch_keep_their_order(store_url: str) -> None:
    journal = Journal(store_url)
    try:
        await _queued_together(
            journal,
            [
                journal.intent(_call("x", "x@example.com")),
                journal.sending("x", _change("mail", "sync")),
                journal.success("x", {"outcome": "changed", "before": "mail", "after": "sync"}),
            ],
        )
        (row,) = journal.entries()
        assert (row.status, row.outcome, row.state_before) == ("done", "changed", "mail")
        assert row.sent is not None
    finally:
        journal.close()
