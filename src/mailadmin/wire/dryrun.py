"""Dry runs: a scope in which providers read and report but never write.

The provider base opens a scope around every call made with ``dry_run=True``; the shared
transport refuses any request marked as a write while one is open, so a provider bug
cannot slip a change through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from mailadmin import errors

__all__ = ["DryRunViolation", "dry_run_active", "dry_run_scope"]

_dry_run: ContextVar[bool] = ContextVar("mailadmin_dry_run", default=False)


@contextmanager
def dry_run_scope(active: bool) -> Iterator[None]:
    """Run the enclosed code as a dry run when ``active`` (writes are refused).

    Scopes nest and restore the outer state on exit. An inner scope cannot switch off an
    outer dry run: once a dry run, everything called from it stays one.
    """
    token = _dry_run.set(active or _dry_run.get())
    try:
        yield
    finally:
        _dry_run.reset(token)


def dry_run_active() -> bool:
    """True while the current task runs inside an active :func:`dry_run_scope`."""
    return _dry_run.get()


class DryRunViolation(errors.ProviderError):
    """A provider tried to send a write during a dry run. It was never sent."""

    code = "dry_run_violation"
