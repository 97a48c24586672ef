"""The state of one mock server: a platform's data and business rules, with no HTTP in it.

A platform subclasses :class:`MockState`, keeps its data in plain attributes and writes its
rules as methods (``change_plan``, ``create_mailbox``...). Handlers call those methods; the
state never sees a request. Every server owns its own instance, so two servers never share
anything.

Subclasses implement three methods: ``reset()`` (back to the documented defaults; call
``super().reset()`` first), ``snapshot()`` (a JSON-able dict) and ``load_seed(data)``
(apply a seed document, usually the shape ``snapshot()`` returns, so a snapshot can be
saved and loaded again).
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mailadmin.contract import errors
from mailadmin.mock.clock import Clock, SystemClock
from mailadmin.mock.operations import Operations

__all__ = ["MockState", "SeedError", "read_seed"]


class SeedError(ValueError):
    """A seed document is malformed; the message says where, safe to show."""


class MockState:
    """Base of every platform's mock state.

    ``clock``: the server's clock; ``operations``: its asynchronous operations.
    """

    def __init__(self, *, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or SystemClock()
        self.operations = Operations(self.clock)
        self.reset()

    def reset(self) -> None:
        """Back to the documented defaults. Subclasses call this first, then set theirs."""
        self.operations.reset()

    def snapshot(self) -> dict[str, Any]:
        """The whole state as a JSON-able dict (``GET /_mock/state``)."""
        return {"operations": self.operations.snapshot()}

    def load_seed(self, data: Mapping[str, Any]) -> None:
        """Apply a seed document (parsed JSON or TOML) on top of the current state.

        Raise :class:`SeedError` with a clear message when the document is wrong.
        """
        if data:
            raise SeedError(f"this platform takes no seed (got {', '.join(sorted(data))})")


def read_seed(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A seed document from a mapping or a ``.json`` / ``.toml`` file.

    Raises :class:`~mailadmin.contract.errors.ConfigurationError` for a missing or unreadable file.
    """
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise errors.ConfigurationError(
            f"Cannot read the seed file '{path}'", debug={"exception": repr(exc)}
        ) from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode("utf-8"))
        else:
            data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise errors.ConfigurationError(
            f"The seed file '{path}' is not valid {kind}: {exc}"
        ) from None
    if not isinstance(data, dict):
        raise errors.ConfigurationError(f"The seed file '{path}' must hold an object")
    return data
