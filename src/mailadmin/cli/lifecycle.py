"""The account-lifecycle commands a hosting panel drives: a mailbox's password, and the
suspension of a mailbox or a whole customer (non-payment, abuse) and its end.

``mailbox password|suspend|resume`` join the ``mailbox`` group, ``customers
suspend|resume`` the ``customers`` group. Each is one pipeline call: refused outside the
acting identity's reach, journalled (a password masked), ``--dry-run`` sends nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.business import customers
from mailadmin.cli.commands import _print_single, mailbox
from mailadmin.cli.numbers import WholeNumber
from mailadmin.cli.passwords import password_options, read_password
from mailadmin.cli.root import _global_options, _run, _State, cli, pass_state

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []

_DRY_RUN = click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
_REASON = click.option(
    "--reason",
    default="",
    help="Why, journalled with the change, e.g. 'non-payment' or 'abuse'.",
)


@mailbox.command("password")
@click.argument("address")
@_DRY_RUN
@password_options
@_global_options
@pass_state
def mailbox_password(
    state: _State, address: str, dry_run: bool, password_stdin: bool, password_file: Path | None
) -> None:
    """Set the password of the mailbox ADDRESS.

    Asks for it at a prompt that does not echo (twice), or reads the first line of
    standard input or of a file. The password is never an argument, never stored, never
    logged; the journal keeps it masked. The platform's password rules apply.

    \b
    Examples:
      mailadmin mailbox password carla@example.com
      printf '%s\\n' "$PW" | mailadmin mailbox password carla@example.com --password-stdin
    """
    password = read_password(password_stdin, password_file, ask=True)
    assert password is not None

    async def work(orch: Orchestrator) -> Any:
        return await orch.set_password(address, password, dry_run=dry_run)

    _print_single(state.output, "Password set", _run(state, work, finish=True))


@mailbox.command("suspend")
@click.argument("address")
@_REASON
@_DRY_RUN
@_global_options
@pass_state
def mailbox_suspend(state: _State, address: str, reason: str, dry_run: bool) -> None:
    """Stop all access to the mailbox ADDRESS; nothing of it is deleted.

    \b
    Example:
      mailadmin mailbox suspend carla@example.com --reason abuse
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.suspend_mailbox(address, reason=reason, dry_run=dry_run)

    _print_single(state.output, "Mailbox suspended", _run(state, work, finish=True))


@mailbox.command("resume")
@click.argument("address")
@_REASON
@_DRY_RUN
@_global_options
@pass_state
def mailbox_resume(state: _State, address: str, reason: str, dry_run: bool) -> None:
    """Give the suspended mailbox ADDRESS its access back.

    \b
    Example:
      mailadmin mailbox resume carla@example.com --reason "paid"
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.resume_mailbox(address, reason=reason, dry_run=dry_run)

    _print_single(state.output, "Mailbox resumed", _run(state, work, finish=True))


@customers.command("suspend")
@click.argument("tenant")
@_REASON
@_DRY_RUN
@_global_options
@pass_state
def customers_suspend(state: _State, tenant: str, reason: str, dry_run: bool) -> None:
    """Stop all access to every mailbox of TENANT on its platform (non-payment, abuse);
    nothing is deleted.

    \b
    Example:
      mailadmin customers suspend example.com --reason non-payment --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.suspend_tenant(tenant, reason=reason, dry_run=dry_run)

    _print_single(state.output, "Customer suspended", _run(state, work, finish=True))


@customers.command("resume")
@click.argument("tenant")
@_REASON
@_DRY_RUN
@_global_options
@pass_state
def customers_resume(state: _State, tenant: str, reason: str, dry_run: bool) -> None:
    """Give the suspended TENANT its access back on its platform.

    \b
    Example:
      mailadmin customers resume example.com --reason paid
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.resume_tenant(tenant, reason=reason, dry_run=dry_run)

    _print_single(state.output, "Customer resumed", _run(state, work, finish=True))


@customers.command("create")
@click.argument("tenant")
@click.option("--reseller", help="The reseller that owns the new customer (default: the host).")
@click.option("--plan", help="The catalogue plan new mailboxes get (where the platform keeps one).")
@click.option(
    "--max-mailboxes",
    type=WholeNumber(0, 2**31 - 1),
    help="The most mailboxes the tenant may hold (where the platform keeps a limit).",
)
@_DRY_RUN
@_global_options
@pass_state
def customers_create(
    state: _State,
    tenant: str,
    reseller: str | None,
    plan: str | None,
    max_mailboxes: int | None,
    dry_run: bool,
) -> None:
    """Create TENANT (configured under [tenants]) on its platform and record its
    customer, as one journalled call; `journal resume` completes one cut short.

    \b
    Example:
      mailadmin customers create new.example.org --plan mail --max-mailboxes 25 --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.create_tenant(
            tenant, reseller=reseller, plan=plan, max_mailboxes=max_mailboxes, dry_run=dry_run
        )

    _print_single(state.output, "Customer created", _run(state, work, finish=True))


@customers.command("delete")
@click.argument("tenant")
@_DRY_RUN
@_global_options
@pass_state
def customers_delete(state: _State, tenant: str, dry_run: bool) -> None:
    """Delete TENANT from its platform and forget its customer record, as one journalled
    call. Platforms refuse a tenant that still has mailboxes: delete them first.

    \b
    Example:
      mailadmin customers delete new.example.org --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.delete_tenant(tenant, dry_run=dry_run)

    _print_single(state.output, "Customer deleted", _run(state, work, finish=True))


@cli.command("terminate")
@click.argument("tenant")
@click.option("--yes", is_flag=True, help="Confirm: remove the tenant and every mailbox of it.")
@_DRY_RUN
@_global_options
@pass_state
def terminate(state: _State, tenant: str, yes: bool, dry_run: bool) -> None:
    """Remove TENANT and every mailbox of it from its platform, and forget its customer.

    Nothing is sent without --yes: run it with --dry-run first to see what goes. Each
    mailbox, then the tenant, is one journalled item of one run: a termination cut short
    is finished by 'mailadmin journal resume'.

    \b
    Example:
      mailadmin terminate example.com --dry-run
      mailadmin terminate example.com --yes
    """
    from mailadmin.cli.output import EXIT_PROVIDER
    from mailadmin.cli.tables import change_table

    if not yes and not dry_run:
        raise click.UsageError(
            f"terminate deletes {tenant} and all its mail: check it with --dry-run, then "
            "confirm with --yes"
        )

    async def work(orch: Orchestrator) -> Any:
        return await orch.terminate(tenant, dry_run=dry_run)

    result = _run(state, work)
    if state.output.as_json:
        state.output.json(result)
    else:
        suffix = " (dry run: nothing sent)" if dry_run else ""
        state.output.table(f"Terminate {tenant}{suffix}", *change_table(result.items))
        if result.run_id and not dry_run:
            state.output.line(f"run {result.run_id}: cut short, finish with 'journal resume'")
    if result.failed:
        raise SystemExit(EXIT_PROVIDER)
