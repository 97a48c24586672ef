"""Results as rows for people: the one rendering the CLI and the demo share.

Each function takes per-item results (``ItemResult``) and returns ``(columns, rows)``; a
failed item keeps its row, with the user-safe message in the last column.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mailadmin.contract.models import ChangeResult, ConnectionStatus, Licence, MailboxCount
from mailadmin.orchestration.bulk import ItemResult

__all__ = ["Table", "change_table", "check_table", "count_table", "licence_table"]

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
    """Mailboxes per tenant: total, by kind, by plan."""
    rows: list[list[Any]] = []
    for item in items:
        count = item.value
        if count is None:
            rows.append([item.key, "", "", "", _problem(item)])
            continue
        kinds = ", ".join(f"{k.value}={v}" for k, v in sorted(count.by_kind.items()))
        plans = ", ".join(f"{k}={v}" for k, v in sorted(count.by_plan.items()))
        rows.append([item.key, count.total, kinds, plans, ""])
    return ["tenant", "total", "by kind", "by plan", "problem"], rows


def licence_table(items: Sequence[ItemResult[Licence]]) -> Table:
    """Licence use per instance, over-use flagged."""
    rows: list[list[Any]] = []
    for item in items:
        lic = item.value
        if lic is None:
            rows.append([item.key, "", "", "", "", "", "", _problem(item)])
            continue
        until = lic.valid_until.date().isoformat() if lic.valid_until else ""
        licensed = "unlimited" if lic.seats_licensed is None else lic.seats_licensed
        free = "" if lic.seats_free is None else lic.seats_free
        rows.append(
            [item.key, lic.state.value, licensed, lic.seats_used, free, lic.over_used, until, ""]
        )
    columns = ["instance", "state", "licensed", "used", "free", "over-used", "valid until"]
    return [*columns, "problem"], rows


def change_table(items: Sequence[ItemResult[ChangeResult[Any]]]) -> Table:
    """Writes: outcome with the state before and after, or why the item failed."""
    rows: list[list[Any]] = []
    for item in items:
        change = item.value
        if change is None:
            rows.append([item.key, "failed", "", "", _problem(item)])
            continue
        note = f"operation {change.operation_id}" if change.operation_id else ""
        rows.append([item.key, change.outcome.value, change.before, change.after, note])
    return ["subject", "outcome", "before", "after", "note"], rows


def _problem(item: ItemResult[Any]) -> str:
    return item.error.message if item.error else ""
