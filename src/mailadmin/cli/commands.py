"""The ``mailadmin`` commands. Each builds the orchestrator, calls it and prints the result.

They register on the root group of :mod:`mailadmin.cli.root` when this module is imported,
which that group does when one of them runs (``mailadmin --help`` imports none of this).
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailadmin.cli.listing import DEFAULT_LIMIT, cut, limit_options
from mailadmin.cli.numbers import WholeNumber
from mailadmin.cli.output import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_OVER_USE,
    EXIT_PROVIDER,
    Output,
)
from mailadmin.cli.passwords import password_options
from mailadmin.cli.planfile import FORMAT_HELP
from mailadmin.cli.root import (
    _global_options,
    _Group,
    _prepare,
    _run,
    _State,
    cli,
    confirm_removal,
    main,
    pass_state,
    yes_option,
)
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.cli.batch import Batch
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.storage import Journal, JournalEntry

__all__ = ["cli", "main"]

T = TypeVar("T")
_CONCURRENCY_HELP = "How many changes are sent at once (1-256)."
_ON_ERROR_HELP = (
    "What a failed item does. collect: every item is sent, failures are listed with the "
    "others, exit 4. skip: every item is sent, failures are listed apart, exit 0. raise: "
    "no new item is sent after the first failure, exit 4. Every mode prints the failed "
    "items with their reasons and a summary."
)


# -- commands -----------------------------------------------------------------------------


@cli.command()
@click.option(
    "--matrix",
    is_flag=True,
    help="Print the capability matrix (Markdown; with --json, one object per provider).",
)
@_global_options
@pass_state
def providers(state: _State, matrix: bool) -> None:
    """Installed providers, their capabilities and plugin load errors.

    \b
    Examples:
      mailadmin providers
      mailadmin providers --matrix --json
    """
    from mailadmin.contract.matrix import capability_matrix, parse_matrix, provider_rows

    registry = state.registry
    if matrix:
        text = capability_matrix(registry)
        if state.output.as_json:
            parsed = parse_matrix(text)
            state.output.json(
                {
                    "matrix": {
                        provider: {
                            key: {"supported": f.supported, "reason": f.reason}
                            for key, f in features.items()
                        }
                        for provider, features in parsed.items()
                    }
                }
            )
        else:
            click.echo(text, nl=False)
        return
    rows = provider_rows(registry)
    load_errors = [
        {"plugin": e.plugin, "distribution": e.distribution, "message": e.message}
        for e in registry.errors
    ]
    if state.output.as_json:
        state.output.json({"providers": rows, "errors": load_errors})
        return
    # Distribution and version are in --json and 'mailadmin --version'; 80 columns keep
    # the rest.
    state.output.table(
        "Providers",
        ["name", "platform", "mock", "licence", "capabilities"],
        [
            [
                r["name"],
                r["platform"],
                r["mock"],
                # The model's kind; its minimum is in --json and providers --matrix.
                str(r.get("licence", "")).split(" (")[0],
                _summarise(r["capabilities"]),
            ]
            for r in rows
        ],
        ["each capability in full: mailadmin providers --matrix"],
        wrap=("platform", "capabilities"),
    )
    if load_errors:
        state.output.table(
            "Plugins that failed to load",
            ["plugin", "distribution", "reason"],
            [[e["plugin"], e["distribution"], e["message"]] for e in load_errors],
        )


@cli.command()
@_global_options
@pass_state
def check(state: _State) -> None:
    """Test the connection and credentials of every configured instance.

    Exits 4 when an instance cannot be reached or answers not-ok.

    \b
    Example:
      mailadmin check --json
    """
    from mailadmin.cli.tables import check_table

    async def work(orch: Orchestrator) -> Batch[Any]:
        _prepare(orch, orch.instances)
        return await _batch(
            state, "checking", [(n, _bound(orch.test_connection, n)) for n in orch.instances]
        )

    batch = _run(state, work, read_only=True)
    # An instance that answers "not ok" (wrong credentials) failed its check: the row,
    # the summary, the JSON counts and the exit code say so alike.
    _print_batch(
        state.output,
        "Connection check",
        batch,
        check_table,
        outcome=_check_outcome,
        wrap=("platform", "version", "detail"),
    )
    bad = any(item.value is not None and not item.value.ok for item in batch.items)
    _exit_for(batch, extra_failure=bad)


@cli.command()
@click.argument("instances", nargs=-1)
@_global_options
@pass_state
def plans(state: _State, instances: tuple[str, ...]) -> None:
    """The neutral plan catalogue and each instance's native plans.

    INSTANCES: configured instance names (default: every instance).

    \b
    Example:
      mailadmin plans ox-eu
    """

    async def work(orch: Orchestrator) -> dict[str, Any]:
        names = list(instances) or orch.instances
        _prepare(orch, names)
        native = {name: await orch.list_plans(name) for name in names}
        return {"catalogue": orch.config.plans, "native": native}

    data = _run(state, work, read_only=True)
    if state.output.as_json:
        state.output.json(data)
        return
    state.output.table(
        "Catalogue",
        ["plan", "rank", "description"],
        [[name, spec.rank, spec.description] for name, spec in data["catalogue"].items()],
    )
    for instance, native in data["native"].items():
        state.output.table(
            f"Native plans of {instance}",
            ["native plan", "neutral plan", "quota (MB)", "description"],
            [[p.native_name, p.neutral_name, p.quota_mb, p.description] for p in native],
        )


@cli.command()
@click.argument("tenants", nargs=-1)
@click.option(
    "--distributed/--in-process",
    default=None,
    help="Count on the workers (mailadmin worker; PostgreSQL store) or in this process. "
    "Default: [worker] distributed.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="With --distributed: print the run id and return at once (mailadmin runs show ID).",
)
@_global_options
@pass_state
def count(state: _State, tenants: tuple[str, ...], distributed: bool | None, detach: bool) -> None:
    """Mailboxes per tenant by kind and by plan (default: every tenant).

    TENANTS: tenant names or mail domains of the configuration. An unknown one exits 2
    before anything is asked. "unmapped" counts user mailboxes whose platform setting
    matches no plan of the catalogue (on OX App Suite, the context's admin user).

    \b
    Examples:
      mailadmin count
      mailadmin count example.com example.org --json
    """
    from mailadmin.cli.tables import count_table

    async def work(orch: Orchestrator) -> Batch[Any] | None:
        # A reseller (--as) counts the customers it reaches, and only those.
        names = list(tenants) or orch.reachable_tenants()
        _prepare(orch, [orch.config.instance_of(name) for name in names])
        items = [{"tenant": name} for name in names]
        if orch.runs.distributed(distributed, False):
            from mailadmin.cli.runs import run_distributed

            return await run_distributed(
                state, orch, "count", items, detach=detach, on_error="collect"
            )
        if detach:
            raise click.UsageError("--detach needs --distributed")
        batch = await _run_items(state, orch, "counting", "count", items)
        return batch.model_copy(update={"run_id": None})

    batch = _run(state, work)  # not read_only: a count records the use it counted
    if batch is None:  # detached: the run id is printed
        return
    _print_batch(state.output, "Mailboxes", batch, count_table)
    _exit_for(batch)


@cli.command("set-plan", epilog=f"CSV format of --file: {FORMAT_HELP}.")
@click.argument("address", required=False)
@click.argument("plan", required=False)
@click.option(
    "--file",
    "from_file",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="CSV of changes ('-' reads stdin): header 'address,plan', then one change a line.",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help=_CONCURRENCY_HELP,
)
@click.option(
    "--on-error",
    type=click.Choice(["collect", "skip", "raise"]),
    default="collect",
    show_default=True,
    help=_ON_ERROR_HELP,
)
@click.option(
    "--distributed/--in-process",
    default=None,
    help="Run --file on the workers (mailadmin worker; PostgreSQL store) or in this process. "
    "Default: [worker] distributed.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="With --distributed: print the run id and return at once (mailadmin runs show ID).",
)
@_global_options
@pass_state
def set_plan(
    state: _State,
    address: str | None,
    plan: str | None,
    from_file: str | None,
    dry_run: bool,
    concurrency: int,
    on_error: str,
    distributed: bool | None,
    detach: bool,
) -> None:
    """Put a mailbox on a plan: ADDRESS PLAN, or every change of --file.

    One change prints its result; --file prints every item, the failed ones with their
    reasons, and a summary line ("298 changed, 0 unchanged, 2 failed"). Ctrl-C sends no
    new item, waits for those on the wire, and prints what was done (exit 130).

    \b
    Examples:
      mailadmin set-plan anna@example.com sync --dry-run
      mailadmin set-plan --file changes.csv --concurrency 16 --on-error raise

    \b
    changes.csv:
      address,plan
      anna@example.com,sync
      ben@example.com,mail
    """
    if from_file is None:
        if not (address and plan):
            raise click.UsageError("Give ADDRESS and PLAN, or --file with address,plan rows")
        result = _run(
            state, lambda orch: orch.set_plan(address, plan, dry_run=dry_run), finish=True
        )
        _print_single(state.output, "Plan change", result)
        return
    if address or plan:
        raise click.UsageError("Give either ADDRESS PLAN or --file, not both")
    from mailadmin.cli.planfile import read_plan_file

    changes = read_plan_file(_read_input(from_file), from_file)

    items = [{"mailbox": a, "plan": p} for a, p in changes]

    def line(index: int) -> str:
        return f"line {index + 2}"  # the header is line 1

    async def work(orch: Orchestrator) -> Batch[Any] | None:
        # The run service checks every line against the catalogue and the tenants before
        # one is sent, whether the run goes to the workers or not.
        try:
            routed = orch.runs.check("set_plan", items, label=line)
        except errors.ValidationError as exc:
            raise errors.ValidationError(f"{from_file}: {exc.message}") from None
        _prepare(orch, [found.instance for found in routed])
        if orch.runs.distributed(distributed, dry_run):
            from mailadmin.cli.runs import run_distributed

            return await run_distributed(
                state, orch, "set_plan", items, detach=detach, on_error=on_error
            )
        if detach:
            raise click.UsageError("--detach needs --distributed")
        # The whole plan is journalled first: a run cut short (Ctrl-C, a kill) is finished
        # by 'mailadmin journal resume --run ID'.
        batch = await _run_items(
            state,
            orch,
            "changing plans",
            "set_plan",
            items,
            dry_run=dry_run,
            concurrency=concurrency,
            stop_on_error=on_error == "raise",
            label=line,
        )
        return batch.model_copy(update={"run_id": None if dry_run else batch.run_id})

    batch = _run(state, work)
    if batch is None:  # detached: the run id is printed
        return
    _print_changes(state.output, "Plan changes", batch, dry_run, on_error)


@cli.command(context_settings={"ignore_unknown_options": True})
@click.argument("tenant")
@click.argument("addon")
@click.argument("quantity", type=WholeNumber(0, 2**31 - 1))
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@_global_options
@pass_state
def addon(state: _State, tenant: str, addon: str, quantity: int, dry_run: bool) -> None:
    """Set the TOTAL QUANTITY of an ADDON for a TENANT (0 to 2147483647).

    The quantity is absolute, so sending it twice is harmless. ADDON is a catalogue add-on,
    optionally scoped to a plan: shared_mailbox, storage_gb, mailboxes:sync.

    \b
    Examples:
      mailadmin addon example.com shared_mailbox 5 --dry-run
      mailadmin addon example.com mailboxes:sync 20
    """
    result = _run(
        state,
        lambda orch: orch.apply_addon(tenant, addon, quantity, dry_run=dry_run),
        finish=True,
    )
    _print_single(state.output, "Add-on", result)


@cli.command()
@click.argument("instances", nargs=-1)
@_global_options
@pass_state
def licence(state: _State, instances: tuple[str, ...]) -> None:
    """Seats licensed and used, features, validity and state per instance.

    INSTANCES: configured instance names (default: every instance); an unknown one exits 2.

    \b
    Example:
      mailadmin licence ox-eu --json
    """
    from mailadmin.cli.tables import licence_table

    async def work(orch: Orchestrator) -> Batch[Any]:
        names = list(instances) or orch.instances
        _prepare(orch, names)
        return await _batch(state, "licences", [(n, _bound(orch.get_licence, n)) for n in names])

    batch = _run(state, work, read_only=True)
    _print_batch(state.output, "Licences", batch, licence_table)
    _print_features(state.output, batch.items)
    _exit_for(batch)


@cli.command()
@click.argument("name", required=False, type=click.Choice(["usage", "licences", "renewals"]))
@click.option(
    "--fail-on-over-use",
    is_flag=True,
    help="Exit 5 when a licence or an allocation kept by mailadmin is over-used.",
)
@click.option("--reseller", help="Only this reseller's customers (usage, renewals).")
@click.option(
    "--csv",
    "as_csv",
    is_flag=True,
    help="Print the named report as CSV. Only reports offer CSV; every command offers "
    "--json (with --fields), and off a terminal tables are tab-separated lines.",
)
@_global_options
@pass_state
def report(
    state: _State, name: str | None, fail_on_over_use: bool, reseller: str | None, as_csv: bool
) -> None:
    """Report NAME: usage, licences or renewals (docs/tenancy.md). Without NAME: mailboxes
    per tenant, licence use per instance and allocations kept by mailadmin (allocated, used,
    remaining), over-use flagged.

    The JSON output carries "over_use": true when anything is over-used.

    \b
    Example:
      mailadmin report --fail-on-over-use
      mailadmin report usage --reseller acme --csv
    """
    from mailadmin.cli.tables import count_table, licence_table, problems

    if name is not None or as_csv or reseller is not None:
        from mailadmin.cli.reports import named_report

        named_report(state, name, reseller=reseller, as_csv=as_csv, fail=fail_on_over_use)
        return

    async def work(orch: Orchestrator) -> tuple[Any, Any, Any]:
        _prepare(orch, orch.instances)
        with state.output.progress("reporting", len(orch.tenants)) as progress:
            counts = await orch.count_all(progress=progress)
        kept = [row for i in counts.items if i.value for row in orch.allocation_use(i.value)]
        return counts, await orch.licences(), kept

    counts, licences, kept = _run(state, work)
    over_use = any(i.value is not None and i.value.over_used for i in licences.items) or any(
        r.over_used for r in kept
    )
    if state.output.as_json:
        state.output.json(
            {"mailboxes": counts, "licences": licences, "allocations": kept, "over_use": over_use}
        )
    else:
        state.output.table("Mailboxes", *count_table(counts.items), problems(counts.items))
        state.output.table("Licences", *licence_table(licences.items), problems(licences.items))
        if kept:
            state.output.table(
                "Allocations kept by mailadmin",
                ["tenant", "add-on", "allocated", "used", "remaining", "over-used"],
                [[r.tenant, r.addon, r.allocated, r.used, r.remaining, r.over_used] for r in kept],
            )
        if over_use:
            state.output.line("over-use: more is used than licensed or allocated")
    if not (counts.ok and licences.ok):
        raise SystemExit(EXIT_PROVIDER)
    if over_use and fail_on_over_use:
        raise SystemExit(EXIT_OVER_USE)


@cli.group(cls=_Group)
@_global_options
def mailbox() -> None:
    """List, create and delete mailboxes; set passwords, suspend and resume."""


@mailbox.command("list")
@click.argument("tenant")
@limit_options
@_global_options
@pass_state
def mailbox_list(
    state: _State, tenant: str, limit: int = DEFAULT_LIMIT, show_all: bool = False
) -> None:
    """Every mailbox of TENANT (a tenant name or one of its domains).

    \b
    Example:
      mailadmin mailbox list example.com
    """
    from mailadmin.cli.tables import mailbox_table

    every = _run(state, lambda orch: orch.list_mailboxes(tenant))
    mailboxes, note = cut(every, limit, show_all, "mailboxes")
    if state.output.as_json:
        state.output.json({"tenant": tenant, "mailboxes": mailboxes, "total": len(every)})
        if note:
            state.output.note(note)
    else:
        state.output.table(
            f"Mailboxes of {tenant}", *mailbox_table(mailboxes), [note] if note else []
        )


@mailbox.command("create")
@click.argument("address")
@click.option(
    "--kind",
    type=click.Choice(["user", "shared", "room", "equipment"]),
    default="user",
    show_default=True,
    help="What the mailbox is for.",
)
@click.option("--name", "display_name", default="", help="Display name, e.g. 'Anna Meyer'.")
@click.option(
    "--plan",
    default=None,
    help="Catalogue plan of a user mailbox, e.g. sync (refused for other kinds).",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@click.option("--ask-password", is_flag=True, help="Ask for the password at a prompt (not echoed).")
@password_options
@_global_options
@pass_state
def mailbox_create(
    state: _State,
    address: str,
    kind: str,
    display_name: str,
    plan: str | None,
    dry_run: bool,
    ask_password: bool,
    password_stdin: bool,
    password_file: Path | None,
) -> None:
    """Create the mailbox ADDRESS in the tenant that owns its domain.

    A shared, room or equipment mailbox beyond an allocation kept by mailadmin is refused.
    Without a password the platform sets one nobody knows (set one later with
    'mailbox password'); a password is never taken as an argument, stored or logged.

    \b
    Examples:
      mailadmin mailbox create carla@example.com --plan sync --name "Carla Diaz" --ask-password
      printf '%s\\n' "$PW" | mailadmin mailbox create carla@example.com --password-stdin
      mailadmin mailbox create meeting-1@example.com --kind room --dry-run
    """
    from mailadmin.cli.passwords import read_password
    from mailadmin.contract.models import MailboxKind, NewMailbox

    password = read_password(password_stdin, password_file, ask=ask_password)

    if plan is not None and kind != "user":
        raise click.BadParameter(
            f"a {kind} mailbox takes no plan: plans apply to user mailboxes only",
            param_hint="--plan",
        )

    async def work(orch: Orchestrator) -> Any:
        _, ref = orch.mailbox(address)
        try:
            new = NewMailbox(
                address=address,
                kind=MailboxKind(kind),
                display_name=display_name,
                plan=plan,
                password=password,
            )
        except ValueError as exc:
            raise errors.ValidationError(f"Invalid mailbox: {_first_error(exc)}") from None
        return await orch.create_mailbox(ref.tenant, new, dry_run=dry_run)

    _print_single(state.output, "Mailbox created", _run(state, work, finish=True))


@mailbox.command("delete")
@click.argument("address")
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@yes_option
@_global_options
@pass_state
def mailbox_delete(state: _State, address: str, dry_run: bool, yes: bool) -> None:
    """Delete the mailbox ADDRESS; one that is already gone is 'unchanged'.

    Asks for confirmation on a terminal; scripts pass --yes (without a terminal and
    without --yes nothing is deleted, exit 2). A dry run asks nothing.

    \b
    Examples:
      mailadmin mailbox delete carla@example.com --dry-run
      mailadmin mailbox delete carla@example.com --yes
    """
    if not dry_run:
        confirm_removal(f"Delete the mailbox {address} and everything in it?", yes)
    result = _run(state, lambda orch: orch.delete_mailbox(address, dry_run=dry_run), finish=True)
    _print_single(state.output, "Mailbox deleted", result)


@cli.group(cls=_Group, invoke_without_command=True)
@_global_options
@click.pass_context
def journal(ctx: click.Context) -> None:
    """Read and settle the journal of writes (every write, dry runs included).

    Without a subcommand: the latest 50 records, as 'journal list' prints them.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(journal_list)


_OUTCOMES = ["changed", "unchanged", "accepted", "partial", "failed", "unknown"]


@journal.command("list")
@click.option(
    "--since",
    help="Only records at or after this time: ISO date or time (2026-11-30, "
    "2026-11-30T08:00), or an age (30m, 12h, 7d).",
)
@click.option("--until", help="Only records before this time (same forms as --since).")
@click.option("--subject", help="Only records whose subject contains this text (an address).")
@click.option(
    "--operation",
    type=click.Choice(["set_plan", "apply_addon", "create_mailbox", "delete_mailbox"]),
    help="Only records of this operation.",
)
@click.option(
    "--outcome",
    type=click.Choice([*_OUTCOMES, "started", "refused"]),
    help="Only records that ended so (started: intent recorded, no end yet; refused: a "
    "policy said no).",
)
@click.option("--instance", help="Only records of this provider instance.")
@click.option("--run", "run_id", help="Only records of this bulk run.")
@click.option("--identity", help="Only records made acting as this identity (reseller:acme).")
@click.option("--open", "open_only", is_flag=True, help="Only records 'journal resume' settles.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, 100000),
    help="At most this many records, newest first.",
)
@click.option("--all", "show_all", is_flag=True, help="Every record (overrides --limit).")
@_global_options
@pass_state
def journal_list(
    state: _State,
    since: str | None = None,
    until: str | None = None,
    subject: str | None = None,
    operation: str | None = None,
    outcome: str | None = None,
    instance: str | None = None,
    run_id: str | None = None,
    identity: str | None = None,
    open_only: bool = False,
    limit: int = 50,
    show_all: bool = False,
) -> None:
    """List journal records, newest first, filtered by who, when, what, subject, outcome, run.

    \b
    Examples:
      mailadmin journal list --since 1d --outcome failed
      mailadmin journal list --subject anna@example.com --json
      mailadmin journal list --run 3f2a9c1e0b7d4a55 --open
    """
    start = _parse_time(since, "--since")
    end = _parse_time(until, "--until")
    if identity is not None:
        from mailadmin.rules.identities import Identity

        identity = str(Identity.parse(identity))
    status = outcome if outcome in ("started", "refused") else None

    filters: dict[str, Any] = {
        "since": start,
        "until": end,
        "subject": subject,
        "operation": operation,
        "status": status,
        "outcome": outcome if status is None else None,
        "instance": instance,
        "run": run_id,
        "identity": identity,
        "open_only": open_only,
    }

    if show_all:
        # Large enough for any journal; the count below then equals the rows read.
        limit = 10**12

    def read(journal: Journal) -> tuple[list[JournalEntry], int]:
        found = journal.entries(limit=limit, **filters)
        # Counted only when the limit may have cut the list short.
        return found, journal.count(**filters) if len(found) == limit else len(found)

    entries, total = _with_journal(state, read)
    if state.output.as_json:
        state.output.json({"entries": [_entry_json(e) for e in entries], "total": total})
        return
    # Five columns fit 80: who, instance, before, after and errors are in
    # 'journal show ID' and --json.
    notes = ["before, after, who and why: mailadmin journal show ID"] if entries else []
    if total > len(entries):
        notes.append(
            f"showing {len(entries)} of {total} records (newest first); see more with "
            f"--limit {min(total, 100000)} or --all, or narrow with --since, --subject, "
            "--outcome"
        )
    state.output.table(
        "Journal",
        ["id", "at", "operation", "subject", "outcome"],
        [
            [
                e.id,
                e.at.strftime("%Y-%m-%d %H:%M"),
                e.operation,
                e.subject,
                _outcome_text(e) + (" (dry run)" if e.dry_run else ""),
            ]
            for e in entries
        ],
        notes,
    )


@journal.command("show")
@click.argument("entry_id", metavar="ID", type=int)
@_global_options
@pass_state
def journal_show(state: _State, entry_id: int) -> None:
    """Show one journal record: intent, state before and after, outcome, debug detail.

    \b
    Example:
      mailadmin journal show 42 --json
    """
    entry = _with_journal(state, lambda journal: journal.get(entry_id))
    if entry is None:
        # A local record: a usage error (exit 2), not a platform's "not found" (exit 4).
        raise errors.ValidationError(f"The journal has no record {entry_id}")
    data = _entry_json(entry, debug=True)
    if state.output.as_json:
        state.output.json(data)
        return
    state.output.table(
        f"Journal record {entry_id}",
        ["field", "value"],
        [
            [name, _json_value(value)]
            for name, value in data.items()
            if value not in (None, "", [], {})
        ],
    )


def _json_value(value: Any) -> Any:
    """Arguments and states as JSON (``{"plan": "sync"}``), never a Python repr."""
    if isinstance(value, dict | list | tuple):
        import json

        from mailadmin.cli.output import _plain

        return json.dumps(_plain(value), sort_keys=True, default=str, ensure_ascii=False)
    return value


@journal.command("resume")
@click.option("--run", "run_id", help="Only this bulk run (its id is in 'journal list').")
@click.option(
    "--concurrency",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Subjects settled at once.",
)
@_global_options
@pass_state
def journal_resume(state: _State, run_id: str | None, concurrency: int) -> None:
    """Settle every write the journal leaves open, and finish bulk runs cut short.

    Reads each subject's state on its platform: what is already there is marked, what is
    missing is applied (writes are absolute), and the journal record is completed. Items of
    a run that never started are run. Safe to run twice; run it when the process that
    made the writes is gone.

    \b
    Examples:
      mailadmin journal resume
      mailadmin journal resume --run 3f2a9c1e0b7d4a55 --json
    """

    async def work(orch: Orchestrator) -> Any:
        with state.output.progress("resuming", 0) as progress:
            return await orch.resume(run=run_id, concurrency=concurrency, progress=progress)

    result = _run(state, work)
    from mailadmin.cli.batch import Batch

    batch = Batch[Any](items=result.items)
    if not result.items and not state.output.as_json:
        state.output.line("nothing to resume: every journal record is settled")
        return
    _print_changes(state.output, "Resumed", batch, False, "collect")


@journal.command("prune")
@click.option(
    "--before",
    required=True,
    help="Delete the records made before this time: ISO date or time, or an age (90d).",
)
@yes_option
@_global_options
@pass_state
def journal_prune(state: _State, before: str, yes: bool) -> None:
    """Delete journal records older than --before (audit data is kept until pruned).

    Open records (no final outcome yet) are kept: 'journal resume' still needs them.
    Asks for confirmation on a terminal; scripts pass --yes.

    \b
    Example:
      mailadmin journal prune --before 2026-01-01 --yes
    """
    moment = _parse_time(before, "--before")
    confirm_removal(
        f"Delete the settled journal records made before {moment:%Y-%m-%d %H:%M} UTC?", yes
    )
    deleted = _with_journal(state, lambda journal: journal.prune(moment))
    if state.output.as_json:
        state.output.json({"deleted": deleted, "before": moment})
        return
    state.output.line(f"deleted {deleted} journal records made before {moment:%Y-%m-%d %H:%M} UTC")


@cli.command()
@click.option(
    "--journal-dir",
    type=click.Path(file_okay=False),
    help="Keep the demo journal in this folder (default: a temporary one).",
)
@_global_options
@pass_state
def demo(state: _State, journal_dir: str | None) -> None:
    """Serve the mock platforms on loopback and drive them through the orchestrator.

    \b
    Example:
      mailadmin demo
    """
    from mailadmin.cli.demo import DemoStep, demo_config, run_demo

    steps: list[DemoStep] = []

    def emit(step: DemoStep) -> None:
        steps.append(step)
        if not state.output.as_json:
            state.output.table(step.title, step.columns, step.rows, step.notes)

    import tempfile

    with (
        tempfile.TemporaryDirectory(prefix="mailadmin-demo-") as scratch,
        demo_config(state.registry, Path(journal_dir or scratch)) as (config, scenarios, endpoints),
    ):
        if not scenarios:
            raise errors.ConfigurationError("No installed provider offers a demo")
        for instance, url in endpoints.items():
            state.output.line(f"mock {instance} listening on {url}")
        import asyncio

        ok = asyncio.run(run_demo(config, scenarios, registry=state.registry, emit=emit))
    if state.output.as_json:
        state.output.json({"endpoints": endpoints, "steps": steps, "ok": ok})
    else:
        state.output.line("demo finished" if ok else "demo finished with failures")
    raise SystemExit(EXIT_OK if ok else EXIT_PROVIDER)


@cli.command("new-plugin")
@click.argument("name")
@click.option(
    "--directory",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Where to create the plugin's folder.",
)
@_global_options
@pass_state
def new_plugin(state: _State, name: str, directory: str) -> None:
    """Write a working plugin distribution NAME (provider, mock, conformance test).

    \b
    Example:
      mailadmin new-plugin kerio --directory plugins
    """
    from mailadmin.scaffold import create_plugin

    path = create_plugin(name, Path(directory))
    if state.output.as_json:
        state.output.json({"created": str(path)})
    else:
        state.output.line(f"created plugin in {path}")


@cli.group(cls=_Group)
@_global_options
def mock() -> None:
    """Mock servers of the installed platforms."""


@mock.command("serve")
@click.argument("platform")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default)."
)
@click.option(
    "--port",
    default=0,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on; 0 picks a free one.",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed the state from a JSON or TOML file.",
)
@_global_options
@pass_state
def mock_serve(state: _State, platform: str, host: str, port: int, seed: str | None) -> None:
    """Serve PLATFORM's mock until stopped; prints 'listening on http://HOST:PORT'.

    \b
    Example:
      mailadmin mock serve ox --port 8081
    """
    from mailadmin.mock.serve import serve_forever

    platform_cls = state.registry.mock_platform(platform)
    serve_forever(platform_cls, host=host, port=port, seed=Path(seed) if seed else None)


