"""The ``mailadmin`` group: global options, shared command machinery and lazy loading.

``mailadmin --help`` prints the command list from :data:`COMMANDS` without importing a
command module; a command's module is imported when that command runs (or its own help
is asked for), and registers its commands on :data:`cli` as it loads. A test
(``tests/test_cli_lazy.py``) keeps the table equal to what the modules register.
Plain ``mailadmin --help`` on a wide terminal or a pipe does not reach this module: it
prints the same text kept in ``cli/roothelp.py`` (regenerate it after changing the
root group's options, help or :data:`COMMANDS`; ``tests/test_cli_root_help.py`` says so).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.cli.output import Output
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.registry import Registry

__all__ = ["COMMANDS", "cli", "confirm_removal", "main", "yes_option"]

T = TypeVar("T")
_INTERRUPTED = 130  # EXIT_INTERRUPTED of cli/output.py, which --help does not import

#: Every top-level command: its module and the one line ``mailadmin --help`` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "addon": ("commands", "Set the TOTAL QUANTITY of an ADDON for a TENANT (0 to 2147483647)."),
    "allow-upgrade": (
        "business",
        "Let the user of ADDRESS change its own plan (seed 000), or stop it.",
    ),
    "check": ("commands", "Test the connection and credentials of every configured instance."),
    "count": ("commands", "Mailboxes per tenant by kind and by plan (default: every tenant)."),
    "customers": (
        "business",
        "Customers: add, list, update, remove, billing, suspend, resume.",
    ),
    "demo": (
        "commands",
        "Serve the mock platforms on loopback and drive them through the orchestrator.",
    ),
    "journal": (
        "commands",
        "Read and settle the journal of writes (every write, dry runs included).",
    ),
    "keys": ("api", "API keys of the HTTP API: create (shown once), list, revoke."),
    "licence": ("commands", "Seats licensed and used, features, validity and state per instance."),
    "mailbox": (
        "commands",
        "List, create and delete mailboxes; set passwords, suspend and resume.",
    ),
    "mock": ("commands", "Mock servers of the installed platforms."),
    "new-plugin": (
        "commands",
        "Write a working plugin distribution NAME (provider, mock, conformance test).",
    ),
    "orders": ("business", "Plan, seat, licence and edition orders: pending -> paid -> applied."),
    "plans": ("commands", "The neutral plan catalogue and each instance's native plans."),
    "providers": ("commands", "Installed providers, their capabilities and plugin load errors."),
    "reconcile": ("reconcile", "Compare what each platform holds with what mailadmin keeps."),
    "report": ("commands", "Report NAME: usage, licences or renewals (docs/tenancy.md)."),
    "resellers": ("business", "Resellers: add, list, update and remove."),
    "runs": ("runs", "Distributed runs: list (default), show ID, cancel ID, prune."),
    "sell": (
        "business",
        "Sell ADDON (QUANTITY each) to many resellers or customers at once (seed 003).",
    ),
    "serve": ("api", "Serve the HTTP API until stopped; prints 'listening on http://HOST:PORT'."),
    "set-plan": ("commands", "Put a mailbox on a plan: ADDRESS PLAN, or every change of --file."),
    "store": (
        "business",
        "The mailadmin database (journal, tenancy, orders): schema version and upgrade.",
    ),
    "terminate": (
        "lifecycle",
        "Remove TENANT and every mailbox of it from its platform, and forget its customer.",
    ),
    "webhooks": (
        "webhooks",
        "Webhook endpoints for events: add (secret shown once), list, remove, deliveries, replay.",
    ),
    "worker": (
        "runs",
        "Run distributed bulk work until SIGINT or SIGTERM (running chunks finish first).",
    ),
}

_DEFAULT_CONFIG = "mailadmin.toml"

_CONFIG_HELP = (
    "Configuration file (TOML). Looked up as: --config FILE, else $MAILADMIN_CONFIG, "
    "else ./mailadmin.toml."
)
_EXIT_CODES = """\b
Configuration: --config FILE, else $MAILADMIN_CONFIG, else ./mailadmin.toml.
Global options (--config, --json, --fields, --debug, --strict-plugins, --as) go
before or after the command. Scripts read --json (every command; --fields A,B keeps
only those fields); off a terminal, tables are tab-separated lines; CSV comes from
'report NAME --csv' and 'reconcile --csv'.

