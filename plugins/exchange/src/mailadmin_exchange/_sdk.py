"""The change pattern, until the core's ``Change`` and ``Provider.change`` land.

A stand-in with the planned names (``SDK-PLAN.md``), kept apart so that switching to the
core's block touches only the imports of ``provider.py``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from mailadmin.contract.models import ChangeResult, Outcome
from mailadmin.wire.dryrun import dry_run_active

__all__ = ["Change", "apply_change"]

T = TypeVar("T")


@dataclass(frozen=True)
class Change(Generic[T]):
    """A write as data: ``before`` (what is there), ``after`` (the target), ``apply``
    (sends the write; not called when nothing changes or during a dry run)."""

    subject: str
    before: T | None
    after: T | None
    apply: Callable[[], Awaitable[Any]]
    note: str = ""
    same: bool | None = None

    @property
    def needed(self) -> bool:
        """True when the platform does not hold the target yet."""
        return (not self.same) if self.same is not None else self.before != self.after


async def apply_change(operation: str, change: Change[T]) -> ChangeResult[T]:
    """The result of a change: ``unchanged`` (nothing sent), a dry run (nothing sent) or
    applied; ``dry_run`` is true exactly when the call is a dry run."""
    dry = dry_run_active()
    if not change.needed:
        outcome = Outcome.UNCHANGED
    else:
        if not dry:
            await change.apply()
        outcome = Outcome.CHANGED
    return ChangeResult[T](
        operation=operation,
        subject=change.subject,
        outcome=outcome,
        before=change.before,
        after=change.after,
        dry_run=dry,
    )
