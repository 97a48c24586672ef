"""Resume's rule for an open row that a newer change of its subject already settled.

Writes are absolute, so repeating an older write after a newer one succeeded would put
the older target back: a lost update. ``journal resume`` therefore settles such a row as
``superseded`` (nothing sent) instead of replaying it; docs/journal.md states the rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mailadmin.contract.models import ChangeResult, Outcome

if TYPE_CHECKING:
    from mailadmin.store.journal import Journal, JournalEntry

__all__ = ["settle_superseded"]


async def settle_superseded(journal: Journal, entry: JournalEntry) -> ChangeResult[Any] | None:
    """Settle ``entry`` as ``superseded`` when a newer settled row of its subject exists
    and return what resume reports for it (``unchanged``: nothing was sent); ``None``
    when it must be resumed as usual."""
    newer = await journal.run(journal.superseding, entry)
    if newer is None:
        return None
    target = "" if newer.target is None else f" to {_short(newer.target)}"
    note = (
        f"superseded by journal {newer.id} ({newer.operation}{target}, {newer.outcome}); "
        "not sent again"
    )
    await journal.write(journal.superseded(entry, newer, note))
    before = entry.before if entry.before is not None else entry.state_before
    return ChangeResult[Any](
        operation=entry.operation,
        subject=entry.subject,
        outcome=Outcome.UNCHANGED,
        before=before,
        after=newer.after,
        note=note,
    )


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "..."
