"""The ``mailadmin`` command line: tables for people, ``--json`` for machines.

Exit codes: 0 success; 1 unexpected failure; 2 usage, validation or configuration error;
3 refused by policy; 4 provider failure (including any failed item of bulk work).
"""

from mailadmin.cli.root import main

__all__ = ["main"]