# -- running and printing -------------------------------------------------------------------


async def _batch(
    state: _State,
    label: str,
    calls: Sequence[tuple[str, Callable[[], Awaitable[Any]]]],
    *,
    concurrency: int = 8,
    stop_on_error: bool = False,
) -> Batch[Any]:
    from mailadmin.cli.batch import run_batch

    with state.output.progress(label, len(calls)) as progress:
        return await run_batch(
            calls, concurrency=concurrency, stop_on_error=stop_on_error, progress=progress
        )


async def _run_items(
    state: _State,
    orch: Orchestrator,
    title: str,
    operation: str,
    items: list[dict[str, Any]],
    *,
    dry_run: bool = False,
    concurrency: int = 8,
    stop_on_error: bool = False,
    label: Callable[[int], str] | None = None,
) -> Batch[Any]:
    """A run of the run service, shown with progress; Ctrl-C sends no new item, waits for
    those on the wire and returns what was done (``interrupted``)."""
    from mailadmin.cli.batch import Batch

    prepared = await orch.runs.prepare(operation, items, dry_run=dry_run, label=label)
    with state.output.progress(title, len(items)) as progress:
        result = await orch.runs.execute(
            prepared,
            concurrency=concurrency,
            stop_on_error=stop_on_error,
            interruptible=True,
            progress=progress,
        )
    return Batch[Any](
        items=result.items,
        stopped=result.stopped,
        interrupted=result.interrupted,
        run_id=result.run_id,
        store_unavailable=result.store_unavailable,
    )


