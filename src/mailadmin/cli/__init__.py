"""The ``mailadmin`` command line: tables for people, ``--json`` for machines.

Exit codes: 0 success; 1 unexpected failure; 2 usage, validation, configuration or
unsupported operation; 3 refused by policy; 4 provider failure (including any failed
item of bulk work).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (usage errors: 2)."""
    args = sys.argv[1:] if argv is None else list(argv)
    # ``mailadmin --help`` on a wide terminal or a pipe prints without loading click
    # (mailadmin/cli/roothelp.py); everything else is the click group of cli/root.py.
    from mailadmin.cli.roothelp import try_root_help

    try:
        if try_root_help(args):
            return 0
    except KeyboardInterrupt as exc:
        from mailadmin.cli.root import _exit_code

        print(file=sys.stderr)  # as click does: a blank line closes the terminal's ^C echo
        return _exit_code(exc, as_json=False)
    except Exception:
        pass  # a broken pipe, say: click's path meets it again and reports it as before
    from mailadmin.cli.root import main as run

    return run(args)
