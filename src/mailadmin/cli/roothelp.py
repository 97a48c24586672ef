"""``mailadmin --help`` without importing click.

Importing click costs about as much as starting Python itself, and the root help is the
same text on every terminal of 80 columns or more (click caps help at 78 columns) and
when stdout is not a terminal. So that case prints :data:`ROOT_HELP`, which is click's own
rendering kept here; every other case (a narrower terminal, shell completion, a click
translation, click already loaded) goes through click as before. A test
(``tests/test_cli_root_help.py``) keeps the text equal to what click renders; regenerate
it with ``python -m mailadmin.cli.roothelp``.

This module imports nothing beyond the standard library's ``os`` and ``sys``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ROOT_HELP", "render_root_help", "try_root_help"]

#: click's HelpFormatter width for a terminal of 80 columns or more (its default cap).
_WIDTH = 78
#: The environment variable that asks click for shell completion instead.
_COMPLETE_VAR = "_MAILADMIN_COMPLETE"

ROOT_HELP = """\
Usage: mailadmin [OPTIONS] COMMAND [ARGS]...

  Drive hosted-mail platforms through one typed API.

  Examples:
    mailadmin demo
    mailadmin --config mailadmin.toml count
    mailadmin set-plan anna@example.com sync --dry-run --json

Options:
  --config FILE     Configuration file (TOML). Looked up as: --config FILE,
                    else $MAILADMIN_CONFIG, else ./mailadmin.toml.
  --json            Print JSON on stdout for every outcome, errors too.
  --debug           Show redacted developer detail with errors and every log
                    record on stderr.
  --strict-plugins  Fail on any broken or conflicting plugin.
  --as IDENTITY     Act as site-admin (default), reseller:NAME,
                    customer:TENANT or mailbox:ADDRESS.
  --fields A,B.C    Print JSON with only these fields of each record, e.g.
                    key,value.total (implies --json; a dotted name reaches
                    inside an object).
  --version         Show the version and every installed plugin with its
                    version.
  -h, --help        Show this message and exit.

Commands:
  addon          Set the TOTAL QUANTITY of an ADDON for a TENANT (0 to...
  allow-upgrade  Let the user of ADDRESS change its own plan (seed 000),...
  check          Test the connection and credentials of every configured...
  count          Mailboxes per tenant by kind and by plan (default: every...
  customers      Customers: add, list, update, remove, billing, suspend,...
  demo           Serve the mock platforms on loopback and drive them...
  journal        Read and settle the journal of writes (every write, dry...
  keys           API keys of the HTTP API: create (shown once), list,...
  licence        Seats licensed and used, features, validity and state...
  mailbox        List, create and delete mailboxes; set passwords,...
  mock           Mock servers of the installed platforms.
  new-plugin     Write a working plugin distribution NAME (provider,...
  orders         Plan, seat, licence and edition orders: pending -> paid...
  plans          The neutral plan catalogue and each instance's native...
  providers      Installed providers, their capabilities and plugin load...
  reconcile      Compare what each platform holds with what mailadmin keeps.
  report         Report NAME: usage, licences or renewals (docs/tenancy.md).
  resellers      Resellers: add, list, update and remove.
  runs           Distributed runs: list (default), show ID, cancel ID,...
  sell           Sell ADDON (QUANTITY each) to many resellers or...
  serve          Serve the HTTP API until stopped; prints 'listening on...
  set-plan       Put a mailbox on a plan: ADDRESS PLAN, or every change...
  store          The mailadmin database (journal, tenancy, orders):...
  terminate      Remove TENANT and every mailbox of it from its platform,...
  webhooks       Webhook endpoints for events: add (secret shown once),...
  worker         Run distributed bulk work until SIGINT or SIGTERM...

  Configuration: --config FILE, else $MAILADMIN_CONFIG, else ./mailadmin.toml.
  Global options (--config, --json, --fields, --debug, --strict-plugins, --as) go
  before or after the command. Scripts read --json (every command; --fields A,B keeps
  only those fields); off a terminal, tables are tab-separated lines; CSV comes from
  'report NAME --csv' and 'reconcile --csv'.

  Exit codes:
    0    success
    1    unexpected failure
    2    usage, validation, configuration or unsupported operation (nothing sent)
    3    refused by policy
    4    provider failure, including any failed item of bulk work
    5    report --fail-on-over-use found over-use
    130  interrupted (Ctrl-C); what was done is printed first"""


def try_root_help(args: list[str]) -> bool:
    """Print the root help and return True when ``args`` ask for exactly that and click
    would print :data:`ROOT_HELP`; otherwise print nothing and return False."""
    if not _is_plain_root_help(args):
        return False
    # What click.echo does with it: the text, a newline, a flush.
    sys.stdout.write(ROOT_HELP + "\n")
    sys.stdout.flush()
    return True


def _is_plain_root_help(args: list[str]) -> bool:
    return (
        args in (["--help"], ["-h"])
        and sys.stdout is not None
        # Loaded already (tests, CliRunner, an embedding program): nothing to save, and
        # click's state (a forced width, say) may differ.
        and "click" not in sys.modules
        and not os.environ.get(_COMPLETE_VAR)
        and _terminal_columns() >= _WIDTH + 2
        and not _translated()
    )


def _terminal_columns() -> int:
    """The columns ``shutil.get_terminal_size()`` reports, which is what click asks
    (shutil itself is not imported: it pulls in compression modules)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns > 0:
        return columns
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno())  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80
    return size.columns or 80


def _translated() -> bool:
    """True when gettext would translate click's words ("Usage:", "Options:")."""
    # gettext's default catalogue folder; without it nothing can be translated, and the
    # look-up below (which imports locale) is skipped.
    if not os.path.isdir(os.path.join(sys.base_prefix, "share", "locale")):
        return False
    import gettext

    return gettext.find("messages") is not None


def render_root_help() -> str:
    """What click prints for ``mailadmin --help`` on a terminal of 80 columns or more."""
    import click

    from mailadmin.cli.root import cli

    settings = {**cli.context_settings, "terminal_width": _WIDTH}
    with click.Context(cli, info_name="mailadmin", **settings) as ctx:
        return cli.get_help(ctx)


if __name__ == "__main__":  # regenerate ROOT_HELP: python -m mailadmin.cli.roothelp
    path = __file__
    with open(path, encoding="utf-8") as source:
        text = source.read()
    start = text.index('ROOT_HELP = """\\\n') + len('ROOT_HELP = """\\\n')
    end = text.index('"""', start)
    with open(path, "w", encoding="utf-8") as source:
        source.write(text[:start] + render_root_help() + text[end:])
