"""One change pattern for every write: say what is there and what should be, the base decides.

A provider reads the current state, builds a :class:`Change` and returns
``await self.change(change)``; :meth:`~mailadmin.contract.provider.Provider.change` turns it
into the :class:`~mailadmin.contract.models.ChangeResult`:

- ``before == after``: ``unchanged``, nothing is sent;
- a dry run: ``changed`` (what would change), nothing is sent; ``check()``, when given,
  runs first so the preview meets the refusals the write would (a conflict);
- otherwise ``apply()`` runs once; when it returns an operation id the platform finishes
  the work later and the outcome is ``accepted``; when it returns :class:`Applied`, what
  the platform reports replaces ``before``/``after`` of the result.

When ``apply()`` fails after the write may have been sent (a lost answer, a timeout, a
failure between two steps) and the change has ``verify``, the base reads the platform back
before reporting: every part on target -> ``changed``; no part applied -> the error stands
(nothing applied, verified); some parts -> :class:`~mailadmin.errors.PartialChange`;
the read fails -> :class:`~mailadmin.errors.OutcomeUnknown`. After a timeout the
read is repeated for a while, so a write that lands late is seen before the next write to
the subject (which waits on the subject's lock) is sent; the transport never resends it.
A creation refused as a conflict is not read back (what is there is not this write's). An
answer that is neither the operation's own nor a refusal (see
:class:`~mailadmin.wire.answers.AnswerCheck`) is ``OutcomeUnknown``: read back the same way.

``ChangeResult.dry_run`` is set by the base class on every write result (true exactly when
the call was a dry run), so no plugin decides it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Applied", "Apply", "Change", "Verified"]

T = TypeVar("T")


@dataclass(frozen=True)
class Applied(Generic[T]):
    """What ``apply()`` may return when the platform's answer says more than "done".

    ``operation_id``: the platform accepted work it finishes later (outcome ``accepted``);
    ``before`` / ``after``: the values the platform reports, when given (``None`` keeps
    those of the :class:`Change`).
    """

    operation_id: str | None = None
    before: T | None = None
    after: T | None = None


@dataclass(frozen=True)
class Verified:
    """What a read-back found: the parts of the write now on target (``applied``), those
    still not (``missing``), and the state read (for the journal)."""

    applied: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    state: Any = None

    @property
    def complete(self) -> bool:
        """True when the platform holds the whole target."""
        return not self.missing


#: Sends the write. Returns ``None`` (done), an operation id (accepted, finished later)
#: or :class:`Applied`.
Apply = Callable[[], Awaitable["str | Applied[Any] | None"]]


@dataclass(frozen=True)
class Change(Generic[T]):
    """A write described as data.

    ``subject``: what is written (``"anna@example.com"``, ``"example.com"``); ``before``:
    what the platform holds now (``"mail"``; ``None`` when absent); ``after``: the target
    (``"sync"``); ``apply``: the coroutine function that sends the write (not called when
    nothing changes or during a dry run); ``note``: a short user-facing remark carried to
    the result (``"the quota follows the plan"``); ``same``: decides "unchanged" instead of
    ``before == after`` when those show less than is compared (a quota that drifted under
    an unchanged plan name); ``check``: reads only, run in a dry run instead of ``apply`` so
    the preview raises what the write would raise (a mailbox that already exists) without
    the real run paying for the extra request; ``verify``: reads the platform back after a
    failed ``apply()`` and says which parts of the target it holds (see the module docs).

    Example::

        return await self.change(Change(
            subject=mailbox.address, before=current, after=plan,
            apply=lambda: self._put_plan(mailbox, plan),
        ))
    """

    subject: str
    before: T | None
    after: T | None
    apply: Apply
    note: str = ""
    same: bool | None = None
    check: Callable[[], Awaitable[object]] | None = None
    verify: Callable[[], Awaitable[Verified]] | None = None

    @property
    def needed(self) -> bool:
        """True when the platform does not hold the target yet."""
        if self.same is not None:
            return not self.same
        return self.before != self.after