\b
Exit codes:
  0    success
  1    unexpected failure
  2    usage, validation, configuration or unsupported operation (nothing sent)
  3    refused by policy
  4    provider failure, including any failed item of bulk work
  5    report --fail-on-over-use found over-use
  130  interrupted (Ctrl-C); what was done is printed first
"""


class _State:
    def __init__(
        self, config: str | None, output: Output, strict: bool, acting: str | None = None
    ) -> None:
        self.config_path = config
        self.output = output
        self.strict = strict
        self.acting = acting
        self.interrupted = False
        self._registry: Registry | None = None

    @property
    def registry(self) -> Registry:
        if self._registry is None:
            from mailadmin.orchestration.registry import Registry, get_registry

            self._registry = Registry(strict=True) if self.strict else get_registry()
        return self._registry

    def orchestrator(self, *, read_only: bool = False) -> Orchestrator:
        from mailadmin.orchestration.orchestrator import Orchestrator

        path = self.config_path or os.environ.get("MAILADMIN_CONFIG") or _DEFAULT_CONFIG
        if not os.path.exists(path):
            raise errors.ConfigurationError(
                f"No configuration file at {path}; pass --config FILE or set MAILADMIN_CONFIG"
            )
        try:
            # A read-only command opens the store only if it comes to need it.
            return Orchestrator.from_config(
                path, registry=self.registry, identity=self.acting, defer_journal=read_only
            )
        except errors.MailadminError:
            raise
        except Exception as exc:
            # The journal's database is opened here: a URL that names no installed
            # driver, or a database that cannot be opened, is a configuration fault.
            if type(exc).__module__.startswith("sqlalchemy"):
                raise errors.ConfigurationError(
                    f"The journal database of {path} cannot be opened; check [journal] url"
                ) from None
            raise


pass_state = click.make_pass_decorator(_State)


def _set_option(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Global options given after the command land in the same place as before it."""
    state = ctx.find_object(_State)
    if state is None or value in (None, False):
        return
    if param.name == "config":
        state.config_path = value
    elif param.name == "as_json":
        state.output.as_json = True
    elif param.name == "debug":
        state.output.debug = True
        # The root group set logging up before this option was read: redo it.
        _setup_logging(state.output)
    elif param.name == "strict_plugins":
        state.strict = True
    elif param.name == "acting":
        state.acting = value
    elif param.name == "fields":
        _set_fields(state.output, value)


_FIELDS_HELP = (
    "Print JSON with only these fields of each record, e.g. key,value.total "
    "(implies --json; a dotted name reaches inside an object)."
)


