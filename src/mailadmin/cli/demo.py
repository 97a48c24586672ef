"""The demo: every installed platform's mock on loopback, driven through the orchestrator.

Each plugin that registers a ``demo`` scenario (and ships a mock) takes part: its mock is
served on 127.0.0.1, an instance is configured against it, and the orchestrator runs the
same script for all of them: check, count, upgrade (dry run first), add-on, licence and a
final report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from mailadmin.cli.tables import (
    Table,
    change_table,
    check_table,
    count_table,
    feature_table,
    licence_table,
    problems,
)
from mailadmin.contract.demo import DemoScenario
from mailadmin.contract.models import MailboxCount, MailboxKind
from mailadmin.orchestration.bulk import ItemResult
from mailadmin.orchestration.registry import Registry, get_registry

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator

__all__ = ["CATALOGUE", "DemoScenario", "DemoStep", "demo_config", "run_demo"]

#: The neutral catalogue the demo (and the sample configuration) sells.
CATALOGUE: dict[str, Any] = {
    "plans": {
        "mail": {"rank": 1, "description": "Mail: webmail, POP/IMAP, 2 GB"},
        "sync": {"rank": 2, "description": "Sync: + mobile and calendar sync, 5 GB"},
        "collaborate": {"rank": 3, "description": "Collaborate: + sharing and files, 10 GB"},
    },
    "addons": {
        "mailboxes": {"description": "Mailbox seats", "unit": "seats"},
        "shared_mailbox": {"description": "Shared mailboxes, sold in bulk"},
        "resource_mailbox": {"description": "Room and equipment mailboxes, sold in bulk"},
        "storage_gb": {"description": "Extra storage", "unit": "GB"},
    },
}


class DemoStep(BaseModel):
    """One printed step of the demo: a title and its rows."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    notes: list[str] = Field(default_factory=list)


@contextmanager
def demo_config(
    registry: Registry | None = None, journal_dir: Path | None = None
) -> Iterator[tuple[dict[str, Any], list[DemoScenario], dict[str, str]]]:
    """Serve every demo-capable mock on loopback and yield the configuration for them.

    Yields ``(config, scenarios, endpoints)``; the servers stop when the block ends.
    """
    from mailadmin.mock.serve import serve

    registry = registry or get_registry()
    config: dict[str, Any] = {"instances": {}, "tenants": {}, **CATALOGUE}
    config["journal"] = {
        "url": f"sqlite:///{journal_dir / 'journal.sqlite'}" if journal_dir else None
    }
    scenarios: list[DemoScenario] = []
    endpoints: dict[str, str] = {}
    with ExitStack() as stack:
        for name, entry in sorted(registry.providers().items()):
            make: Callable[[], DemoScenario] | None = entry.load_demo()
            if make is None or entry.mock is None:
                continue
            scenario = DemoScenario.model_validate(make())
            url = stack.enter_context(serve(entry.load_mock(), seed=scenario.seed))
            instance = f"{name}-demo"
            endpoints[instance] = url
            config["instances"][instance] = {**scenario.instance, "endpoint": url}
            for tenant, table in scenario.tenants.items():
                config["tenants"][tenant] = {**table, "instance": instance}
            scenarios.append(scenario)
        yield config, scenarios, endpoints


async def run_demo(
    config: dict[str, Any],
    scenarios: list[DemoScenario],
    *,
    registry: Registry | None = None,
    emit: Callable[[DemoStep], None],
) -> bool:
    """Drive the demo script through the orchestrator; ``emit`` receives each step.

    Returns True when every step succeeded.
    """
    from mailadmin.orchestration.orchestrator import Orchestrator

    ok = True
    async with Orchestrator.from_dict(config, registry=registry) as orch:
        emit(_tenants(orch))
        checks = await orch.check()
        emit(_step("Connection check", check_table(checks.items)))
        ok &= checks.ok and all(i.value is not None and i.value.ok for i in checks.items)
        counts = await orch.count_all()
        emit(
            _step(
                "Mailboxes before",
                count_table(counts.items),
                problems(counts.items) + _unmapped(counts.items),
            )
        )
        upgrades = [u for s in scenarios for u in s.upgrades]
        preview = await orch.set_plans(upgrades, dry_run=True)
        emit(_step("Plan changes (dry run: nothing sent)", change_table(preview.items)))
        applied = await orch.set_plans(upgrades)
        emit(_step("Plan changes", change_table(applied.items)))
        again = await orch.set_plans(upgrades)
        emit(_step("Plan changes repeated (idempotent)", change_table(again.items)))
        addons = await orch.apply_addons([a for s in scenarios for a in s.addons])
        emit(_step("Add-ons (absolute totals)", change_table(addons.items)))
        emit(await _settings_step(orch))
        emit(await _reconcile_step(orch))
        licences = await orch.licences()
        emit(_step("Licences", licence_table(licences.items), problems(licences.items)))
        emit(_step("Licensed features", feature_table(licences.items)))
        emit(await _orders_step(orch))
        report = await orch.count_all()
        emit(
            _step(
                "Report: mailboxes after",
                count_table(report.items),
                problems(report.items) + _unmapped(report.items),
            )
        )
        from mailadmin.reports.demo import demo_reports

        for title, columns, rows in await demo_reports(orch):
            emit(DemoStep(title=title, columns=columns, rows=rows))
        if orch.journal is not None:
            emit(
                DemoStep(
                    title="Journal (latest writes)",
                    columns=[
                        "operation",
                        "subject",
                        "dry run",
                        "status",
                        "outcome",
                        "before",
                        "after",
                    ],
                    rows=[
                        [
                            e.operation,
                            e.subject,
                            e.dry_run,
                            e.status,
                            e.outcome or "",
                            e.before,
                            e.after,
                        ]
                        for e in orch.journal.entries(limit=12)
                    ],
                )
            )
        for result in (counts, preview, applied, again, addons, licences, report):
            ok &= result.ok
    return ok


