"""A mailbox's settings after creation, and a sign-on link for its user.

``mailbox set`` changes the display name, forwarding and quota (each given option is one
pipeline call, absolute, so repeating the command is harmless); ``mailbox alias
add|remove|list`` the other addresses it receives mail at; ``mailbox sso`` prints a link
that signs its user in (a credential: printed once, never logged or journalled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from mailadmin.cli.commands import _print_single, mailbox
from mailadmin.cli.root import _global_options, _run, _State, pass_state
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__: list[str] = []

_DRY_RUN = click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")


@mailbox.command("set")
@click.argument("address")
@click.option("--display-name", default=None, help="The name shown for the mailbox.")
@click.option(
    "--forward-to",
    default=None,
    metavar="ADDRESS",
    help="Forward its mail there (a copy stays); '' stops forwarding.",
)
@click.option("--quota", type=int, default=None, metavar="MB", help="Storage quota in MB.")
@_DRY_RUN
@_global_options
@pass_state
def mailbox_set(
    state: _State,
    address: str,
    display_name: str | None,
    forward_to: str | None,
    quota: int | None,
    dry_run: bool,
) -> None:
    """Change settings of the mailbox ADDRESS: each option given is set to that value.

    \b
    Examples:
      mailadmin mailbox set carla@example.com --display-name "Carla Rossi"
      mailadmin mailbox set carla@example.com --forward-to carla@elsewhere.example
      mailadmin mailbox set carla@example.com --forward-to '' --quota 4096 --dry-run
    """
    if display_name is None and forward_to is None and quota is None:
        raise errors.ValidationError("Give at least one of --display-name, --forward-to, --quota")

    async def work(orch: Orchestrator) -> list[Any]:
        results: list[Any] = []
        if display_name is not None:
            results.append(await orch.set_display_name(address, display_name, dry_run=dry_run))
        if forward_to is not None:
            results.append(await orch.set_forwarding(address, forward_to, dry_run=dry_run))
        if quota is not None:
            results.append(await orch.set_quota(address, quota, dry_run=dry_run))
        return results

    results = _run(state, work, finish=True)
    if state.output.as_json:
        state.output.json(results)
        return
    for result in results:
        _print_single(state.output, _TITLES[result.operation], result)


_TITLES = {
    "set_display_name": "Display name",
    "set_forwarding": "Forwarding",
    "set_quota": "Quota (MB)",
}


@mailbox.group("alias")
def alias() -> None:
    """The other addresses a mailbox receives mail at."""


@alias.command("add")
@click.argument("address")
@click.argument("alias_address", metavar="ALIAS")
@_DRY_RUN
@_global_options
@pass_state
def alias_add(state: _State, address: str, alias_address: str, dry_run: bool) -> None:
    """Let the mailbox ADDRESS receive mail at ALIAS too (adding one it has changes nothing).

    \b
    Example:
      mailadmin mailbox alias add carla@example.com sales@example.com
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.add_alias(address, alias_address, dry_run=dry_run)

    _print_single(state.output, "Alias added", _run(state, work, finish=True))


@alias.command("remove")
@click.argument("address")
@click.argument("alias_address", metavar="ALIAS")
@_DRY_RUN
@_global_options
@pass_state
def alias_remove(state: _State, address: str, alias_address: str, dry_run: bool) -> None:
    """Stop the mailbox ADDRESS receiving mail at ALIAS.

    \b
    Example:
      mailadmin mailbox alias remove carla@example.com sales@example.com
    """

    async def work(orch: Orchestrator) -> Any:
        return await orch.remove_alias(address, alias_address, dry_run=dry_run)

    _print_single(state.output, "Alias removed", _run(state, work, finish=True))


@alias.command("list")
@click.argument("address")
@_global_options
@pass_state
def alias_list(state: _State, address: str) -> None:
    """The aliases of the mailbox ADDRESS.

    \b
    Example:
      mailadmin mailbox alias list carla@example.com
    """
    aliases = _run(state, lambda orch: orch.list_aliases(address))
    if state.output.as_json:
        state.output.json({"mailbox": address, "aliases": aliases})
    else:
        note = [] if aliases else ["(no aliases)"]
        state.output.table(f"Aliases of {address}", ["alias"], [[a] for a in aliases], note)


@mailbox.command("sso")
@click.argument("address")
@_global_options
@pass_state
def mailbox_sso(state: _State, address: str) -> None:
    """Print a link that signs the user of ADDRESS in without a password.

    The link is a credential: hand it to that user only. It is never logged or
    journalled; it expires as the platform decides (Zimbra: within minutes).

    \b
    Example:
      mailadmin mailbox sso carla@example.com
    """
    found = _run(state, lambda orch: orch.single_sign_on(address))
    if state.output.as_json:
        state.output.json({"mailbox": address, "url": found.url, "expires": found.expires})
    else:
        click.echo(found.url)
