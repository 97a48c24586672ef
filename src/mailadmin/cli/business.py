"""Commands of the business rules: the store, resellers, customers, mailbox switches.

Loaded by ``cli/root.py`` when one of these commands runs; the sales and report
commands live in ``cli/sales.py`` and ``cli/reports.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailadmin.cli.listing import DEFAULT_LIMIT, cut, limit_options
from mailadmin.cli.numbers import WholeNumber, ascii_whole
from mailadmin.cli.root import _global_options, _Group, _State, cli, pass_state
from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.rules.sales import BulkSale, SaleReport
    from mailadmin.rules.tenancy import Customer, Reseller

__all__ = ["with_orchestrator"]

T = TypeVar("T")


def with_orchestrator(state: _State, work: Callable[[Orchestrator], T]) -> T:
    """Build the orchestrator, run blocking ``work`` on it, close it."""
    orch = state.orchestrator()
    try:
        return work(orch)
    finally:
        import asyncio  # here: ``mailadmin --help`` should not pay for it

        asyncio.run(orch.aclose())


def _site_admin_only(orch: Orchestrator, what: str) -> None:
    from mailadmin.rules.identities import IdentityKind

    acting = orch.rules.acting()
    if acting.kind is not IdentityKind.SITE_ADMIN:
        raise errors.PolicyDenied(f"Only the site admin may {what}", reason="not_permitted")


def _package(values: tuple[str, ...]) -> dict[str, int]:
    package: dict[str, int] = {}
    for value in values:
        name, sep, amount = value.partition("=")
        quantity = ascii_whole(amount)
        if not sep or quantity is None:
            raise click.BadParameter(
                f"'{value}' is not RESOURCE=QUANTITY (digits 0-9)", param_hint="--package"
            )
        package[name.strip()] = quantity
    return package


_PACKAGE = click.option(
    "--package",
    "package",
    multiple=True,
    metavar="RESOURCE=N",
    help="Included resources: user_mailboxes, shared_mailboxes, resource_mailboxes, storage_gb.",
)
_RENEWAL = click.option(
    "--renewal", type=click.DateTime(["%Y-%m-%d"]), help="Next renewal date (YYYY-MM-DD)."
)
_TERM = click.option(
    "--term",
    "term_months",
    type=int,
    metavar="MONTHS",
    help="Its own billing term: each renewal extends it this many months "
    "(default: the policy's renewal_term_months; 0: no cycle).",
)


# -- store ----------------------------------------------------------------------------------------


@cli.group(cls=_Group)
@_global_options
def store() -> None:
    """The mailadmin database (journal, tenancy, orders): schema version and upgrade."""


@store.command("upgrade")
@_global_options
@pass_state
def store_upgrade(state: _State) -> None:
    """Bring the database schema to the newest version (also done on first use).

    \b
    Example:
      mailadmin store upgrade --json
    """

    def work(orch: Orchestrator) -> dict[str, Any]:
        _site_admin_only(orch, "upgrade the store")
        # Opening the journal may have migrated the database already: ask the object
        # that did what it found.
        first = orch.journal.database if orch.journal is not None else orch.rules.store
        before = first.found()
        database = orch.rules.store
        database.upgrade()
        return {"url": database.url, "from": before, "to": database.current()}

    data = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(data)
    elif data["from"] is None:
        state.output.line(f"store {data['url']}: created the schema at {data['to']}")
    elif data["from"] == data["to"]:
        state.output.line(f"store {data['url']}: the schema is current ({data['to']})")
    else:
        state.output.line(f"store {data['url']}: upgraded {data['from']} -> {data['to']}")


@store.command("status")
@_global_options
@pass_state
def store_status(state: _State) -> None:
    """The database's schema version against the newest one.

    \b
    Example:
      mailadmin store status
    """
    from mailadmin.orchestration.storage import schema_status

    def work(orch: Orchestrator) -> dict[str, Any]:
        status = schema_status(orch.journal)
        return {"url": status.url, "current": status.current, "head": status.head}

    data = with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json(data)
        return
    state.output.table(
        "Store", ["database", "version", "newest"], [[data["url"], data["current"], data["head"]]]
    )


# -- resellers and customers ------------------------------------------------------------------


@cli.group(cls=_Group)
@_global_options
def resellers() -> None:
    """Resellers: add, list, update and remove."""


@resellers.command("add")
@click.argument("name")
@click.option("--instance", help="The provider instance the reseller sells.")
@click.option("--prepaid", is_flag=True, help="The reseller pays in advance.")
@click.option("--oversell", is_flag=True, help="A prepaid reseller may oversell (recorded).")
@_PACKAGE
@_RENEWAL
@_TERM
@_global_options
@pass_state
def resellers_add(
    state: _State,
    name: str,
    instance: str | None,
    prepaid: bool,
    oversell: bool,
    package: tuple[str, ...],
    renewal: Any,
    term_months: int | None,
) -> None:
    """Record reseller NAME.

    \b
    Example:
      mailadmin resellers add acme --prepaid --oversell --package user_mailboxes=500
    """
    from mailadmin.rules.tenancy import ResellerSpec

    spec = _spec(
        ResellerSpec,
        instance=instance,
        prepaid=prepaid,
        may_oversell=oversell,
        package=_package(package),
        renewal=_day(renewal),
        term_months=term_months,
    )

    def work(orch: Orchestrator) -> Reseller:
        _site_admin_only(orch, "add resellers")
        if instance is not None and instance not in orch.instances:
            raise errors.ValidationError(f"Unknown instance '{instance}'")
        return orch.rules.tenancy.add_reseller(name, spec)

    _print_records(state, "Reseller added", [with_orchestrator(state, work)])


@resellers.command("list")
@limit_options
@_global_options
@pass_state
def resellers_list(state: _State, limit: int = DEFAULT_LIMIT, show_all: bool = False) -> None:
    """Every reseller.

    \b
    Example:
      mailadmin resellers list --json
    """

    def work(orch: Orchestrator) -> list[Reseller]:
        _site_admin_only(orch, "list resellers")
        return orch.rules.tenancy.resellers()

    _print_records(state, "Resellers", with_orchestrator(state, work), limit, show_all)


@cli.group(cls=_Group)
@_global_options
def customers() -> None:
    """Customers: add, list, update, remove, billing, suspend, resume."""


@customers.command("add")
@click.argument("name")
@click.option("--reseller", help="The reseller that owns the customer (default: the host).")
@_PACKAGE
@_RENEWAL
@_TERM
@_global_options
@pass_state
def customers_add(
    state: _State,
    name: str,
    reseller: str | None,
    package: tuple[str, ...],
    renewal: Any,
    term_months: int | None,
) -> None:
    """Record customer NAME, a configured tenant.

    \b
    Example:
      mailadmin customers add example.com --reseller acme --renewal 2027-01-31 --term 12
    """
    from mailadmin.rules.tenancy import CustomerSpec

    def work(orch: Orchestrator) -> Customer:
        spec = _spec(
            CustomerSpec,
            reseller=reseller,
            package=_package(package),
            renewal=_day(renewal),
            term_months=term_months,
        )
        return orch.rules.add_customer(name, spec)

    _print_records(state, "Customer added", [with_orchestrator(state, work)])


@customers.command("billing")
@click.argument("name")
@_RENEWAL
@_TERM
@_global_options
@pass_state
def customers_billing(state: _State, name: str, renewal: Any, term_months: int | None) -> None:
    """Set customer NAME's billing cycle: next renewal date and its own term (seeds 001, 002).

    What is not given is kept. The seller's: the site admin or the owning reseller.

    \b
    Example:
      mailadmin customers billing example.com --renewal 2027-01-31 --term 1
    """
    if renewal is None and term_months is None:
        raise click.UsageError("Give --renewal, --term or both")

    def work(orch: Orchestrator) -> Customer:
        return orch.rules.set_billing(name, renewal=_day(renewal), term_months=term_months)

    _print_records(state, "Customer billing", [with_orchestrator(state, work)])


@customers.command("list")
@click.option("--reseller", help="Only the customers of this reseller.")
@limit_options
@_global_options
@pass_state
def customers_list(
    state: _State, reseller: str | None, limit: int = DEFAULT_LIMIT, show_all: bool = False
) -> None:
    """Every customer (a reseller sees its own).

    \b
    Example:
      mailadmin --as reseller:acme customers list
    """
    from mailadmin.rules.identities import IdentityKind

    def work(orch: Orchestrator) -> list[Customer]:
        acting = orch.rules.acting()
        owner = reseller
        if acting.kind is IdentityKind.RESELLER:
            owner = acting.name
        elif acting.kind is not IdentityKind.SITE_ADMIN:
            raise errors.PolicyDenied(f"{acting} may not list customers", reason="not_permitted")
        return orch.rules.tenancy.customers(owner)

    _print_records(state, "Customers", with_orchestrator(state, work), limit, show_all)


@cli.command("allow-upgrade")
@click.argument("address")
@click.argument("switch", type=click.Choice(["on", "off"]))
@_global_options
@pass_state
def allow_upgrade(state: _State, address: str, switch: str) -> None:
    """Let the user of ADDRESS change its own plan (seed 000), or stop it.

    \b
    Example:
      mailadmin allow-upgrade anna@example.com on
    """

    def work(orch: Orchestrator) -> None:
        orch.rules.set_allow_upgrade(address, switch == "on")

    with_orchestrator(state, work)
    if state.output.as_json:
        state.output.json({"address": address, "allow_upgrade": switch == "on"})
    else:
        state.output.line(f"allow upgrade for {address}: {switch}")


# -- printing -----------------------------------------------------------------------------------


def _spec(model: type[T], **values: Any) -> T:
    from pydantic import ValidationError

    try:
        return model.model_validate(values)  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise errors.ValidationError(f"Invalid record: {problems}") from None


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _print_records(
    state: _State,
    title: str,
    records: list[Any],
    limit: int | None = None,
    show_all: bool = True,
) -> None:
    note = None
    if limit is not None:
        records, note = cut(records, limit, show_all, title.lower())
    if state.output.as_json:
        state.output.json([r.model_dump(mode="json") for r in records])
        if note:
            state.output.note(note)
        return
    if not records:
        state.output.line(f"{title}: none")
        return
    columns = list(records[0].model_dump(mode="json"))
    rows = [[_cell(v) for v in r.model_dump(mode="json").values()] for r in records]
    state.output.table(title, columns, rows, [note] if note else [])


def _cell(value: Any) -> Any:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return "-" if value is None else value


# -- bulk add-on sales (seed 003) -------------------------------------------------------------


@cli.command()
@click.argument("addon")
@click.argument("quantity", type=WholeNumber(0))
@click.option(
    "--to", "to", type=click.Choice(["resellers", "customers"]), required=True, help="Who buys."
)
@click.option("--reseller", "named", multiple=True, help="Sell to these resellers (default: all).")
@click.option(
    "--owner",
    default="all",
    show_default=True,
    help="Customers of this reseller, 'host' (the host's own) or 'all'.",
)
@click.option("--only-over-quota", is_flag=True, help="Sell only to those over quota.")
@click.option("--skip-sold", is_flag=True, help="Do not sell when already sold.")
@click.option("--copy-under-reseller", is_flag=True, help="Create a copy of the add-on under it.")
@click.option("--dry-run", is_flag=True, help="Check everything; record and send nothing.")
@click.option(
    "--distributed/--in-process",
    default=None,
    help="Sell on the workers (mailadmin worker; PostgreSQL store) or in this process. "
    "Default: [worker] distributed.",
)
@click.option(
    "--detach",
    is_flag=True,
    help="With --distributed: print the run id and return at once (mailadmin runs show ID).",
)
@_global_options
@pass_state
def sell(
    state: _State,
    addon: str,
    quantity: int,
    to: str,
    named: tuple[str, ...],
    owner: str,
    only_over_quota: bool,
    skip_sold: bool,
    copy_under_reseller: bool,
    dry_run: bool,
    distributed: bool | None,
    detach: bool,
) -> None:
    """Sell ADDON (QUANTITY each) to many resellers or customers at once (seed 003).

    Each target is granted the add-on's value ([addons.NAME] value, 1 when not given)
    x QUANTITY, at most 9999 of a resource.

    \b
    Examples:
      mailadmin sell resource_mailbox 9999 --to resellers --skip-sold --copy-under-reseller
      mailadmin sell shared_mailbox 1 --to customers --owner all --skip-sold --dry-run
    """
    from mailadmin.cli.output import EXIT_PROVIDER
    from mailadmin.rules.sales import BulkSale, sale_targets

    sale = _spec(
        BulkSale,
        addon=addon,
        quantity=quantity,
        to=to,
        resellers=named,
        owner=owner,
        only_over_quota=only_over_quota,
        skip_already_sold=skip_sold,
        copy_under_reseller=copy_under_reseller,
    )

    async def work(orch: Orchestrator) -> SaleReport | None:
        if orch.runs.distributed(distributed, dry_run):
            return await _sell_distributed(state, orch, sale, detach=detach)
        if detach:
            raise click.UsageError("--detach needs --distributed")
        total = len(sale_targets(orch, sale))
        with state.output.progress("selling", total) as progress:
            return await orch.runs.sell(sale, dry_run=dry_run, progress=progress, distributed=False)

    async def go() -> SaleReport | None:
        async with state.orchestrator() as orch:
            return await work(orch)

    import asyncio

    report = asyncio.run(go())
    if report is None:  # detached: the run id is printed
        return
    if state.output.as_json:
        state.output.json(report)
    else:
        suffix = " (dry run: nothing recorded or sent)" if dry_run else ""
        state.output.table(
            f"Bulk sale of {addon}{suffix}",
            ["to", "name", "add-on", "quantity", "grants", "result", "why", "oversold"],
            [
                [
                    i.kind,
                    i.name,
                    i.addon,
                    i.quantity,
                    i.granted,
                    i.outcome.value,
                    i.reason,
                    i.oversold,
                ]
                for i in report.items
            ],
        )
        summary = report.summary
        state.output.line(
            f"sold {summary['sold']}, skipped {summary['skipped']}, failed {summary['failed']}"
        )
    if not report.ok:
        raise SystemExit(EXIT_PROVIDER)


async def _sell_distributed(
    state: _State, orch: Orchestrator, sale: BulkSale, *, detach: bool
) -> SaleReport | None:
    """Enqueue a bulk sale; with ``detach`` print its id, else follow it to its report."""
    from mailadmin.rules.sales import sale_targets

    run_id = await orch.runs.submit_sale(sale)
    total = len(sale_targets(orch, sale))
    if detach:
        if state.output.as_json:
            state.output.json({"run_id": run_id, "items": total})
        else:
            state.output.line(run_id)
            state.output.note(f"run {run_id}: {total} sales enqueued; mailadmin runs show {run_id}")
        return None
    state.output.note(f"run {run_id}: {total} sales enqueued for the workers")
    with state.output.progress("run " + run_id, total) as progress:
        return await orch.runs.follow_sale(run_id, progress=progress, sale=sale)


# -- orders (seeds 001 and 002) -----------------------------------------------------------------


@cli.group(cls=_Group)
@_global_options
def orders() -> None:
    """Plan, seat, licence and edition orders: pending -> paid -> applied."""


@orders.command("list")
@click.argument("subject", required=False)
@limit_options
@_global_options
@pass_state
def orders_list(
    state: _State, subject: str | None, limit: int = DEFAULT_LIMIT, show_all: bool = False
) -> None:
    """Every order, or those of SUBJECT (a customer or an instance).

    \b
    Example:
      mailadmin orders list example.com
    """

    def work(orch: Orchestrator) -> list[Any]:
        _site_admin_only(orch, "list orders")
        return orch.rules.orders.all(subject)

    _print_records(state, "Orders", with_orchestrator(state, work), limit, show_all)


@orders.command("place")
@click.argument("subject")
@click.argument(
    "kind",
    type=click.Choice(
        [
            "plan_upgrade",
            "plan_downgrade",
            "seat_upgrade",
            "licence_upgrade",
            "licence_renewal",
            "maintenance",
            "edition_change",
        ]
    ),
)
@_PACKAGE
@click.option(
    "--add",
    type=WholeNumber(1),
    help="Accounts to add (seat_upgrade), licensed mailboxes to add (licence_upgrade).",
)
@click.option("--edition", help="The edition wanted (edition_change): pro, mobile, team_pro.")
@click.option("--from", "current", help="The edition held now, when no order recorded it.")
@click.option("--years", type=WholeNumber(1, 10), help="Years of maintenance (maintenance).")
@click.option(
    "--until",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The licence's new expiry date (licence_renewal).",
)
@click.option(
    "--mailboxes", type=WholeNumber(1, 9999), help="Mailboxes licensed with Team Pro (10 or more)."
)
@_global_options
@pass_state
def orders_place(
    state: _State,
    subject: str,
    kind: str,
    package: tuple[str, ...],
    add: int | None,
    edition: str | None,
    current: str | None,
    years: int | None,
    until: Any,
    mailboxes: int | None,
) -> None:
    """Open an order of KIND for SUBJECT (a customer, or an instance for its licence).

    \b
    Examples:
      mailadmin orders place example.com plan_upgrade --package user_mailboxes=20
      mailadmin orders place example.com seat_upgrade --add 5
      mailadmin orders place zextras-eu licence_upgrade --add 5
    """

    async def work(orch: Orchestrator) -> Any:
        if kind == "maintenance":
            return await orch.rules.order_maintenance(subject, years or 1)
        if kind == "licence_renewal":
            if until is None:
                raise click.UsageError("licence_renewal needs --until YYYY-MM-DD")
            return await orch.rules.order_licence_renewal(subject, until.date())
        if kind in ("licence_upgrade", "seat_upgrade"):
            if add is None:
                raise click.UsageError(f"{kind} needs --add N (the number to add)")
            if kind == "licence_upgrade":
                return await orch.rules.order_licence_upgrade(subject, add)
            return await orch.rules.order_seat_upgrade(subject, add)
        detail: dict[str, Any] = {}
        if package:
            detail["package"] = _package(package)
        if add is not None:
            detail["add"] = add
        if edition is not None:
            detail["edition"] = edition
        if current is not None:
            detail["from"] = current
        if mailboxes is not None:
            detail["mailboxes"] = mailboxes
        return orch.rules.place_order(subject, kind, detail)

    order = _run_async(state, work)
    _print_records(state, "Order placed", [order])


@orders.command("confirm")
@click.argument("order_id", type=int)
@_global_options
@pass_state
def orders_confirm(state: _State, order_id: int) -> None:
    """Mark order ORDER_ID paid (or confirmed).

    \b
    Example:
      mailadmin orders confirm 3
    """

    def work(orch: Orchestrator) -> Any:
        _site_admin_only(orch, "confirm orders")
        return orch.rules.orders.confirm(order_id)

    _print_records(state, "Order confirmed", [with_orchestrator(state, work)])


@orders.command("apply")
@click.argument("order_id", type=int)
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@_global_options
@pass_state
def orders_apply(state: _State, order_id: int, dry_run: bool) -> None:
    """Carry out paid order ORDER_ID (a seat upgrade sets the platform's total).

    \b
    Example:
      mailadmin orders apply 3 --dry-run
    """

    async def work(orch: Orchestrator) -> Any:
        _site_admin_only(orch, "apply orders")
        return await orch.rules.apply_order(order_id, dry_run=dry_run)

    _print_records(state, "Order applied", [_run_async(state, work)])


@orders.command("cancel")
@click.argument("order_id", type=int)
@_global_options
@pass_state
def orders_cancel(state: _State, order_id: int) -> None:
    """Cancel order ORDER_ID (not yet applied).

    \b
    Example:
      mailadmin orders cancel 3
    """

    def work(orch: Orchestrator) -> Any:
        _site_admin_only(orch, "cancel orders")
        return orch.rules.orders.cancel(order_id)

    _print_records(state, "Order cancelled", [with_orchestrator(state, work)])


def _run_async(state: _State, work: Callable[[Orchestrator], Any]) -> Any:
    async def go() -> Any:
        async with state.orchestrator() as orch:
            result = work(orch)
            return await result if hasattr(result, "__await__") else result

    import asyncio

    return asyncio.run(go())


# The lifecycle commands (suspend, resume) join the customers group from their module.
from mailadmin.cli import lifecycle as _lifecycle  # noqa: E402, F401

# Updating and removing records (journalled) join the customers and resellers groups.
from mailadmin.cli import records as _records  # noqa: E402, F401
