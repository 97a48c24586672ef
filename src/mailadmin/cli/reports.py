"""``mailadmin report NAME``: usage, licences and renewals as tables, ``--json`` or ``--csv``.

``cli/commands.py``'s ``report`` command hands a named report (or ``--csv``, or
``--reseller``) to :func:`named_report`.
"""

from __future__ import annotations

import csv
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click

from mailadmin.reports import REPORTS

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mailadmin.cli.root import _State
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["named_report"]

#: The columns a terminal table shows (80 columns); --csv and --json carry every column.
_SHOWN = {
    "usage": ["subscription", "resource", "allocated", "utilised", "remaining", "over_use"],
    "licences": ["instance", "state", "licensed", "used", "free", "to_buy", "compliant"],
    "renewals": ["subject", "kind", "renewal", "term", "days", "window", "open_orders"],
}
#: Shorter headers where a report's column name would push the table past 80 columns.
_HEADERS = {"utilised": "used", "remaining": "left", "over_use": "over", "open_orders": "orders"}
_TITLES = {
    "usage": "Usage (quota over usage)",
    "licences": "Licences",
    "renewals": "Renewals and downgrade windows",
}


def named_report(
    state: _State, name: str | None, *, reseller: str | None, as_csv: bool, fail: bool
) -> None:
    """Print one report (NAME), or all three with ``--reseller`` and no NAME."""
    from mailadmin.cli.output import EXIT_OVER_USE, EXIT_PROVIDER
    from mailadmin.cli.root import _run

    if as_csv and name is None:
        raise click.UsageError("--csv prints one report: name it (usage, licences, renewals)")
    names = [name] if name else list(REPORTS)

    async def work(orch: Orchestrator) -> dict[str, list[BaseModel]]:
        found: dict[str, list[BaseModel]] = {}
        for report_name in names:
            build = import_module(REPORTS[report_name]).build
            options = {"reseller": reseller} if report_name != "licences" else {}
            found[report_name] = await build(orch, **options)
        return found

    found = _run(state, work)
    over_use = _over_use(found)
    if as_csv and name is not None:
        _csv(name, found[name])
    elif state.output.as_json:
        body: dict[str, Any] = {"over_use": over_use}
        body.update({"report": name, "rows": found[name]} if name else found)
        state.output.json(body)
    else:
        for report_name, rows in found.items():
            every = import_module(REPORTS[report_name]).COLUMNS
            columns = [c for c in _SHOWN.get(report_name, every) if c in every]
            dumped = [row.model_dump(mode="json") for row in rows]
            problems = [
                f"problem: {d.get(columns[0])}: {d['error']}" for d in dumped if d.get("error")
            ]
            # The 80-column table has no room for the status: a suspended customer is named.
            suspended = {d["subscription"] for d in dumped if d.get("status") == "suspended"}
            problems += [f"suspended: {name}" for name in sorted(suspended)]
            state.output.table(
                _TITLES[report_name],
                [_HEADERS.get(c, c.replace("_", " ")) for c in columns],
                [[_cell(c, d[c]) for c in columns] for d in dumped],
                [*problems, "every column: --csv or --json"],
            )
    if any(getattr(row, "error", "") for rows in found.values() for row in rows):
        raise SystemExit(EXIT_PROVIDER)
    if fail and over_use:
        raise SystemExit(EXIT_OVER_USE)


def _over_use(found: dict[str, list[Any]]) -> bool:
    usage = any(getattr(r, "over_use", 0) for r in found.get("usage", []))
    licences = any(not r.compliant for r in found.get("licences", []) if not r.error)
    return usage or licences


def _csv(name: str, rows: list[Any]) -> None:
    columns = import_module(REPORTS[name]).COLUMNS
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else data[c] for c in columns])


def _cell(column: str, value: Any) -> Any:
    # Over-use and non-compliance must stand out in a long table, colour or not.
    if column == "over_use":
        return f"OVER +{value}" if value else ""
    if column == "compliant":
        return "yes" if value else "NO"
    if value is None:
        return "unlimited" if column == "allocated" else "-"
    return value
