"""The ``mailadmin`` command line: tables for people, ``--json`` for machines.

Exit codes: 0 success; 1 unexpected failure; 2 usage, validation, configuration or
unsupported operation; 3 refused by policy; 4 provider failure (including any failed
item of bulk work).
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (usage errors: 2).

    Called without ``argv`` (the ``mailadmin`` command, ``python -m mailadmin.cli``), the
    process ends when it returns: its objects are then frozen out of the garbage
    collector, whose passes over every loaded module's objects at interpreter exit cost
    about a quarter of a short command's CPU. atexit handlers and module teardown still
    run; only garbage cycles left among the frozen objects go with the process, uncollected.
    """
    if argv is not None:
        return _main(list(argv))
    code = _main(sys.argv[1:])
    import gc

    gc.freeze()
    return code


def _main(args: list[str]) -> int:
    # httpx's package imports its own command line (rich, pygments and click: about 70
    # modules, 50 ms) when they are installed; this process never runs httpx's command.
    # A None entry is Python's way to refuse an import: httpx then defines a stub main.
    if "httpx" not in sys.modules:
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
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