def _set_fields(output: Output, text: str | None) -> None:
    if not text:
        return
    from mailadmin.cli.fields import parse_fields

    try:
        output.fields = parse_fields(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--fields") from None
    output.as_json = True


_AS_HELP = "Act as site-admin (default), reseller:NAME, customer:TENANT or mailbox:ADDRESS."


def _global_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Accept the global options after the command too: ``mailadmin count --json``."""
    options = [
        click.option(
            "--config",
            "config",
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_set_option,
            help=_CONFIG_HELP,
        ),
        click.option(
            "--json",
            "as_json",
            is_flag=True,
            expose_value=False,
            callback=_set_option,
            help="Print JSON on stdout for every outcome, errors included.",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_set_option,
            help="Show redacted developer detail with errors and every log record on stderr.",
        ),
        click.option(
            "--strict-plugins",
            "strict_plugins",
            is_flag=True,
            expose_value=False,
            callback=_set_option,
            help="Fail on any broken or conflicting plugin.",
        ),
        click.option(
            "--as",
            "acting",
            metavar="IDENTITY",
            expose_value=False,
            callback=_set_option,
            help=_AS_HELP,
        ),
        click.option(
            "--fields",
            "fields",
            metavar="A,B.C",
            expose_value=False,
            callback=_set_option,
            help=_FIELDS_HELP,
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def yes_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--yes``/``-y`` on a command that removes data: no question asked."""
    return click.option(
        "--yes",
        "-y",
        "yes",
        is_flag=True,
        help="Do not ask for confirmation (needed when input is not a terminal).",
    )(command)


def _interactive() -> bool:
    return sys.stdin.isatty()


def confirm_removal(question: str, yes: bool) -> None:
    """Ask ``question`` on a terminal before data is removed; without a terminal (a script,
    a pipe) refuse unless ``--yes`` was given. Either refusal exits 2, nothing changed."""
    if yes:
        return
    if not _interactive():
        raise click.UsageError(
            f"{question} Input is not a terminal, so nothing was asked and nothing was "
            "changed: pass --yes to confirm"
        )
    if not click.confirm(question, default=False, err=True):
        click.echo("Nothing was changed.", err=True)
        raise SystemExit(2)


def _run(
    state: _State,
    work: Callable[[Orchestrator], Awaitable[T]],
    *,
    finish: bool = False,
    read_only: bool = False,
) -> T:
    """Run ``work`` on a fresh loop. With ``finish`` (single writes), Ctrl-C lets the call
    on the wire finish, so its result prints and its journal record is completed; the
    command then exits 130. ``read_only``: the command writes nothing, so the store is
    opened only if it is asked for."""
    import asyncio  # here, not at the top: ``mailadmin --help`` should not pay for it

    async def go() -> T:
        async with state.orchestrator(read_only=read_only) as orch:
            if not finish:
                return await work(orch)
            task = asyncio.ensure_future(work(orch))
            try:
                return await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None:
                    current.uncancel()
                state.interrupted = True
                return await task

    return asyncio.run(go())


def _prepare(orch: Orchestrator, instances: Sequence[str]) -> None:
    """Build the providers up front: a configuration fault (an unset secret variable, an
    unknown provider or setting) stops the command with exit 2 instead of becoming a
    failed row."""
    for name in dict.fromkeys(instances):
        orch.provider(name)


class _Group(click.Group):
    """Turns mailadmin errors into a safe message and a telling exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
        except errors.MailadminError as exc:
            state = ctx.find_object(_State)
            from mailadmin.cli.output import Output

            out = state.output if state else Output(as_json=False)
            raise SystemExit(out.error(exc)) from None
        state = ctx.find_object(_State)
        if state is not None and state.interrupted:
            raise SystemExit(_INTERRUPTED)
        return result


class _LazyGroup(_Group):
    """The root group: lists commands from :data:`COMMANDS`, imports a module on use."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._finished: set[str] = set()

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"mailadmin.cli.{COMMANDS[cmd_name][0]}")
        command = self.commands.get(cmd_name)
        if command is not None and cmd_name not in self._finished:
            # Done here, not at registration: a module may be imported directly.
            _add_exit_codes(command)
            self._finished.add(cmd_name)
        return command

    def load_all(self) -> None:
        """Import every command module (tests, documentation generators)."""
        for module in sorted({module for module, _ in COMMANDS.values()}):
            importlib.import_module(f"mailadmin.cli.{module}")
        for name in list(self.commands):
            self.get_command(click.Context(self), name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            loaded = self.commands.get(name)
            if loaded is not None and loaded.hidden:
                continue
            rows.append((name, loaded.get_short_help_str(10**6) if loaded else COMMANDS[name][1]))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                # click shortens a command's help to fit; a stand-in does it the same way.
                formatter.write_dl(
                    [
                        (name, click.Command(name, help=text).get_short_help_str(limit))
                        for name, text in rows
                    ]
                )


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from mailadmin import __version__
    from mailadmin.orchestration.registry import get_registry

    click.echo(f"mailadmin {__version__}")
    registry = get_registry()
    for name, distribution, version in sorted(registry.plugins()):
        click.echo(f"  plugin {name}: {distribution} {version}")
    for error in registry.errors:
        click.echo(f"  plugin {error.plugin}: failed to load ({error.message})")
    ctx.exit()


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=_EXIT_CODES,
)
@click.option("--config", "config", type=click.Path(dir_okay=False), help=_CONFIG_HELP)
@click.option(
    "--json", "as_json", is_flag=True, help="Print JSON on stdout for every outcome, errors too."
)
@click.option(
    "--debug",
    is_flag=True,
    help="Show redacted developer detail with errors and every log record on stderr.",
)
@click.option("--strict-plugins", is_flag=True, help="Fail on any broken or conflicting plugin.")
@click.option("--as", "acting", metavar="IDENTITY", envvar="MAILADMIN_AS", help=_AS_HELP)
@click.option("--fields", "fields", metavar="A,B.C", help=_FIELDS_HELP)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and every installed plugin with its version.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    config: str | None,
    as_json: bool,
    debug: bool,
    strict_plugins: bool,
    acting: str | None,
    fields: str | None,
) -> None:
    """Drive hosted-mail platforms through one typed API.

    \b
    Examples:
      mailadmin demo
      mailadmin --config mailadmin.toml count
      mailadmin set-plan anna@example.com sync --dry-run --json
    """
    from mailadmin.cli.output import Output

    ctx.obj = _State(config, Output(as_json=as_json, debug=debug), strict_plugins, acting)
    _set_fields(ctx.obj.output, fields)
    _setup_logging(ctx.obj.output)


