"""Changing and removing customer and reseller records: ``customers update|remove`` and
``resellers update|remove``. Each change is journalled with the acting identity;
``--dry-run`` shows it and writes nothing. A customer that still has mailboxes is not
removed (``mailadmin terminate`` removes a tenant with its mailboxes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.business import _PACKAGE, _RENEWAL, _day, _package, customers, resellers
from mailadmin.cli.root import _global_options, _run, _State, pass_state

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []

_DRY_RUN = click.option("--dry-run", is_flag=True, help="Show the change; write nothing.")


@customers.command("update")
@click.argument("name")
@click.option("--reseller", help="Move the customer to this reseller (the site admin's).")
@click.option("--host", "to_host", is_flag=True, help="Make it the host's own customer.")
@_PACKAGE
@_RENEWAL
@click.option("--no-renewal", is_flag=True, help="Clear the renewal date.")
@_DRY_RUN
@_global_options
@pass_state
def customers_update(
    state: _State,
    name: str,
    reseller: str | None,
    to_host: bool,
    package: tuple[str, ...],
    renewal: Any,
    no_renewal: bool,
    dry_run: bool,
) -> None:
    """Change customer NAME: its reseller, package (replaced whole) or renewal.

    \b
    Example:
      mailadmin customers update example.com --package user_mailboxes=50 --dry-run
    """
    from mailadmin.orchestration.records import UNSET

    if reseller is not None and to_host:
        raise click.UsageError("--reseller and --host exclude each other")
    if renewal is not None and no_renewal:
        raise click.UsageError("--renewal and --no-renewal exclude each other")
    owner: Any = None if to_host else (reseller if reseller is not None else UNSET)
    day: Any = None if no_renewal else (_day(renewal) if renewal is not None else UNSET)
    new_package = _package(package) if package else None

    async def work(orch: Orchestrator) -> Any:
        return await orch.update_customer(
            name, reseller=owner, package=new_package, renewal=day, dry_run=dry_run
        )

    _print_change(state, "Customer updated", _run(state, work, finish=True))


@customers.command("remove")
@click.argument("name")
@_DRY_RUN
@_global_options
@pass_state
def customers_remove(state: _State, name: str, dry_run: bool) -> None:
    """Forget customer NAME (its record, add-on sales and suspension); refused while
    its platform still holds mailboxes of it. A customer declared in the configuration
    file comes back on the next command unless it is removed from the file too.

    \b
    Example:
      mailadmin customers remove example.com --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.remove_customer(name, dry_run=dry_run)

    _print_change(state, "Customer removed", _run(state, work, finish=True))


@resellers.command("update")
@click.argument("name")
@click.option("--instance", help="The provider instance the reseller sells.")
@click.option("--prepaid/--not-prepaid", default=None, help="The reseller pays in advance.")
@click.option("--oversell/--no-oversell", default=None, help="A prepaid reseller may oversell.")
@_PACKAGE
@_RENEWAL
@_DRY_RUN
@_global_options
@pass_state
def resellers_update(
    state: _State,
    name: str,
    instance: str | None,
    prepaid: bool | None,
    oversell: bool | None,
    package: tuple[str, ...],
    renewal: Any,
    dry_run: bool,
) -> None:
    """Change reseller NAME: instance, terms, package (replaced whole) or renewal.

    \b
    Example:
      mailadmin resellers update acme --package user_mailboxes=800
    """
    from mailadmin.orchestration.records import UNSET

    async def work(orch: Orchestrator) -> Any:
        return await orch.update_reseller(
            name,
            instance=instance if instance is not None else UNSET,
            prepaid=prepaid,
            may_oversell=oversell,
            package=_package(package) if package else None,
            renewal=_day(renewal) if renewal is not None else UNSET,
            dry_run=dry_run,
        )

    _print_change(state, "Reseller updated", _run(state, work, finish=True))


@resellers.command("remove")
@click.argument("name")
@_DRY_RUN
@_global_options
@pass_state
def resellers_remove(state: _State, name: str, dry_run: bool) -> None:
    """Forget reseller NAME; refused while it still has customers.

    \b
    Example:
      mailadmin resellers remove acme --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.remove_reseller(name, dry_run=dry_run)

    _print_change(state, "Reseller removed", _run(state, work, finish=True))


def _print_change(state: _State, title: str, result: Any) -> None:
    if state.output.as_json:
        state.output.json(result)
        return
    suffix = " (dry run: nothing written)" if result.dry_run else ""
    before, after = result.before or {}, result.after or {}
    rows = [
        [key, _cell(before.get(key)), _cell(after.get(key)) if result.after else "(removed)"]
        for key in dict.fromkeys([*before, *after])
        if key != "name"
    ]
    state.output.table(f"{title}: {result.subject}{suffix}", ["field", "before", "after"], rows)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return "-" if value is None else str(value)
