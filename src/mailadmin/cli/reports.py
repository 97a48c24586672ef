"""``mailadmin report [NAME]``: usage, licences and renewals as tables, ``--json`` or ``--csv``."""

from __future__ import annotations

import asyncio
import csv
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.commands import _State, cli, pass_state
from mailadmin.reports import REPORTS

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []

_TITLES = {
    "usage": "Usage (quota over usage)",
    "licences": "Licences",
    "renewals": "Renewals and downgrade windows",
}


@cli.command()
@click.argument("name", required=False, type=click.Choice(sorted(REPORTS)))
@click.option("--reseller", help="Only this reseller's customers (usage, renewals).")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one report) for machines.")
@pass_state
def report(state: _State, name: str | None, reseller: str | None, as_csv: bool) -> None:
    """Report NAME: usage, licences or renewals (all three when NAME is left out)."""
    from mailadmin.cli.output import EXIT_PROVIDER

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

    async def go() -> dict[str, list[BaseModel]]:
        async with state.orchestrator() as orch:
            # Reports read every tenant; a non-admin sees only its own through the gate.
            return await work(orch)

    found = asyncio.run(go())
    if as_csv:
        _csv(name or "", found[name or ""])
    elif state.output.as_json:
        if name:
            state.output.json({"report": name, "rows": found[name]})
        else:
            state.output.json(found)
    else:
        for report_name, rows in found.items():
            columns = import_module(REPORTS[report_name]).COLUMNS
            state.output.table(
                _TITLES[report_name],
                columns,
                [[_cell(c, row.model_dump(mode="json")[c]) for c in columns] for row in rows],
            )
    if any(getattr(row, "error", "") for rows in found.values() for row in rows):
        raise SystemExit(EXIT_PROVIDER)


def _csv(name: str, rows: list[Any]) -> None:
    columns = import_module(REPORTS[name]).COLUMNS
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        data = row.model_dump(mode="json")
        writer.writerow(["" if data[c] is None else data[c] for c in columns])


def _cell(column: str, value: Any) -> Any:
    if column == "over_use":
        # Over-use must stand out in a long table.
        return f"[bold red]OVER +{value}[/]" if value else ""
    if column == "compliant":
        return "yes" if value else "[bold red]NO[/]"
    if column == "window" and value == "open":
        return "[bold green]open[/]"
    if value is None:
        return "unlimited" if column == "allocated" else "-"
    return value
