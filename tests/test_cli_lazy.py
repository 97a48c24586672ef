"""The root group loads command modules lazily; its static table must match them."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

from mailadmin.cli.root import _EXITS_SHORT, COMMANDS, cli


def _leaves(command: click.Command) -> list[click.Command]:
    if isinstance(command, click.Group):
        return [leaf for sub in command.commands.values() for leaf in _leaves(sub)]
    return [command]


def test_the_table_lists_exactly_what_the_modules_register_with_their_help() -> None:
    cli.load_all()
    registered = {
        name: (command.callback.__module__.rsplit(".", 1)[-1], command.get_short_help_str(10**6))
        for name, command in cli.commands.items()
        if command.callback is not None and not command.hidden
    }
    assert registered == COMMANDS


def test_every_command_help_ends_with_the_exit_codes_once() -> None:
    cli.load_all()
    cli.load_all()  # loading again must not add them twice
    for command in _leaves(cli):
        assert command.epilog is not None and command.epilog.count(_EXITS_SHORT) == 1, command.name


def test_help_lists_every_command_without_importing_a_command_module() -> None:
    script = (
        "import sys, json, contextlib, io\n"
        "from mailadmin.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    code = main(['--help'])\n"
        "print(json.dumps([code, out.getvalue(), sorted(sys.modules)]))\n"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    code, text, modules = json.loads(run.stdout.strip().splitlines()[-1])
    assert code == 0
    listed = [line.split()[0] for line in text.split("Commands:")[1].splitlines() if line.strip()]
    assert listed[: len(COMMANDS)] == sorted(COMMANDS)
    loaded = {m.rsplit(".", 1)[-1] for m in modules if m.startswith("mailadmin.cli.")}
    assert not loaded & {module for module, _ in COMMANDS.values()}


def test_a_command_of_an_unloaded_module_runs_and_an_unknown_one_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["resellers", "--help"])
    assert result.exit_code == 0 and "Record reseller NAME." in result.output
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output
