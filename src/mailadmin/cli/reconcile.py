"""``mailadmin reconcile``: what each platform holds against what mailadmin keeps.

Prints the drift report (a table, ``--json`` or ``--csv``); ``--import`` records what was
found (the live use; the tenants no customer maps to, as customers of ``--owner``), and
``--dry-run`` with it says what would be recorded and records nothing.
"""

from __future__ import annotations

import csv
import sys
from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.commands import cli
from mailadmin.cli.root import _global_options, _run, _State, pass_state
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []

_COLUMNS = ("kind", "instance", "tenant", "subject", "store", "platform", "detail")


@cli.command("reconcile")
@click.argument("tenants", nargs=-1)
@click.option("--csv", "as_csv", is_flag=True, help="Print the drifts as CSV.")
@click.option(
    "--import",
    "adopt",
    is_flag=True,
    help="Record what was found: the live use, and unmapped tenants as customers.",
)
@click.option(
    "--owner",
    default=None,
    help="Who owns the tenants --import adopts: a reseller's name, or 'host'.",
)
@click.option("--dry-run", is_flag=True, help="With --import: say what would be recorded.")
@_global_options
@pass_state
def reconcile(
    state: _State,
    tenants: tuple[str, ...],
    as_csv: bool,
    adopt: bool,
    owner: str | None,
    dry_run: bool,
) -> None:
    """Compare what each platform holds with what mailadmin keeps.

    Default: every tenant, and the platforms' tenants no customer maps to. Drifts:
    'unmapped_tenant' (on the platform, no customer maps to it), 'use' (mailboxes the
    kept use does not count), 'limit' (a platform limit that is not the allocation),
    'plan' (mailboxes on no plan of the catalogue).

    \b
    Examples:
      mailadmin reconcile
      mailadmin reconcile example.com --csv
      mailadmin reconcile --import --owner acme --dry-run
    """
    if (owner or dry_run) and not adopt:
        raise errors.ValidationError("--owner and --dry-run go with --import")

    async def work(orch: Orchestrator) -> Any:
        return await orch.reconcile(tenants, adopt=adopt, owner=owner, dry_run=dry_run)

    report = _run(state, work, finish=adopt)
    rows = [[getattr(d, c) for c in _COLUMNS] for d in report.drifts]
    if state.output.as_json:
        state.output.json(report)
    elif as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(_COLUMNS)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    else:
        notes = [f"{report.tenants_checked} tenants read; {len(rows)} drifts"]
        if report.adopted:
            verb = "would record" if report.dry_run else "recorded"
            notes.append(f"{verb}: " + ", ".join(report.adopted))
        state.output.table(
            "Drift",
            ["kind", "tenant", "subject", "store", "platform"],
            [[r[0], r[2], r[3], r[4], r[5]] for r in rows],
            notes,
        )