def _bound(
    function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
) -> Callable[[], Awaitable[T]]:
    def call() -> Awaitable[T]:
        return function(*args, **kwargs)

    return call


def _exit_for(batch: Batch[Any], *, extra_failure: bool = False) -> None:
    if batch.interrupted:
        raise SystemExit(EXIT_INTERRUPTED)
    if batch.failed or batch.not_sent or extra_failure:
        raise SystemExit(EXIT_PROVIDER)


def _summary_text(counts: dict[str, int], write: bool) -> str:
    order = ["changed", "unchanged", "accepted", "ok", "failed", "not sent"]
    always = {"changed", "unchanged", "failed"} if write else {"ok", "failed"}
    parts = [f"{counts.get(key, 0)} {key}" for key in order if key in always or counts.get(key)]
    return ", ".join(parts)


def _check_outcome(status: Any) -> str:
    return "ok" if status.ok else "failed"


def _batch_json(batch: Batch[Any], summary: dict[str, int], **more: Any) -> dict[str, Any]:
    return {
        "items": batch.items,
        "failed": summary.get("failed", 0),
        "not_sent": len(batch.not_sent),
        "summary": summary,
        "stopped": batch.stopped,
        "interrupted": batch.interrupted,
        **({"store_unavailable": True} if batch.store_unavailable else {}),
        **(
            {"resume": f"mailadmin journal resume --run {batch.run_id}"}
            if batch.store_unavailable and batch.run_id
            else {}
        ),
        **({"run_id": batch.run_id} if batch.run_id else {}),
        **more,
    }


