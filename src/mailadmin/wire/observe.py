"""Observers of platform requests: what metrics and traces hook into the transport.

Nothing is observed unless a process installs an observer (``mailadmin serve`` and the
workers do, for ``/metrics`` and for tracing when it is configured): with none, a request
pays one look at an empty tuple.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["RequestObserver", "add_observer", "observers", "remove_observer"]


class RequestObserver(Protocol):
    """Told when a platform call starts and ends, and of each attempt's answer."""

    def started(self, instance: str, operation: str, method: str) -> object:
        """A call starts; the value returned is handed back to :meth:`ended`."""

    def attempted(self, instance: str, operation: str, status: int | None) -> None:
        """One attempt ended with HTTP ``status`` (``None``: no answer)."""

    def ended(
        self,
        token: object,
        instance: str,
        operation: str,
        outcome: str,
        status: int | None,
        seconds: float,
        attempts: int,
    ) -> None:
        """The call ended: ``outcome`` is ``ok``, ``client_error``, ``server_error``,
        ``throttled`` or ``unavailable``; ``attempts`` counts the retries too."""


_OBSERVERS: tuple[RequestObserver, ...] = ()


def observers() -> tuple[RequestObserver, ...]:
    """The installed observers (usually none)."""
    return _OBSERVERS


def add_observer(observer: RequestObserver) -> None:
    """Install ``observer`` for every transport of the process."""
    global _OBSERVERS
    if observer not in _OBSERVERS:
        _OBSERVERS = (*_OBSERVERS, observer)


def remove_observer(observer: RequestObserver) -> None:
    """Uninstall ``observer``."""
    global _OBSERVERS
    _OBSERVERS = tuple(o for o in _OBSERVERS if o is not observer)


def outcome_of(status: int | None) -> str:
    """The outcome label of a call that ended with HTTP ``status``."""
    if status is None:
        return "unavailable"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "ok"
