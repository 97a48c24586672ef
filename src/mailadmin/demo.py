"""The demo: every installed platform's mock on loopback, driven through the orchestrator.

Each plugin that registers a ``demo`` scenario (and ships a mock) takes part: its mock is
served on 127.0.0.1, an instance is configured against it, and the orchestrator runs the
same script for all of them: check, count, upgrade (dry run first), add-on, licence and a
final report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mailadmin.registry import Registry, get_registry

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


class DemoScenario(BaseModel):
    """What a plugin contributes to the demo.

    ``instance``: the ``[instances.<name>]`` table without ``endpoint`` (it must name
    ``provider``); ``tenants``: ``[tenants.<name>]`` tables without ``instance``;
    ``upgrades``: ``(address, plan)`` pairs; ``addons``: ``(tenant, addon, quantity)``;
    ``seed``: the mock's start state, when its defaults would clash with another
    platform's tenants (every mock defaults to ``example.com``).
    """

    model_config = ConfigDict(frozen=True)

    instance: dict[str, Any]
    tenants: dict[str, dict[str, Any]]
    upgrades: list[tuple[str, str]] = Field(default_factory=list)
    addons: list[tuple[str, str, int]] = Field(default_factory=list)
    seed: dict[str, Any] | None = None


class DemoStep(BaseModel):
    """One printed step of the demo: a title and its rows."""

    title: str
    columns: list[str]
    rows: list[list[Any]]


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
    from mailadmin.orchestrator import Orchestrator

    ok = True
    async with Orchestrator.from_dict(config, registry=registry) as orch:
        checks = await orch.check()
        emit(
            DemoStep(
                title="Connection check",
                columns=["instance", "platform", "ok", "version"],
                rows=[
                    [i.key, i.value.platform, i.value.ok, i.value.version or ""]
                    if i.value
                    else [i.key, "", False, i.error.message if i.error else ""]
                    for i in checks.items
                ],
            )
        )
        ok &= checks.ok
        counts = await orch.count_all()
        emit(_count_step("Mailboxes before", counts.items))
        upgrades = [u for s in scenarios for u in s.upgrades]
        preview = await orch.set_plans(upgrades, dry_run=True)
        emit(_change_step("Plan changes (dry run: nothing sent)", preview.items))
        applied = await orch.set_plans(upgrades)
        emit(_change_step("Plan changes", applied.items))
        again = await orch.set_plans(upgrades)
        emit(_change_step("Plan changes repeated (idempotent)", again.items))
        addons = await orch.apply_addons([a for s in scenarios for a in s.addons])
        emit(_change_step("Add-ons (absolute totals)", addons.items))
        licences = await orch.licences()
        emit(
            DemoStep(
                title="Licences",
                columns=["instance", "state", "licensed", "used", "free", "over-used"],
                rows=[
                    [
                        i.key,
                        i.value.state.value,
                        _show(i.value.seats_licensed),
                        i.value.seats_used,
                        _show(i.value.seats_free),
                        i.value.over_used,
                    ]
                    if i.value
                    else [i.key, i.error.message if i.error else "", "", "", "", ""]
                    for i in licences.items
                ],
            )
        )
        report = await orch.count_all()
        emit(_count_step("Report: mailboxes after", report.items))
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


def _show(value: int | None) -> str:
    return "unlimited" if value is None else str(value)


def _count_step(title: str, items: list[Any]) -> DemoStep:
    rows = []
    for item in items:
        if item.value is None:
            rows.append([item.key, "error", item.error.message if item.error else "", ""])
            continue
        kinds = ", ".join(f"{k.value}={v}" for k, v in sorted(item.value.by_kind.items()))
        plans = ", ".join(f"{k}={v}" for k, v in sorted(item.value.by_plan.items()))
        rows.append([item.key, item.value.total, kinds, plans])
    return DemoStep(title=title, columns=["tenant", "total", "by kind", "by plan"], rows=rows)


def _change_step(title: str, items: list[Any]) -> DemoStep:
    rows = []
    for item in items:
        if item.value is None:
            rows.append([item.key, "failed", "", "", item.error.message if item.error else ""])
        else:
            v = item.value
            rows.append(
                [item.key, v.outcome.value, _text(v.before), _text(v.after), v.operation_id or ""]
            )
    return DemoStep(
        title=title, columns=["subject", "outcome", "before", "after", "note"], rows=rows
    )


def _text(value: Any) -> str:
    return "" if value is None else str(value)
