"""``python -m mailadmin.orchestration.matrix``: the capability matrix of the installed providers.

The matrix itself is built in :mod:`mailadmin.contract.matrix` from any source of providers;
this module passes it the registry, which lives here in orchestration.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from mailadmin.contract.matrix import capabilities_document, matrix_differences, parse_matrix
from mailadmin.orchestration.registry import get_registry

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mailadmin.orchestration.matrix [--write FILE | --check FILE]``; prints it."""
    parser = argparse.ArgumentParser(
        prog="python -m mailadmin.orchestration.matrix",
        description="The capability matrix of the installed providers, as Markdown.",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="FILE", type=Path, help="write the document to FILE")
    group.add_argument("--check", metavar="FILE", type=Path, help="exit 1 when FILE is stale")
    args = parser.parse_args(argv)
    registry = get_registry()
    if args.check is not None:
        problems = matrix_differences(args.check.read_text(encoding="utf-8"), registry)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"{args.check} is stale; refresh it with --write", file=sys.stderr)
        return 1 if problems else 0
    document = capabilities_document(registry)
    if args.write is not None:
        args.write.write_text(document, encoding="utf-8")
        print(f"wrote {args.write} ({', '.join(parse_matrix(document)) or 'no providers'})")
    else:
        sys.stdout.write(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
