"""The ``mailadmin`` commands. Each builds the orchestrator, calls it and prints the result."""

from __future__ import annotations

import asyncio
import csv
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailadmin.cli.output import EXIT_OK, EXIT_PROVIDER, EXIT_USAGE, Output
from mailadmin.cli.tables import change_table, check_table, count_table, licence_table
from mailadmin.contract import errors
from mailadmin.orchestration.bulk import ItemResult

if TYPE_CHECKING:
    from mailadmin.orchestration.bulk import BulkResult
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.registry import Registry

__all__ = ["cli", "main"]

T = TypeVar("T")
_DEFAULT_CONFIG = "mailadmin.toml"


class _State:
    def __init__(
        self, config: str | None, output: Output, strict: bool, acting: str | None = None
    ) -> None:
        self.config_path = config
        self.output = output
        self.strict = strict
        self.acting = acting
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from mailadmin.orchestration.registry import Registry, get_registry

            self._registry = Registry(strict=True) if self.strict else get_registry()
        return self._registry

    def orchestrator(self) -> Orchestrator:
        from mailadmin.orchestration.orchestrator import Orchestrator

        path = self.config_path or os.environ.get("MAILADMIN_CONFIG") or _DEFAULT_CONFIG
        if not Path(path).exists():
            raise errors.ConfigurationError(
                f"No configuration file at {path}; pass --config FILE or set MAILADMIN_CONFIG"
            )
        return Orchestrator.from_config(path, registry=self.registry, identity=self.acting)


pass_state = click.make_pass_decorator(_State)


def _run(state: _State, work: Callable[[Orchestrator], Awaitable[T]]) -> T:
    async def go() -> T:
        async with state.orchestrator() as orch:
            return await work(orch)

    return asyncio.run(go())


def _exit_for(result: BulkResult[Any]) -> None:
    if not result.ok:
        raise SystemExit(EXIT_PROVIDER)


class _Group(click.Group):
    """Turns mailadmin errors into a safe message and a telling exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except errors.MailadminError as exc:
            output = ctx.find_object(_State)
            out = output.output if output else Output(as_json=False)
            raise SystemExit(out.error(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config", type=click.Path(dir_okay=False), help="Configuration file (TOML)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of tables.")
@click.option("--debug", is_flag=True, help="Show redacted debug detail with errors.")
@click.option("--strict-plugins", is_flag=True, help="Fail on any broken or conflicting plugin.")
@click.option(
    "--as",
    "acting",
    metavar="IDENTITY",
    envvar="MAILADMIN_AS",
    help="Act as site-admin (default), reseller:NAME, customer:TENANT or mailbox:ADDRESS.",
)
@click.version_option(package_name="mailadmin")
@click.pass_context
def cli(
    ctx: click.Context,
    config: str | None,
    as_json: bool,
    debug: bool,
    strict_plugins: bool,
    acting: str | None,
) -> None:
    """Drive hosted-mail platforms through one typed API."""
    ctx.obj = _State(config, Output(as_json=as_json, debug=debug), strict_plugins, acting)


@cli.command()
@click.option("--matrix", is_flag=True, help="Print the capability matrix as Markdown.")
@pass_state
def providers(state: _State, matrix: bool) -> None:
    """Installed providers, their capabilities and plugin load errors."""
    from mailadmin.contract.matrix import capability_matrix, provider_rows

    registry = state.registry
    if matrix:
        text = capability_matrix(registry)
        if state.output.as_json:
            state.output.json({"matrix": text})
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
    state.output.table(
        "Providers",
        ["name", "platform", "distribution", "version", "capabilities", "mock"],
        [
            [
                r["name"],
                r["platform"],
                r["distribution"],
                r["version"],
                _summarise(r["capabilities"]),
                r["mock"],
            ]
            for r in rows
        ],
    )
    if load_errors:
        state.output.table(
            "Plugins that failed to load",
            ["plugin", "distribution", "reason"],
            [[e["plugin"], e["distribution"], e["message"]] for e in load_errors],
        )


@cli.command()
@pass_state
def check(state: _State) -> None:
    """Test the connection and credentials of every configured instance."""
    result = _run(state, lambda orch: orch.check())
    if state.output.as_json:
        state.output.json(result)
    else:
        state.output.table("Connection check", *check_table(result.items))
    _exit_for(result)
    if any(item.value is not None and not item.value.ok for item in result.items):
        raise SystemExit(EXIT_PROVIDER)


@cli.command()
@click.argument("instances", nargs=-1)
@pass_state
def plans(state: _State, instances: tuple[str, ...]) -> None:
    """The neutral plan catalogue and each instance's native plans."""

    async def work(orch: Orchestrator) -> dict[str, Any]:
        names = list(instances) or orch.instances
        native = {name: await orch.list_plans(name) for name in names}
        return {"catalogue": orch.config.plans, "native": native}

    data = _run(state, work)
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
@pass_state
def count(state: _State, tenants: tuple[str, ...]) -> None:
    """Mailboxes per tenant by kind and by plan (default: every tenant)."""

    async def work(orch: Orchestrator) -> Any:
        names = list(tenants) or orch.tenants
        with state.output.progress("counting", len(names)) as progress:
            return await orch.count_all(names, progress=progress)

    result = _run(state, work)
    if state.output.as_json:
        state.output.json(result)
    else:
        state.output.table("Mailboxes", *count_table(result.items))
    _exit_for(result)


