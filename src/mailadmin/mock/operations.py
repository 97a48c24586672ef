"""Asynchronous operations: the platform accepts a change now and finishes it later.

A handler starts an operation (``state.operations.start("set_plan", apply=...)``) and
answers with its id; the platform's polling endpoint calls :meth:`Operations.poll`. When
the operation finishes depends on its :class:`Progression`: immediately, after N polls
(the first N polls report ``in_progress``) or after T seconds on the server's clock. The
change itself (``apply``) runs when the operation finishes, so the platform's state shows
it only then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mailadmin.mock.clock import Clock

__all__ = ["AsyncOperation", "OperationFailed", "OperationState", "Operations", "Progression"]


class OperationState(StrEnum):
    """Where an asynchronous operation is."""

    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class OperationFailed(Exception):
    """Raised by an operation's ``apply`` to end it as failed with a message."""


class Progression(BaseModel):
    """When an operation finishes: ``immediate``, after ``polls`` polls or ``seconds``.

    As JSON (``PUT /_mock/operations``): ``{"mode": "polls", "polls": 2}``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: Literal["immediate", "polls", "seconds"] = "immediate"
    polls: int = Field(default=0, ge=0)
    seconds: float = Field(default=0.0, ge=0)

    @classmethod
    def immediate(cls) -> Progression:
        """Finished as soon as it starts."""
        return cls()

    @classmethod
    def after_polls(cls, polls: int) -> Progression:
        """The first ``polls`` polls report ``in_progress``; the next one the end state."""
        return cls(mode="polls", polls=polls)

    @classmethod
    def after_seconds(cls, seconds: float) -> Progression:
        """Finished once ``seconds`` have passed on the server's clock."""
        return cls(mode="seconds", seconds=seconds)


@dataclass
class AsyncOperation:
    """One asynchronous operation: ``id`` (``"op-1"``), ``kind`` (``"set_plan"``),
    ``subject`` (``"anna@example.com"``), ``state``, ``result`` (what ``apply`` returned),
    ``error`` (the failure message), ``polls`` so far."""

    id: str
    kind: str
    subject: str
    progression: Progression
    started_at: float
    state: OperationState = OperationState.IN_PROGRESS
    result: Any = None
    error: str | None = None
    polls: int = 0
    _apply: Callable[[], Any] | None = field(default=None, repr=False)

    @property
    def done(self) -> bool:
        """True once succeeded or failed."""
        return self.state is not OperationState.IN_PROGRESS

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view for snapshots."""
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "state": self.state.value,
            "result": self.result,
            "error": self.error,
            "polls": self.polls,
        }


class Operations:
    """The asynchronous operations of one mock state, with their progression rules."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._default = Progression()
        self._by_kind: dict[str, Progression] = {}
        self._items: dict[str, AsyncOperation] = {}
        self._counter = 0

    def set_progression(self, progression: Progression, kind: str | None = None) -> None:
        """Use ``progression`` for operations of ``kind`` (every kind when ``None``)."""
        if kind is None:
            self._default = progression
            self._by_kind.clear()
        else:
            self._by_kind[kind] = progression

    def progression(self, kind: str) -> Progression:
        """The progression new operations of ``kind`` get."""
        return self._by_kind.get(kind, self._default)

    def start(
        self, kind: str, subject: str = "", *, apply: Callable[[], Any] | None = None
    ) -> AsyncOperation:
        """Start an operation; ``apply`` makes the change when it finishes."""
        self._counter += 1
        operation = AsyncOperation(
            id=f"op-{self._counter}",
            kind=kind,
            subject=subject,
            progression=self.progression(kind),
            started_at=self.clock.now(),
            _apply=apply,
        )
        self._items[operation.id] = operation
        if operation.progression.mode == "immediate":
            self._finish(operation)
        return operation

    def get(self, operation_id: str) -> AsyncOperation | None:
        """The operation (settled by time, not counted as a poll), or ``None``."""
        operation = self._items.get(operation_id)
        if operation is not None:
            self._settle_one(operation)
        return operation

    def poll(self, operation_id: str) -> AsyncOperation | None:
        """Count one poll and return the operation in its state after it, or ``None``."""
        operation = self._items.get(operation_id)
        if operation is None:
            return None
        if not operation.done:
            progression = operation.progression
            if progression.mode == "polls" and operation.polls >= progression.polls:
                self._finish(operation)
            operation.polls += 1
            self._settle_one(operation)
        return operation

    def settle(self) -> None:
        """Finish every operation whose time has come (the server calls this per request)."""
        for operation in list(self._items.values()):
            self._settle_one(operation)

    def clear(self) -> None:
        """Forget every operation (progression rules stay)."""
        self._items.clear()
        self._counter = 0

    def reset(self) -> None:
        """Forget every operation and every progression rule."""
        self.clear()
        self._default = Progression()
        self._by_kind.clear()

    def snapshot(self) -> list[dict[str, Any]]:
        """Every operation as JSON-able dicts."""
        return [operation.to_dict() for operation in self._items.values()]

    def __iter__(self) -> Iterator[AsyncOperation]:
        return iter(list(self._items.values()))

    def _settle_one(self, operation: AsyncOperation) -> None:
        progression = operation.progression
        if (
            not operation.done
            and progression.mode == "seconds"
            and self.clock.now() - operation.started_at >= progression.seconds
        ):
            self._finish(operation)

    def _finish(self, operation: AsyncOperation) -> None:
        try:
            operation.result = operation._apply() if operation._apply is not None else None
        except OperationFailed as exc:
            operation.state = OperationState.FAILED
            operation.error = str(exc) or "the operation failed"
        else:
            operation.state = OperationState.SUCCEEDED
        operation._apply = None
