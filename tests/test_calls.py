"""Writes to one subject never interleave; writes to different subjects still run in
parallel; the lock table holds only the writes in flight."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from mailadmin.contract.calls import SUBJECT_LOCKS, SubjectLocks, subject_key
from mailadmin.contract.models import AddonRef, MailboxRef, TenantRef
from mailadmin.reference.provider import MemoryProvider

TENANT = TenantRef(name="Example.com")


def test_the_subject_of_a_write_is_its_mailbox_or_its_tenants_limits() -> None:
    anna = MailboxRef(tenant=TENANT, address="Anna@Example.com")
    assert subject_key("eu", "set_plan", {"mailbox": anna, "plan": "sync"}) == (
        "eu/mailbox/anna@example.com"
    )
    assert subject_key("eu", "delete_mailbox", {"mailbox": anna}) == "eu/mailbox/anna@example.com"
    # Every add-on of a tenant shares one key: its limits are one record on most platforms.
    for addon in ("mailboxes", "storage_gb", "mailboxes:sync"):
        arguments = {"tenant": TENANT, "addon": AddonRef.parse(addon), "quantity": 3}
        assert subject_key("eu", "apply_addon", arguments) == "eu/limits/example.com"
    # The same key from plain data (a job's arguments read back from a queue).
    assert subject_key("eu", "apply_addon", {"tenant": {"name": "example.com"}}) == (
        "eu/limits/example.com"
    )
    assert subject_key("eu", "count_mailboxes", {"tenant": TENANT}) is None


async def test_one_key_is_held_by_one_task_at_a_time_in_arrival_order() -> None:
    locks = SubjectLocks()
    inside: list[int] = []
    order: list[int] = []

    async def write(n: int) -> None:
        async with locks.hold("k"):
            inside.append(n)
            assert len(inside) == 1, "two holders at once"
            order.append(n)
            await asyncio.sleep(0.005)
            inside.remove(n)

    await asyncio.gather(*(write(n) for n in range(5)))
    assert order == [0, 1, 2, 3, 4]
    assert len(locks) == 0, "the table keeps keys nobody holds"


async def test_a_cancelled_waiter_does_not_keep_the_key() -> None:
    locks = SubjectLocks()
    async with locks.hold("k"):
        waiter = asyncio.create_task(_hold_briefly(locks, "k"))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
    assert len(locks) == 0
    await _hold_briefly(locks, "k")  # free again


async def test_a_task_holding_a_key_may_take_it_again() -> None:
    locks = SubjectLocks()
    async with locks.hold("k"), locks.hold("k"):
        assert locks.locked("k")
    assert not locks.locked("k")


def test_loops_in_different_threads_share_the_locks() -> None:
    # The blocking facade runs its own event loop in a thread: it must wait too.
    locks = SubjectLocks()
    inside: list[str] = []
    overlaps: list[str] = []

    async def write(name: str) -> None:
        for _ in range(5):
            async with locks.hold("k"):
                if inside:
                    overlaps.append(name)
                inside.append(name)
                await asyncio.sleep(0.002)
                inside.remove(name)

    threads = [threading.Thread(target=asyncio.run, args=(write(n),)) for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not overlaps
    assert len(locks) == 0


async def _hold_briefly(locks: SubjectLocks, key: str) -> None:
    async with locks.hold(key):
        await asyncio.sleep(0)


class _Traced(MemoryProvider):
    """The reference provider, noting when each plan change starts and ends."""

    events: list[tuple[str, str]]

    async def _set_plan(self, mailbox: MailboxRef, plan: str) -> Any:
        self.events.append(("start", mailbox.address))
        await asyncio.sleep(0.01)  # a slow platform: others get every chance to interleave
        result = await super()._set_plan(mailbox, plan)
        self.events.append(("end", mailbox.address))
        return result


async def test_a_provider_serialises_writes_to_one_mailbox_and_not_to_two() -> None:
    provider = _Traced({})
    provider.events = []
    anna = MailboxRef(tenant=TenantRef(name="example.com"), address="anna@example.com")
    ben = MailboxRef(tenant=TenantRef(name="example.com"), address="ben@example.com")
    async with provider:
        await asyncio.gather(*(provider.set_plan(anna, p) for p in ("sync", "mail", "sync")))
        assert [kind for kind, _ in provider.events] == ["start", "end"] * 3
        provider.events.clear()
        await asyncio.gather(provider.set_plan(anna, "mail"), provider.set_plan(ben, "mail"))
        assert [kind for kind, _ in provider.events] == ["start", "start", "end", "end"]
        assert provider.mock_server is not None
        state = provider.mock_server.snapshot()
        plans = {m["address"]: m["plan"] for m in state["tenants"]["example.com"]["mailboxes"]}
        assert plans["anna@example.com"] == "basic" and plans["ben@example.com"] == "basic"
    assert len(SUBJECT_LOCKS) == 0