@cli.command("set-plan")
@click.argument("address", required=False)
@click.argument("plan", required=False)
@click.option(
    "--file", "from_file", type=click.File("r"), help="CSV of address,plan rows for bulk changes."
)
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--on-error",
    type=click.Choice(["collect", "skip", "raise"]),
    default="collect",
    show_default=True,
)
@pass_state
def set_plan(
    state: _State,
    address: str | None,
    plan: str | None,
    from_file: Any,
    dry_run: bool,
    concurrency: int,
    on_error: Any,
) -> None:
    """Put a mailbox (or every mailbox of --file) on a plan."""
    if from_file is not None:
        changes = [
            (row[0].strip(), row[1].strip())
            for row in csv.reader(from_file)
            if len(row) >= 2 and row[0].strip() and not row[0].startswith("#")
        ]
    elif address and plan:
        changes = [(address, plan)]
    else:
        raise click.UsageError("Give ADDRESS and PLAN, or --file with address,plan rows")

    async def work(orch: Orchestrator) -> Any:
        with state.output.progress("changing plans", len(changes)) as progress:
            return await orch.set_plans(
                changes,
                dry_run=dry_run,
                concurrency=concurrency,
                on_error=on_error,
                progress=progress,
            )

    if len(changes) == 1 and on_error == "collect":
        # A single change reports its own error and exit code, as any single call does.
        result = _run(
            state, lambda orch: orch.set_plan(changes[0][0], changes[0][1], dry_run=dry_run)
        )
        single = ItemResult[Any](key=changes[0][0], value=result)
        _print_changes(state.output, "Plan change", [single], dry_run)
        return
    bulk = _run(state, work)
    _print_changes(state.output, "Plan changes", bulk.items, dry_run, bulk)
    _exit_for(bulk)


@cli.command()
@click.argument("tenant")
@click.argument("addon")
@click.argument("quantity", type=click.IntRange(min=0))
@click.option("--dry-run", is_flag=True, help="Report what would change; send no write.")
@pass_state
def addon(state: _State, tenant: str, addon: str, quantity: int, dry_run: bool) -> None:
    """Set the TOTAL quantity of an add-on (e.g. shared_mailbox, mailboxes:sync)."""
    result = _run(state, lambda orch: orch.apply_addon(tenant, addon, quantity, dry_run=dry_run))
    single = ItemResult[Any](key=f"{tenant} {addon}", value=result)
    _print_changes(state.output, "Add-on", [single], dry_run)


@cli.command()
@click.argument("instances", nargs=-1)
@pass_state
def licence(state: _State, instances: tuple[str, ...]) -> None:
    """Seats licensed and used, features, validity and state per instance."""

    async def work(orch: Orchestrator) -> Any:
        from mailadmin.orchestration.bulk import run_bulk

        names = list(instances) or orch.instances
        return await run_bulk((name, _bind_licence(orch, name)) for name in names)

    result = _run(state, work)
    if state.output.as_json:
        state.output.json(result)
    else:
        state.output.table("Licences", *licence_table(result.items))
    _exit_for(result)


