"""Assertions the suites share; each message says what the provider got wrong."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from mailadmin.contract.models import ChangeResult, MailboxCount, MailboxKind, MailboxRef, Outcome

if TYPE_CHECKING:
    from mailadmin.testing.harness import Harness

#: Marks a suite test as a coroutine for pytest-asyncio (strict or auto mode alike).
async_test = pytest.mark.asyncio

#: A write that took effect now or will later.
DONE = (Outcome.CHANGED, Outcome.ACCEPTED)


def assert_no_writes(harness: Harness, what: str) -> None:
    """The mock received no request on a state-changing route."""
    writes = harness.mock.writes()
    assert not writes, f"{what} sent writes: " + ", ".join(
        f"{w.method} {w.path} ({w.operation or w.route})" for w in writes
    )


def assert_result(
    result: ChangeResult[Any],
    *,
    operation: str,
    subject: str | None = None,
    outcomes: tuple[Outcome, ...] = DONE,
    dry_run: bool = False,
) -> None:
    """A change result names its operation and subject and has an expected outcome.

    A dry run that would change something must say ``dry_run``; a real call never does.
    """
    assert isinstance(result, ChangeResult), f"{operation} returned {type(result).__name__}"
    assert result.operation == operation, f"result.operation is {result.operation!r}"
    if subject is not None:
        assert result.subject.lower() == subject.lower(), f"result.subject is {result.subject!r}"
    assert result.outcome in outcomes, (
        f"{operation} answered {result.outcome.value}; expected "
        + " or ".join(o.value for o in outcomes)
    )
    if dry_run and result.outcome is Outcome.UNCHANGED:
        return  # nothing would be sent either way; both flags tell the truth
    assert result.dry_run is dry_run, f"result.dry_run is {result.dry_run}, expected {dry_run}"


def assert_counts_add_up(count: MailboxCount) -> None:
    """Totals match the parts; ``by_plan`` counts exactly the user mailboxes."""
    assert all(n >= 0 for n in count.by_kind.values()), f"negative count: {count.by_kind}"
    assert all(n >= 0 for n in count.by_plan.values()), f"negative count: {count.by_plan}"
    assert count.total == sum(count.by_kind.values())
    assert sum(count.by_plan.values()) == count.of(MailboxKind.USER), (
        f"by_plan {count.by_plan} does not add up to the "
        f"{count.of(MailboxKind.USER)} user mailboxes"
    )


def plan_count(count: MailboxCount, plan: str) -> int:
    """User mailboxes on ``plan`` (zero when absent)."""
    return count.by_plan.get(plan, 0)


# -- on the platform: the mock's own state, read through the target's probe ----------------


def assert_platform_plan(
    h: Harness, plan: str, what: str, mailbox: MailboxRef | None = None
) -> None:
    """The platform holds ``plan`` for the mailbox (default: the target's)."""
    if not h.platform.available:
        return
    held = h.platform.plan(mailbox)
    address = (mailbox or h.mailbox).address
    assert held == plan, (
        f"after {what}, the platform holds plan {held!r} for {address}, not {plan!r}"
    )


def assert_platform_addon(h: Harness, addon: str, quantity: int | None, what: str) -> None:
    """The platform holds ``quantity`` as the tenant's total of ``addon``."""
    if not h.platform.available:
        return
    held = h.platform.addon(addon)
    assert held == quantity, (
        f"after {what}, the platform holds {held!r} for the {addon} add-on of "
        f"{h.tenant.name}, not {quantity!r}"
    )


def assert_platform_mailbox(h: Harness, address: str, kind: MailboxKind | None, what: str) -> None:
    """The platform has the mailbox as a ``kind`` mailbox (``None``: it has none)."""
    if not h.platform.available:
        return
    held = h.platform.mailboxes().get(address.lower())
    if kind is None:
        assert held is None, f"after {what}, the platform still has {address} ({held.value})"
    else:
        assert held is kind, (
            f"after {what}, the platform has {address} as "
            f"{'nothing' if held is None else held.value}, not as {kind.value}"
        )
