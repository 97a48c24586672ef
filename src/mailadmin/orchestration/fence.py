"""The write fence: a newer write never races an older one to the same subject that may
still land.

A write whose answer was lost is read back for a while (``Provider._read_back``), but a
request held somewhere on its way can land later still and overwrite whatever was written
meanwhile. Its journal row stays open (outcome ``unknown``; a row still ``started`` is one
whose process died or was cut off mid-write). Before a newer write of the same subject
(same instance and subject key, in any process sharing the journal) is sent, each older
open row whose write was sent (the journal stamps ``sent`` just before sending; a write
that failed while reading never reached the platform and cannot land) is settled:

- read back (a dry run of the older write, or a look-up for a create or delete): when the
  platform holds its target, it landed; the row is completed as such and the newer write
  goes on (it reads the state that write left);
- when its *landing horizon* has passed (``landing_horizon`` seconds after it was sent;
  default four times the larger of ``deadline`` and ``timeout``) it can no longer land: a
  read-back that does not show its target completes it as ``failed`` (verified), one that
  cannot be made leaves it open for ``journal resume`` but no longer holds the subject;
- otherwise the newer write waits, reading back every ``_POLL`` seconds, for at most
  ``fence_wait`` seconds (default twice ``timeout``), and is then refused with
  :class:`~mailadmin.contract.errors.ChangeUnsettled` without sending anything.

Why wait rather than send: writes are absolute, so an older write landing after a newer
one silently undoes it, and nothing would tell. Why bounded: an interactive command must
answer; ``journal resume`` (or a later retry) settles what the fence could not. The
horizon counts from the send and must outlast whatever may hold a request on its way (a
proxy's queue, a busy platform): several deadlines by default.

A row's position is its journal id: a write's intent is recorded first and only rows with
a smaller id fence it, so of two processes writing one subject at once the later waits for
an earlier one already sent. One that has not sent yet does not hold the later: it sends
after it, so in send order it is the newer write. Two intents committed in the opposite
order of their ids (PostgreSQL hands out ids before commit) can pass each other within
milliseconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors
from mailadmin.contract.calls import subject_key

if TYPE_CHECKING:
    from mailadmin.contract.provider import CallInfo, Provider
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["Probe", "ReadBack", "hold_fence", "landing_horizon"]

#: Seconds between two read-backs while the fence waits.
_POLL = 0.1


@dataclass(frozen=True)
class ReadBack:
    """What a read-back of an older write found: ``landed`` (``None``: could not read)
    and the state read."""

    landed: bool | None
    state: Any = None


#: Reads the platform back for one journal row (never writes).
Probe = Callable[["JournalEntry"], Awaitable[ReadBack]]


def landing_horizon(provider: Provider) -> float:
    """Seconds after a write was sent past which it can no longer land on ``provider``."""
    settings = provider.settings
    if settings.landing_horizon is not None:
        return float(settings.landing_horizon)
    return 4 * max(float(settings.deadline), float(settings.timeout))


def _fence_wait(provider: Provider) -> float:
    settings = provider.settings
    if settings.fence_wait is not None:
        return float(settings.fence_wait)
    return 2 * float(settings.timeout)


async def hold_fence(
    journal: Journal,
    provider: Provider,
    call: CallInfo,
    probe: Probe,
    found: list[JournalEntry] | None = None,
) -> None:
    """Return once no older write of ``call``'s subject can still land (settling their
    rows on the way); raise :class:`~mailadmin.contract.errors.ChangeUnsettled` when one
    still may after ``fence_wait``. ``call``'s intent must be journalled already;
    ``found`` is what the intent's commit found (``Journal.intent(unsettled=)``)."""
    key = subject_key(call.provider, call.operation, call.arguments)
    if key is None:
        return
    horizon = timedelta(seconds=landing_horizon(provider))
    give_up = time.monotonic() + _fence_wait(provider)
    while True:
        if found is not None:
            older, found = found, None
        else:
            older = await journal.run(journal.unsettled_before, call.call_id, key)
        waiting = [row for row in older if not await _settled(journal, row, horizon, probe)]
        if not waiting:
            return
        if time.monotonic() >= give_up:
            row = waiting[0]
            raise errors.ChangeUnsettled(
                f"An earlier change of {row.subject} (journal {row.id}) is still unsettled "
                "and may yet reach the platform, so this change was not sent; run "
                "'mailadmin journal resume' to settle it, then try again",
                debug={"unsettled": [r.id for r in waiting], "subject_key": key},
            )
        await asyncio.sleep(_POLL)


async def _settled(journal: Journal, row: JournalEntry, horizon: timedelta, probe: Probe) -> bool:
    """True when ``row`` no longer holds the subject (completing it when it can)."""
    found = await probe(row)
    if found.landed:
        # A row still ``started`` may not have sent anything: the target was there already.
        sent = row.status != "started" or (
            row.state_before is not None and row.state_before != row.target
        )
        note = "settled before a newer change: read back, the platform holds its target"
        outcome = "changed" if sent else "unchanged"
        await journal.write(journal.fenced(row, outcome, found.state, note, landed=True))
        return True
    if datetime.now(UTC) < (row.sent or row.at) + horizon:
        return False
    if found.landed is False:
        note = (
            "settled before a newer change: past its landing horizon the platform "
            "does not hold its target, so it never landed"
        )
        await journal.write(journal.fenced(row, "failed", found.state, note, landed=False))
    return True
