"""The write journal: started before the platform is touched, completed after, durable."""

from __future__ import annotations

import threading
from pathlib import Path

from mailadmin.contract import errors
from mailadmin.contract.models import ChangeResult, MailboxRef, Outcome, TenantRef
from mailadmin.contract.provider import CallInfo
from mailadmin.store.journal import Journal

MAILBOX = MailboxRef(tenant=TenantRef(name="example.com"), address="anna@example.com")


def test_a_write_is_recorded_before_and_completed_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journal.sqlite'}"
    journal = Journal(url)
    call = CallInfo("ox-eu", "ox", "set_plan", {"mailbox": MAILBOX, "plan": "sync"})
    journal.started(call)
    [pending] = journal.entries()
    assert (pending.status, pending.subject, pending.outcome) == (
        "started",
        "anna@example.com",
        None,
    )
    result = ChangeResult[str](
        operation="set_plan",
        subject=MAILBOX.address,
        outcome=Outcome.CHANGED,
        before="mail",
        after="sync",
    )
    journal.succeeded(call, result)
    journal.close()
    # A new process reading the same database sees the completed record.
    [done] = Journal(url).entries()
    assert (done.status, done.outcome, done.before, done.after) == (
        "done",
        "changed",
        "mail",
        "sync",
    )
    assert done.arguments["plan"] == "sync" and done.instance == "ox-eu"


def test_a_failed_write_keeps_only_the_user_safe_error() -> None:
    journal = Journal("sqlite://")
    call = CallInfo(
        "ox-eu", "ox", "apply_addon", {"tenant": MAILBOX.tenant, "quantity": 5}, dry_run=True
    )
    journal.started(call)
    journal.failed(
        call, errors.QuotaExceeded("Seat limit reached", debug={"response": "secret-body"})
    )
    [entry] = journal.entries()
    assert (entry.status, entry.error_code, entry.error_message) == (
        "failed",
        "quota_exceeded",
        "Seat limit reached",
    )
    assert entry.dry_run and entry.subject == "example.com"
    assert "secret-body" not in repr(entry)


async def test_a_refused_write_is_recorded_with_its_reason_from_a_worker_thread() -> None:
    journal = Journal("sqlite://")
    call = CallInfo("ox-eu", "ox", "set_plan", {"mailbox": MAILBOX, "plan": "mail"})
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def refused(*args: object) -> None:
        seen.append(threading.get_ident())
        journal.refused(call, errors.PolicyDenied("Downgrades wait for the renewal date"))

    await journal.run(refused)
    assert seen and seen[0] != loop_thread
    [entry] = journal.entries()
    assert (entry.status, entry.subject, entry.error_code, entry.error_message) == (
        "refused",
        "anna@example.com",
        "policy_denied",
        "Downgrades wait for the renewal date",
    )
