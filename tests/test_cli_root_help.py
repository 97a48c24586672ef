"""``mailadmin --help`` prints click's own root help without importing click, and only
where click would print exactly that text (mailadmin/cli/roothelp.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from click.testing import CliRunner

from mailadmin.cli.root import cli
from mailadmin.cli.roothelp import ROOT_HELP, render_root_help

# Runs ``main(argv)`` in a fresh interpreter; prints the exit code, whether click got
# loaded, and what went to stdout.
_SCRIPT = (
    "import sys, json, contextlib, io\n"
    "from mailadmin.cli import main\n"
    "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
    "    code = main(json.loads(sys.argv[1]))\n"
    "print(json.dumps([code, 'click' in sys.modules, out.getvalue()]))\n"
)


def _main(args: list[str], **env: str) -> tuple[int, bool, str]:
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | env
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT, json.dumps(args)],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    code, loaded, out = json.loads(run.stdout.strip().splitlines()[-1])
    return code, loaded, out


def _click_help(width: int) -> str:
    result = CliRunner().invoke(cli, ["--help"], prog_name="mailadmin", terminal_width=width)
    assert result.exit_code == 0
    return result.output


def test_the_kept_text_is_what_click_renders() -> None:
    # If this fails, the root group's help changed: python -m mailadmin.cli.roothelp
    assert render_root_help() == ROOT_HELP
    assert _click_help(78) == ROOT_HELP + "\n"
    assert ROOT_HELP.isascii()  # written as is, whatever the encoding of stdout


def test_help_on_a_pipe_or_wide_terminal_prints_it_without_click() -> None:
    for args, env in ((["--help"], {}), (["-h"], {}), (["--help"], {"COLUMNS": "200"})):
        code, loaded, out = _main(args, **env)
        assert (code, loaded, out) == (0, False, ROOT_HELP + "\n"), (args, env)


def test_a_narrow_terminal_gets_clicks_narrower_rendering() -> None:
    code, loaded, out = _main(["--help"], COLUMNS="60")
    assert (code, loaded) == (0, True)
    assert out == _click_help(58) != ROOT_HELP + "\n"


def test_anything_else_goes_through_click() -> None:
    code, loaded, out = _main(["--help", "--json"])
    assert (code, loaded, out) == (0, True, ROOT_HELP + "\n")
    _, loaded, out = _main(["--help"], _MAILADMIN_COMPLETE="bash_source")
    assert loaded and "Usage:" not in out  # shell completion is click's
    code, loaded, out = _main(["resellers", "--help"])
    assert (code, loaded) == (0, True) and "Record reseller NAME." in out
