"""Bulk work as the CLI runs it: bounded concurrency, stop early, Ctrl-C, a summary.

:func:`run_batch` differs from the orchestrator's ``run_bulk`` in what a person at a
terminal needs. With ``stop_on_error`` no new item starts after the first failure. When
the run is cancelled (Ctrl-C cancels the main task under ``asyncio.run``), no new item
starts either, the items already sent are awaited (shielded from the cancellation, so each
gets its journal record completed) and the batch returns what it has, flagged
``interrupted``. Items that never started are reported as ``not sent``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors
from mailadmin.orchestration.bulk import ItemError, ItemResult

__all__ = ["NOT_SENT", "Batch", "outcome_of", "run_batch"]

T = TypeVar("T")

#: Error code of an item that was never sent (stopped early or interrupted).
NOT_SENT = "not_sent"


class Batch(BaseModel, Generic[T]):
    """Every item's result in input order, with what stopped the run, if anything."""

    model_config = ConfigDict(frozen=True)

    items: list[ItemResult[T]]
    stopped: bool = False
    interrupted: bool = False
    #: The journal's id of the run (``mailadmin journal resume --run ID``).
    run_id: str | None = None
    #: The store went out of reach: no new item was sent.
    store_unavailable: bool = False

    @property
    def failed(self) -> list[ItemResult[T]]:
        """Items that were sent and failed."""
        return [i for i in self.items if i.error is not None and i.error.code != NOT_SENT]

    @property
    def not_sent(self) -> list[ItemResult[T]]:
        """Items that never started."""
        return [i for i in self.items if i.error is not None and i.error.code == NOT_SENT]

    def summary(self, outcome: Callable[[T], str] | None = None) -> dict[str, int]:
        """Counts per outcome: ``{"changed": 298, "unchanged": 0, "failed": 2}``.

        ``outcome`` names the outcome of a succeeded value (default: ``ok``).
        """
        counts: dict[str, int] = {}
        for item in self.items:
            if item.error is not None:
                key = "not sent" if item.error.code == NOT_SENT else "failed"
            elif outcome is not None and item.value is not None:
                key = outcome(item.value)
            else:
                key = "ok"
            counts[key] = counts.get(key, 0) + 1
        return counts


async def run_batch(
    items: Sequence[tuple[str, Callable[[], Awaitable[T]]]],
    *,
    concurrency: int = 8,
    stop_on_error: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> Batch[T]:
    """Run ``(key, call)`` pairs with at most ``concurrency`` in flight."""
    results: list[ItemResult[T] | None] = [None] * len(items)
    gate = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()
    state = {"done": 0, "stopped": False}

    async def one(index: int, key: str, call: Callable[[], Awaitable[T]]) -> None:
        async with gate:
            if stop.is_set():
                return
            try:
                results[index] = ItemResult[T](key=key, value=await call())
            except errors.MailadminError as exc:
                results[index] = ItemResult[T](key=key, error=_describe(exc))
            except Exception as exc:
                from mailadmin.contract.provider import normalise

                results[index] = ItemResult[T](key=key, error=_describe(normalise(exc)))
            result = results[index]
            if stop_on_error and result is not None and not result.ok:
                state["stopped"] = True
                stop.set()
        state["done"] += 1
        if progress is not None:
            progress(state["done"], len(items), key)

    tasks = [asyncio.ensure_future(one(i, key, call)) for i, (key, call) in enumerate(items)]
    interrupted = False
    try:
        # Shielded: a cancellation reaches this await, not the calls on the wire.
        await asyncio.shield(asyncio.gather(*tasks))
    except asyncio.CancelledError:
        interrupted = True
        stop.set()
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()  # handled here: the caller goes on to print what was done
        await asyncio.gather(*tasks, return_exceptions=True)
    not_sent = ItemError(code=NOT_SENT, message="not sent")
    final = [
        result if result is not None else ItemResult[T](key=key, error=not_sent)
        for result, (key, _) in zip(results, items, strict=True)
    ]
    return Batch[T](items=final, stopped=bool(state["stopped"]), interrupted=interrupted)


def _describe(exc: errors.MailadminError) -> ItemError:
    return ItemError(
        code=exc.code, message=exc.message, retryable=bool(getattr(exc, "retryable", False))
    )


def outcome_of(value: Any) -> str:
    """The outcome of a write result (``changed``, ``unchanged``, ``accepted``)."""
    outcome = getattr(value, "outcome", None)
    return str(getattr(outcome, "value", outcome)) if outcome is not None else "ok"
