"""How long a CLI list is: ``--limit N`` (default 100) or ``--all``, and the note that
says ``showing N of M`` when the list was cut."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

__all__ = ["DEFAULT_LIMIT", "cut", "limit_options"]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: How many rows a list shows unless told otherwise.
DEFAULT_LIMIT = 100


def limit_options(function: F) -> F:
    """Add ``--limit N`` and ``--all`` to a list command (its ``limit`` and ``show_all``)."""
    function = click.option(
        "--all",
        "show_all",
        is_flag=True,
        help="Every row, however many (overrides --limit).",
    )(function)
    decorated: F = click.option(
        "--limit",
        default=DEFAULT_LIMIT,
        show_default=True,
        type=click.IntRange(1, 1_000_000),
        help="At most this many rows.",
    )(function)
    return decorated


def cut(
    rows: Sequence[T], limit: int, show_all: bool, noun: str, *, total: int | None = None
) -> tuple[list[T], str | None]:
    """The rows to show and, when some were left out, the note saying so. ``total``: the
    whole list's length when ``rows`` holds only part of it."""
    whole = len(rows) if total is None else total
    shown = list(rows) if show_all else list(rows[:limit])
    if len(shown) >= whole:
        return shown, None
    return shown, f"showing {len(shown)} of {whole} {noun}; see every one with --all"