def _print_batch(
    output: Output,
    title: str,
    batch: Batch[Any],
    table: Callable[[Any], tuple[Any, Any]],
    *,
    outcome: Callable[[Any], str] | None = None,
    wrap: Sequence[str] = (),
) -> None:
    summary = batch.summary(outcome)
    if output.as_json:
        output.json(_batch_json(batch, summary))
        return
    from mailadmin.cli.tables import problems

    output.table(title, *table(batch.items), problems(batch.items), wrap=wrap)
    output.line(_summary_text(summary, write=False))
    if batch.interrupted:
        output.line("interrupted: the items not sent are listed as 'not sent'")


def _print_features(output: Output, items: Sequence[Any]) -> None:
    from mailadmin.cli.tables import feature_table

    if output.as_json:
        return
    columns, rows = feature_table(items)
    if rows:
        output.table("Licensed features", columns, rows)


def _print_changes(
    output: Output, title: str, batch: Batch[Any], dry_run: bool, on_error: str
) -> None:
    from mailadmin.cli.batch import outcome_of
    from mailadmin.cli.tables import change_table

    summary = batch.summary(outcome_of)
    if output.as_json:
        output.json(_batch_json(batch, summary, dry_run=dry_run, on_error=on_error))
    else:
        suffix = " (dry run: nothing sent)" if dry_run else ""
        shown = [i for i in batch.items if i.ok] if on_error == "skip" else batch.items
        output.table(title + suffix, *change_table(shown))
        if on_error == "skip" and batch.failed:
            output.table("Failed items (skipped)", *change_table(batch.failed))
        output.line(_summary_text(summary, write=True) + suffix)
        if batch.stopped:
            output.line("stopped at the first failure (--on-error raise): no new item was sent")
        if batch.store_unavailable:
            output.line("the store (the journal's database) is unreachable: no new item was sent")
        if batch.interrupted or batch.store_unavailable:
            if not batch.store_unavailable:
                output.line("interrupted: no new item was sent; the items in flight finished")
            if batch.run_id:
                output.line(f"finish the run with: mailadmin journal resume --run {batch.run_id}")
    if batch.store_unavailable:
        raise SystemExit(EXIT_PROVIDER)
    if batch.interrupted:
        raise SystemExit(EXIT_INTERRUPTED)
    if on_error != "skip" and (batch.failed or batch.not_sent):
        raise SystemExit(EXIT_PROVIDER)


