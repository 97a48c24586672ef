"""Results as rows for people: the one rendering the CLI and the demo share.

Each function takes per-item results (``ItemResult``) and returns ``(columns, rows)``; a
failed item keeps its row, marked "failed", and :func:`problems` gives the user-safe
messages as notes under the table. Columns are chosen to fit 80 columns of terminal;
wide detail (licence features, a write's before and after) has a table or command of its
own, and ``--json`` carries everything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailadmin.contract.models import (
    ChangeResult,
    ConnectionStatus,
    Licence,
    Mailbox,
    MailboxCount,
    MailboxKind,
)
from mailadmin.orchestration.bulk import ItemResult

__all__ = [
    "Table",
    "change_table",
    "check_table",
    "count_table",
    "feature_table",
    "licence_table",
    "mailbox_table",
    "problems",
]

Table = tuple[list[str], list[list[Any]]]


def check_table(items: Sequence[ItemResult[ConnectionStatus]]) -> Table:
    """Connection check per instance."""
    rows: list[list[Any]] = []
    for item in items:
        status = item.value
        if status is None:
            rows.append([item.key, False, "", "", _problem(item)])
        else:
            rows.append([item.key, status.ok, status.platform, status.version, status.detail])
    return ["instance", "ok", "platform", "version", "detail"], rows


def count_table(items: Sequence[ItemResult[MailboxCount]]) -> Table:
    """Mailboxes per tenant: total, one column per kind, then by plan (and, where a
    provider found mailboxes of no kind it could tell, how many)."""
    rows: list[list[Any]] = []
    for item in items:
        count = item.value
        if count is None:
            rows.append([item.key, "failed", "", "", "", "", "", ""])
            continue
        # Every kind always, zeros included; plans only where there are mailboxes: the
        # same picture whichever way a platform reports its zeros.
        kinds = [count.of(kind) for kind in MailboxKind]
        plans = ", ".join(f"{k}={v}" for k, v in sorted(count.by_plan.items()) if v)
        if count.unclassified:
            # Found but of no kind the provider could tell: outside the kinds and total.
            plans = ", ".join(filter(None, [plans, f"unclassified={count.unclassified}"]))
        rows.append([item.key, count.total, *kinds, plans])
    return ["tenant", "total", *(kind.value for kind in MailboxKind), "by plan"], rows


def licence_table(items: Sequence[ItemResult[Licence]]) -> Table:
    """Licence use per instance, over-use flagged (features: :func:`feature_table`)."""
    rows: list[list[Any]] = []
    for item in items:
        lic = item.value
        if lic is None:
            rows.append([item.key, "failed", "", "", "", "", "", ""])
            continue
        until = lic.valid_until.date().isoformat() if lic.valid_until else ""
        upkeep = lic.maintenance_until.date().isoformat() if lic.maintenance_until else ""
        licensed = "unlimited" if lic.seats_licensed is None else lic.seats_licensed
        free = "" if lic.seats_free is None else lic.seats_free
        used, over = lic.seats_used, lic.over_used
        rows.append([item.key, lic.state.value, licensed, used, free, over, until, upkeep])
    columns = ["instance", "state", "licensed", "used", "free", "over-used", "valid to"]
    columns.append("maint. to")
    return columns, rows


def feature_table(items: Sequence[ItemResult[Licence]]) -> Table:
    """Licensed features, one row each: instance, feature, used, licensed."""
    rows: list[list[Any]] = []
    for item in items:
        for f in item.value.features if item.value is not None else ():
            total = "unlimited" if f.quantity is None else f.quantity
            rows.append([item.key, f.name, "" if f.used is None else f.used, total])
    return ["instance", "feature", "used", "licensed"], rows


def change_table(items: Sequence[ItemResult[ChangeResult[Any]]]) -> Table:
    """Writes: outcome with the state before and after, or why the item failed.

    The subject is the result's own (an add-on result names the add-on); a dry run says
    "would change" in the dry-run column.
    """
    rows: list[list[Any]] = []
    for item in items:
        change = item.value
        if change is None:
            code = item.error.code if item.error else ""
            outcome = "not sent" if code == "not_sent" else "failed"
            rows.append([item.key, outcome, "", "", "", _problem(item)])
            continue
        notes = [change.note]
        if change.operation_id:
            notes.append(f"operation {change.operation_id}")
        rows.append(
            [
                change.subject or item.key,
                change.outcome.value,
                change.dry_run,
                _value(change.before),
                _value(change.after),
                "; ".join(n for n in notes if n),
            ]
        )
    return ["subject", "outcome", "dry run", "before", "after", "note"], rows


def mailbox_table(mailboxes: Sequence[Mailbox]) -> Table:
    """Mailboxes of a tenant: address, kind, plan, display name, quota."""
    rows: list[list[Any]] = [
        [m.address, m.kind.value, m.plan or "", m.quota_mb, m.display_name] for m in mailboxes
    ]
    return ["address", "kind", "plan", "quota (MB)", "display name"], rows


def _value(value: Any) -> Any:
    # A created or deleted mailbox is shown by its address, not its whole record.
    if isinstance(value, Mailbox):
        return f"{value.address} ({value.kind.value})"
    return value


def problems(items: Sequence[ItemResult[Any]]) -> list[str]:
    """One note per failed item: ``problem: KEY: message``."""
    return [f"problem: {item.key}: {_problem(item)}" for item in items if item.error]


def _problem(item: ItemResult[Any]) -> str:
    return item.error.message if item.error else ""