@cli.command()
@click.option(
    "--journal-dir", type=click.Path(file_okay=False), help="Keep the demo journal in this folder."
)
@pass_state
def demo(state: _State, journal_dir: str | None) -> None:
    """Serve the mock platforms on loopback and drive them through the orchestrator."""
    from mailadmin.cli.demo import DemoStep, demo_config, run_demo

    steps: list[DemoStep] = []

    def emit(step: DemoStep) -> None:
        steps.append(step)
        if not state.output.as_json:
            state.output.table(step.title, step.columns, step.rows)

    import tempfile

    with (
        tempfile.TemporaryDirectory(prefix="mailadmin-demo-") as scratch,
        demo_config(state.registry, Path(journal_dir or scratch)) as (config, scenarios, endpoints),
    ):
        if not scenarios:
            raise errors.ConfigurationError("No installed provider offers a demo")
        for instance, url in endpoints.items():
            state.output.line(f"mock [bold]{instance}[/] listening on {url}")
        ok = asyncio.run(run_demo(config, scenarios, registry=state.registry, emit=emit))
    if state.output.as_json:
        state.output.json({"endpoints": endpoints, "steps": steps, "ok": ok})
    else:
        state.output.line(
            "[green]demo finished[/]" if ok else "[red]demo finished with failures[/]"
        )
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
@pass_state
def new_plugin(state: _State, name: str, directory: str) -> None:
    """Write a working plugin distribution NAME (provider, mock, conformance test)."""
    from mailadmin.scaffold import create_plugin

    path = create_plugin(name, Path(directory))
    if state.output.as_json:
        state.output.json({"created": str(path)})
    else:
        state.output.line(f"created plugin in {path}")


@cli.group()
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
    help="0 picks a free port.",
)
@click.option(
    "--seed",
    type=click.Path(exists=True, dir_okay=False),
    help="Seed the state from a JSON or TOML file.",
)
@pass_state
def mock_serve(state: _State, platform: str, host: str, port: int, seed: str | None) -> None:
    """Serve PLATFORM's mock until stopped; prints 'listening on http://HOST:PORT'."""
    from mailadmin.mock.serve import serve_forever

    platform_cls = state.registry.mock_platform(platform)
    serve_forever(platform_cls, host=host, port=port, seed=Path(seed) if seed else None)


# -- printing helpers -------------------------------------------------------------------------


def _summarise(features: list[str]) -> str:
    """Optional features in one short line: ``list_mailboxes; create: user, room; ...``."""
    from mailadmin.contract.capabilities import REQUIRED

    required = {op.value for op in REQUIRED}
    plain = [f for f in features if ":" not in f and f not in required]
    scoped: dict[str, list[str]] = {}
    for feature in features:
        prefix, _, item = feature.partition(":")
        if item:
            scoped.setdefault(prefix, []).append(item)
    parts = [f for f in plain if f not in scoped]
    parts += [f"{prefix}: {', '.join(items)}" for prefix, items in scoped.items()]
    return "; ".join(parts) or "required operations only"


def _bind_licence(orch: Orchestrator, name: str) -> Callable[[], Awaitable[Any]]:
    return lambda: orch.get_licence(name)


def _print_changes(
    output: Output, title: str, items: list[Any], dry_run: bool, bulk: Any = None
) -> None:
    if output.as_json:
        output.json(bulk if bulk is not None else items[0].value)
        return
    suffix = " (dry run: nothing sent)" if dry_run else ""
    output.table(title + suffix, *change_table(items))


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (usage errors: 2)."""
    try:
        cli.main(args=argv, prog_name="mailadmin", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE
    except click.exceptions.Abort:
        return 130
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except errors.MailadminError as exc:
        return Output(as_json=False).error(exc)
    except Exception as exc:
        # Never a stack trace for users; the detail goes to the log for developers.
        import logging

        logging.getLogger("mailadmin.cli").debug("unexpected error", exc_info=True)
        return Output(as_json="--json" in (sys.argv[1:] if argv is None else argv)).error(exc)
    return EXIT_OK


# The business-rules commands (store, resellers, customers, ...) register themselves on ``cli``.
from mailadmin.cli import business as _business  # noqa: E402, F401
from mailadmin.cli import reports as _reports  # noqa: E402, F401