def _print_single(output: Output, title: str, result: Any) -> None:
    from mailadmin.cli.tables import change_table
    from mailadmin.orchestration.bulk import ItemResult

    if output.as_json:
        output.json(result)
        return
    suffix = " (dry run: nothing sent)" if result.dry_run else ""
    output.table(title + suffix, *change_table([ItemResult[Any](key=result.subject, value=result)]))


def _summarise(features: list[str]) -> str:
    """Optional operations in one short line: ``mailboxes, password, suspend, addon``
    (which kinds and add-ons each covers: ``providers --matrix`` and ``--json``)."""
    from mailadmin.contract.capabilities import REQUIRED

    required = {op.value for op in REQUIRED}
    names = [
        _SHORT.get(name, name)
        for f in features
        if f not in required
        for name in [f.partition(":")[0]]
    ]
    return ", ".join(dict.fromkeys(names)) or "required operations only"


#: Short words for the table's 80 columns: ``mailboxes`` stands for list, create and
#: delete; ``suspend`` for suspending and resuming mailboxes and tenants; ``tenants`` for
#: listing, creating and removing them.
_SHORT = {
    "list_mailboxes": "mailboxes",
    "create_mailbox": "mailboxes",
    "delete_mailbox": "mailboxes",
    "set_password": "password",
    "suspend_mailbox": "suspend",
    "resume_mailbox": "suspend",
    "suspend_tenant": "suspend",
    "resume_tenant": "suspend",
    "set_display_name": "settings",
    "set_forwarding": "settings",
    "set_quota": "settings",
    "add_alias": "settings",
    "remove_alias": "settings",
    "list_aliases": "settings",
    "single_sign_on": "sso",
    "list_tenants": "tenants",
    "create_tenant": "tenants",
    "delete_tenant": "tenants",
}


