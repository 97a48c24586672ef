"""``journal resume`` never undoes a newer change, and never rewrites what a row recorded.

Issue 29's reproduction on every platform: a plan change is left open (OX and Exchange:
the second step of a two-step change answers 500, so it is ``partial``; every platform: the
process stops after recording the intent, before anything is sent), a newer change of the
same mailbox succeeds, then ``journal resume`` runs. The open row must be settled
``superseded`` with nothing sent: the mock's state is exactly what the newer change left
and resume sends no write. A resume that does re-send keeps the row's recorded ``before``
(issue 22: the state before the original write, not the state the retry started from).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import pytest_asyncio

from mailadmin.contract import errors
from mailadmin.mock import Fault

from .test_faults import Rig, _build

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLATFORMS = ("ox", "zextras", "exchange")
#: Platforms whose plan change is two writes: a 500 on the second leaves it ``partial``.
TWO_STEP = ("ox", "exchange")
#: The mock operation of each platform's plan-change read, where a stop is simulated.
FIRST_READ = {"ox": "getAccessCombinationName", "zextras": "GetAccountRequest", "exchange": None}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def rigs() -> Any:
    built: dict[str, Rig] = {}
    contexts = []
    for name in PLATFORMS:
        rig, context = await _build(name)
        built[name] = rig
        contexts.append(context)
    yield built
    for context in contexts:
        await context.__aexit__(None, None, None)


async def _plan(rig: Rig, address: str) -> str | None:
    for mailbox in await rig.orch.list_mailboxes(rig.subjects.tenant):
        if mailbox.address.lower() == address.lower():
            return mailbox.plan
    raise AssertionError(f"{address} not found")


def _writes(rig: Rig) -> list[str]:
    return [str(r.operation or r.route) for r in rig.server.requests if r.write]


def _second_write(rig: Rig) -> str:
    """The mock operation of the second write of the platform's plan change."""
    writes = [r for r in rig.server.requests if r.write]
    assert len(writes) >= 2, f"{rig.name}: the plan change is not two writes"
    return str(writes[1].operation or writes[1].route)


async def _start(rig: Rig) -> tuple[str, str, str]:
    """Back to the start state: the subject, its start plan and the plan left open."""
    rig.restart()
    address = rig.subjects.mailbox
    start = await _plan(rig, address)
    assert start is not None
    other = "collaborate" if start != "collaborate" else "mail"
    return address, start, other


def _row(rig: Rig, call: int) -> Any:
    found = rig.orch.journal.get(call)
    assert found is not None
    return found


def _last_row(rig: Rig, address: str) -> Any:
    rows = rig.orch.journal.entries(limit=1, subject=address, operation="set_plan")
    return rows[0]


async def _resume(rig: Rig) -> tuple[list[Any], list[str], dict[str, Any]]:
    """Run ``journal resume``: its items, the writes it sent, the state after it."""
    rig.server.clear_requests()
    result = await rig.orch.resume()
    return result.items, _writes(rig), rig.state()


@pytest.mark.parametrize("platform", TWO_STEP)
async def test_resume_settles_a_partial_row_superseded_by_a_newer_change(
    platform: str, rigs: dict[str, Rig]
) -> None:
    rig = rigs[platform]
    address, start, other = await _start(rig)
    # Where the second write is: one clean change, then back to the start.
    await rig.orch.set_plan(address, other)
    step = _second_write(rig)
    address, start, other = await _start(rig)

    rig.server.inject(Fault(kind="status", status=500, operation=step, calls=frozenset({1})))
    with pytest.raises(errors.PartialChange):
        await rig.orch.set_plan(address, other)
    partial = _last_row(rig, address)
    assert partial.outcome == "partial"
    newer = await rig.orch.set_plan(address, start)
    assert newer.outcome.value == "changed"
    held = rig.state()

    items, sent, state = await _resume(rig)

    assert sent == [], f"{platform}: resume sent {sent}"
    assert state == held, f"{platform}: resume changed the platform"
    assert await _plan(rig, address) == start
    assert [i.value.outcome.value for i in items] == ["unchanged"]
    assert "superseded by journal" in items[0].value.note
    row = _row(rig, partial.id)
    assert (row.status, row.outcome, row.open) == ("done", "superseded", False)
    assert row.before == start  # the state before the original write, kept
    assert row.resumed_from == "partial"
    # A second resume finds nothing open.
    again = await rig.orch.resume()
    assert again.items == []


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_resume_settles_an_unsent_intent_superseded_by_a_newer_change(
    platform: str, rigs: dict[str, Rig]
) -> None:
    """The process stopped after recording its intent (a SIGKILL while it read the
    mailbox): the row stays ``started``; a newer change then succeeds."""
    rig = rigs[platform]
    address, start, other = await _start(rig)
    read = FIRST_READ[platform]
    rig.server.inject(Fault(kind="latency", delay=0.2, operation=read, calls=frozenset({1})))
    task = asyncio.create_task(rig.orch.set_plan(address, other))
    journal = rig.orch.journal
    while not journal.entries(limit=1, subject=address, status="started"):
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rig.server.clear_faults()
    stopped = _last_row(rig, address)
    assert stopped.status == "started" and stopped.sent is None
    newer = await rig.orch.set_plan(address, start if start != "mail" else "sync")
    assert newer.outcome.value == "changed"
    held = rig.state()

    items, sent, state = await _resume(rig)

    assert sent == [], f"{platform}: resume sent {sent}"
    assert state == held, f"{platform}: resume changed the platform"
    row = _row(rig, stopped.id)
    assert (row.status, row.outcome) == ("done", "superseded")
    assert [i.value.outcome.value for i in items] == ["unchanged"]


@pytest.mark.parametrize("platform", TWO_STEP)
async def test_resume_keeps_the_recorded_before(platform: str, rigs: dict[str, Rig]) -> None:
    """Nothing newer: resume applies what is missing, and the row still says what the
    mailbox was on before the original write (issue 22)."""
    rig = rigs[platform]
    address, start, other = await _start(rig)
    await rig.orch.set_plan(address, other)
    step = _second_write(rig)
    address, start, other = await _start(rig)
    rig.server.inject(Fault(kind="status", status=500, operation=step, calls=frozenset({1})))
    with pytest.raises(errors.PartialChange):
        await rig.orch.set_plan(address, other)
    partial = _last_row(rig, address)

    items, sent, _state = await _resume(rig)

    assert sent, f"{platform}: resume sent nothing for an open row"
    assert await _plan(rig, address) == other
    row = _row(rig, partial.id)
    assert (row.status, row.outcome) == ("done", "changed")
    assert row.before == start, f"{platform}: the recorded before became {row.before!r}"
    assert row.after == other
    assert len(items) == 1