_EXITS_SHORT = (
    "Exit codes: 0 success, 1 unexpected, 2 usage or configuration (nothing sent), "
    "3 policy, 4 provider failure, 5 over-use (report --fail-on-over-use), "
    "130 interrupted. Configuration: --config FILE, else $MAILADMIN_CONFIG, "
    "else ./mailadmin.toml."
)


def _add_exit_codes(command: click.Command) -> None:
    # Every command's --help ends with the exit codes and where the configuration is.
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_exit_codes(sub)
    else:
        command.epilog = f"{command.epilog}\n\n{_EXITS_SHORT}" if command.epilog else _EXITS_SHORT


def _setup_logging(output: Output) -> None:
    """Warnings of the library reach the user as plain lines on stderr, once per instance
    and failure (with --debug: every record)."""
    import logging

    from mailadmin.cli.logs import install

    install(logging.getLogger("mailadmin"), debug=output.debug)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (usage errors: 2)."""
    args = sys.argv[1:] if argv is None else argv
    as_json = "--json" in args or any(a == "--fields" or a.startswith("--fields=") for a in args)
    try:
        cli.main(args=args, prog_name="mailadmin", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code  # --help and --version end here, without cli/output.py
    except (Exception, KeyboardInterrupt, SystemExit) as exc:
        return _exit_code(exc, as_json)
    return 0


def _exit_code(exc: BaseException, as_json: bool) -> int:
    """Print what ended the command the way the user asked for; its exit code."""
    from mailadmin.cli.output import EXIT_INTERRUPTED, EXIT_USAGE, Output

    if isinstance(exc, click.ClickException):
        if as_json:
            Output(as_json=True).usage_error(exc.format_message())
        else:
            exc.show()
        return EXIT_USAGE
    if isinstance(exc, click.exceptions.Abort | KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, SystemExit):
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if isinstance(exc, errors.MailadminError):
        return Output(as_json=as_json).error(exc)
    # Never a stack trace for users; the detail goes to the log for developers.
    import logging

    logging.getLogger("mailadmin.cli").debug("unexpected error", exc_info=exc)
    return Output(as_json=as_json).error(exc)