def _read_input(name: str) -> bytes:
    try:
        if name == "-":
            return sys.stdin.buffer.read()
        return Path(name).read_bytes()
    except OSError:
        raise errors.ValidationError(f"The file {name} cannot be read") from None


def _with_journal(state: _State, read: Callable[[Journal], T]) -> T:
    orch = state.orchestrator()
    try:
        if orch.journal is None:
            raise errors.ConfigurationError("No journal is configured ([journal] url is unset)")
        return read(orch.journal)
    finally:
        import asyncio  # here, not at the top: ``mailadmin --help`` should not pay for it

        asyncio.run(orch.aclose())


def _outcome_text(entry: JournalEntry) -> str:
    if entry.status == "started":
        return "started (open)"
    text = entry.outcome or entry.status
    if entry.outcome == "partial" and entry.applied is not None:
        text += f" ({', '.join(entry.applied)} done; {', '.join(entry.missing or [])} not)"
    if entry.resumed_from:
        text += f" (resumed; was {entry.resumed_from})"
    return text


def _entry_json(entry: JournalEntry, *, debug: bool = False) -> dict[str, Any]:
    from dataclasses import asdict

    data = asdict(entry)
    if not debug:
        data.pop("debug")
    data["open"] = entry.open
    return data


def _parse_time(text: str | None, option: str) -> Any:
    """An ISO date or time (UTC when no zone is given), or an age: 30m, 12h, 7d."""
    if text is None:
        return None
    import re
    from datetime import UTC, datetime, timedelta

    age = re.fullmatch(r"\s*(\d+)\s*([smhdw])\s*", text)
    if age:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
        return datetime.now(UTC) - timedelta(**{unit[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise errors.ValidationError(
            f"{option} takes an ISO date or time (2026-11-30T08:00) or an age (30m, 12h, 7d), "
            f"not '{text}'"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _first_error(exc: Exception) -> str:
    details = getattr(exc, "errors", None)
    if callable(details):
        first = details()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg', 'invalid')}".strip(": ")
    return "invalid value"


# The lifecycle commands (passwords, suspensions) join the mailbox group from their module.
from mailadmin.cli import lifecycle as _lifecycle  # noqa: E402, F401
from mailadmin.cli import reconcile as _reconcile  # noqa: E402, F401
from mailadmin.cli import settings as _settings  # noqa: E402, F401
