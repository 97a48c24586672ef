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


# -- Exchange: a plan is read from its quotas and its flags (issue 29.2) -----------------------

GB = 1 << 30
#: The sample catalogue's quota plans: ProhibitSendReceiveQuota (GB) and MAPI/ActiveSync.
EXCHANGE_PLANS = {
    "mail": (2, False, False),
    "sync": (5, False, True),
    "collaborate": (10, True, True),
}


def _exchange_mailbox(rig: Rig, address: str) -> dict[str, Any]:
    """The mock's own record of one mailbox (not read through the provider)."""
    for tenant in rig.server.snapshot()["tenants"].values():
        if address in tenant["mailboxes"]:
            return dict(tenant["mailboxes"][address])
    raise AssertionError(f"{address} not in the mock")


def _assert_on(rig: Rig, address: str, plan: str, storage: int) -> None:
    quota, mapi, activesync = EXCHANGE_PLANS[plan]
    box = _exchange_mailbox(rig, address)
    held = (box["prohibit_send_receive_quota"], box["mapi"], box["activesync"])
    assert held == ((quota + storage) * GB, mapi, activesync), f"not on {plan}+{storage}: {held}"
    assert box["issue_warning_quota"] == (quota + storage) * GB * 90 // 100


async def _exchange_partial(rig: Rig, storage: int) -> str:
    """Mail (with ``storage`` GB of add-on), then mail -> collaborate stopping after the
    quotas (Set-CASMailbox answers 500): the quotas are collaborate's, the flags mail's."""
    rig.restart()
    address, tenant = rig.subjects.mailbox, rig.subjects.tenant
    await rig.orch.set_plan(address, "mail")
    await rig.orch.apply_addon(tenant, "storage_gb", storage)
    _assert_on(rig, address, "mail", storage)
    fault = Fault(kind="status", status=500, operation="set-casmailbox", calls=frozenset({1}))
    rig.server.inject(fault)
    with pytest.raises(errors.PartialChange):
        await rig.orch.set_plan(address, "collaborate")
    box = _exchange_mailbox(rig, address)
    assert box["prohibit_send_receive_quota"] == (10 + storage) * GB and not box["mapi"]
    return address


@pytest.mark.parametrize("storage", [0, 5])
async def test_exchange_resume_after_a_partial_change_does_not_inflate_the_quota(
    storage: int, rigs: dict[str, Rig]
) -> None:
    rig = rigs["exchange"]
    address = await _exchange_partial(rig, storage)
    await rig.orch.resume()
    _assert_on(rig, address, "collaborate", storage)
    again = await rig.orch.set_plan(address, "collaborate", dry_run=True)
    assert again.outcome.value == "unchanged"
    _assert_on(rig, address, "collaborate", storage)


@pytest.mark.parametrize("storage", [0, 5])
async def test_exchange_set_plan_after_a_partial_change_converges(
    storage: int, rigs: dict[str, Rig]
) -> None:
    rig = rigs["exchange"]
    address = await _exchange_partial(rig, storage)
    preview = await rig.orch.set_plan(address, "mail", dry_run=True)
    assert preview.outcome.value == "changed"  # the quotas are not mail's
    back = await rig.orch.set_plan(address, "mail")
    assert back.outcome.value == "changed"
    _assert_on(rig, address, "mail", storage)
    assert (await rig.orch.set_plan(address, "mail")).outcome.value == "unchanged"
    # The plan read back is the whole plan, and the add-on survives a later plan change.
    assert await _plan(rig, address) == "mail"
    await rig.orch.set_plan(address, "sync")
    _assert_on(rig, address, "sync", storage)


async def test_exchange_mailbox_between_two_plans_is_on_none(rigs: dict[str, Rig]) -> None:
    """Listing reads the plan from the quotas and the flags: a half-changed mailbox is on
    no plan, not on the one its flags alone suggest."""
    rig = rigs["exchange"]
    address = await _exchange_partial(rig, 0)
    assert await _plan(rig, address) == "unmapped"  # the count's word for "no plan"


async def test_exchange_count_reads_the_plan_from_quotas_and_flags(rigs: dict[str, Rig]) -> None:
    """The count agrees with the listing: a half-changed mailbox is counted on no plan."""
    rig = rigs["exchange"]
    tenant = rig.subjects.tenant
    address = await _exchange_partial(rig, 5)
    counted = await rig.orch.count_mailboxes(tenant)
    listed = [m.plan for m in await rig.orch.list_mailboxes(tenant) if m.kind.value == "user"]
    assert counted.by_plan.get("unmapped", 0) == listed.count("unmapped") >= 1
    await rig.orch.set_plan(address, "mail")
    again = await rig.orch.count_mailboxes(tenant)
    assert again.by_plan.get("mail", 0) == counted.by_plan.get("mail", 0) + 1
