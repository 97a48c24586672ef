"""The state of one mock server: a platform's data and business rules, with no HTTP in it.

A platform subclasses :class:`MockState`, keeps its data in plain attributes and writes its
rules as methods (``change_plan``, ``create_mailbox``...). Handlers call those methods; the
state never sees a request. Every server owns its own instance, so two servers never share
anything.

Subclasses implement three methods: ``reset()`` (back to the documented defaults; call
``super().reset()`` first), ``snapshot()`` (a JSON-able dict) and ``load_seed(data)``
(apply a seed document, usually the shape ``snapshot()`` returns, so a snapshot can be
saved and loaded again).

:class:`ModelState` does all three for a state whose data is one pydantic model: the
snapshot is the model dumped as JSON, a seed is validated against the model (a
:class:`SeedError` names every wrong field) and merged in, reset builds the defaults.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from mailadmin import errors
from mailadmin.mock.clock import Clock, SystemClock
from mailadmin.mock.operations import Operations

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["MockState", "ModelState", "SeedError", "read_seed"]

M = TypeVar("M", bound="BaseModel")


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


class ModelState(MockState, Generic[M]):
    """A :class:`MockState` whose data is one pydantic model, ``self.data``.

    A subclass sets ``model`` (the data's class) and may override :meth:`defaults` (the
    documented defaults; the model built without arguments otherwise), ``seed_model``
    (the class a seed is validated against; ``model`` otherwise) and :meth:`apply_seed`
    (how a validated seed merges in; each top-level field the seed sets replaces that
    field otherwise)::

        class Data(BaseModel):
            domains: dict[str, Domain] = {}

        class MyState(ModelState[Data]):
            model = Data
    """

    model: ClassVar[type[BaseModel]]
    seed_model: ClassVar[type[BaseModel] | None] = None
    data: M

    def defaults(self) -> M:
        """The documented default data (a fresh object on every call)."""
        return cast("M", self.model())

    def reset(self) -> None:
        """Back to :meth:`defaults`."""
        super().reset()
        self.data = self.defaults()

    def snapshot(self) -> dict[str, Any]:
        """The data dumped as JSON (``model_dump(mode="json")``), plus the operations."""
        dumped: dict[str, Any] = self.data.model_dump(mode="json")
        return {**super().snapshot(), **dumped}

    def load_seed(self, data: Mapping[str, Any]) -> None:
        """Validate ``data`` against ``seed_model`` (a :class:`SeedError` lists every wrong
        field) and merge it with :meth:`apply_seed`. The ``operations`` key of a snapshot
        is ignored, so a snapshot loads back."""
        import pydantic

        raw = {key: value for key, value in data.items() if key != "operations"}
        schema = self.seed_model or self.model
        try:
            seed = schema.model_validate(raw)
        except pydantic.ValidationError as exc:
            raise SeedError(_seed_errors(exc)) from None
        self.apply_seed(seed)

    def apply_seed(self, seed: BaseModel) -> None:
        """Merge a validated seed: each top-level field it sets replaces that field."""
        for name in seed.model_fields_set:
            setattr(self.data, name, getattr(seed, name))


def _seed_errors(exc: Any) -> str:
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '(seed)'}: {error['msg']}"
        for error in exc.errors()
    ]
    return "invalid seed: " + "; ".join(problems)


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