async def _orders_step(orch: Orchestrator) -> DemoStep:
    """Seeds 001 to 003 on the first tenant: a reseller that may oversell, a seat order by
    the number to add (paid, not applied: nothing is sent), a monthly customer whose renewal
    rolls a term on to about 20 days away (its downgrade window is open) and a sale past
    the reseller's allocation (an oversell, which the usage report then shows)."""
    from mailadmin.rules.policies import next_renewal
    from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

    tenant = orch.tenants[0]
    rules = orch.rules
    used = (await orch.count_mailboxes(tenant)).by_kind.get(MailboxKind.USER, 0)
    held = used + 10
    rules.tenancy.add_reseller(
        "demo-reseller",
        ResellerSpec(
            instance=orch.config.instance_of(tenant),
            prepaid=True,
            may_oversell=True,
            package={Resource.USER_MAILBOXES: held},
        ),
    )
    # A monthly customer renewed 10 days ago: the billing cycle rolls its renewal a term
    # on, to about 20 days from now, inside its downgrade window.
    renewed = rules.today() - timedelta(days=10)
    customer = rules.tenancy.add_customer(
        tenant,
        CustomerSpec(
            reseller="demo-reseller",
            package={Resource.USER_MAILBOXES: held},
            renewal=renewed,
            term_months=1,
        ),
    )
    settings = rules.settings_for(orch.config.instance_of(tenant), tenant)
    renewal = next_renewal(renewed, rules.today(), settings, customer.term_months)
    order = await rules.order_seat_upgrade(tenant, 5)
    paid = rules.orders.confirm(order.id)
    oversold = rules.tenancy.sell("customer", tenant, "mailboxes", 5)
    rows: list[list[Any]] = [
        ["order", f"#{paid.id} {paid.label} of {tenant}: {paid.detail['sum']} ({paid.state})"],
        [
            "renewal",
            f"{tenant} renewed {renewed.isoformat()} for 1 month, so it renews "
            f"{renewal.isoformat()}: its downgrade window is open",
        ],
    ]
    rows += [
        [
            "oversell",
            f"{o.reseller} holds {o.parent_allocation} {o.resource.value} and sold "
            f"{o.children_allocation} (+{o.children_allocation - o.parent_allocation})",
        ]
        for o in oversold
    ]
    return DemoStep(title="Orders, renewals and oversells", columns=["what", "detail"], rows=rows)


async def _settings_step(orch: Orchestrator) -> DemoStep:
    """One user mailbox of each tenant whose platform has mailbox settings: its display
    name and an alias set (absolute: the demo can run again), read back from the platform;
    a sign-on link where the platform hands one out (shown shortened: it is a credential)."""
    rows: list[list[Any]] = []
    for tenant in orch.tenants:
        provider, _ = orch.provider_for(tenant)
        caps = provider.instance_capabilities
        if not (caps.supports("set_display_name") and caps.supports("list_mailboxes")):
            continue
        users = [m for m in await orch.list_mailboxes(tenant) if m.kind is MailboxKind.USER]
        if not users:
            continue
        # Not the context admin OX lists first: the demo's own user.
        address = next((m for m in users if m.address.startswith("anna@")), users[0]).address
        named = await orch.set_display_name(address, "Demo User")
        rows.append([address, "display name", named.outcome.value, named.after])
        if caps.supports("add_alias"):
            alias = f"demo-alias@{address.partition('@')[2]}"
            added = await orch.add_alias(address, alias)
            listed = await orch.list_aliases(address)
            rows.append([address, "aliases", added.outcome.value, ", ".join(listed)])
        if caps.supports("single_sign_on"):
            link = await orch.single_sign_on(address)
            rows.append([address, "sign-on link", "issued", link.url.split("?")[0] + "?..."])
    return DemoStep(
        title="Mailbox settings (absolute; read back from the platform)",
        columns=["mailbox", "setting", "outcome", "now"],
        rows=rows,
    )


async def _reconcile_step(orch: Orchestrator) -> DemoStep:
    """Reconcile: what the platforms hold that mailadmin does not keep (a read)."""
    report = await orch.reconcile()
    rows = [[d.kind, d.tenant, d.subject, d.store, d.platform] for d in report.drifts]
    return DemoStep(
        title=f"Reconcile ({report.tenants_checked} tenants read)",
        columns=["drift", "tenant", "subject", "mailadmin", "platform"],
        rows=rows,
    )


def _step(title: str, table: Table, notes: list[str] | None = None) -> DemoStep:
    return DemoStep(title=title, columns=table[0], rows=table[1], notes=notes or [])


def _tenants(orch: Orchestrator) -> DemoStep:
    """Which tenant lives on which platform, so the steps that follow read clearly."""
    rows: list[list[Any]] = []
    for tenant in orch.tenants:
        instance = orch.config.instance_of(tenant)
        rows.append([tenant, instance, orch.provider(instance).platform])
    return DemoStep(title="Tenants", columns=["tenant", "instance", "platform"], rows=rows)


def _unmapped(items: Sequence[ItemResult[MailboxCount]]) -> list[str]:
    if not any(i.value is not None and i.value.by_plan.get("unmapped") for i in items):
        return []
    return [
        "unmapped: user mailboxes whose platform setting matches no plan of the catalogue "
        "(on OX App Suite, the context's admin user, who has no plan to sell)"
    ]
