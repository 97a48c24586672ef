"""Bulk work: many calls with bounded concurrency, progress and per-item results.

One failing item never stops the others. The caller chooses what happens to failures:
``"collect"`` (default) keeps them in the result, ``"skip"`` leaves them out, ``"raise"``
raises :class:`BulkError` once every item has finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors

__all__ = [
    "NOT_SENT",
    "BulkError",
    "BulkResult",
    "ItemError",
    "ItemResult",
    "OnError",
    "Progress",
    "run_bulk",
]

T = TypeVar("T")
OnError = Literal["raise", "skip", "collect"]
#: ``progress(done, total, item_key)`` after every finished item.
Progress = Callable[[int, int, str], None]
#: Error code of an item that was never sent (stopped early or interrupted).
NOT_SENT = "not_sent"


class ItemError(BaseModel):
    """The user-safe part of a failure: stable code, message, whether a retry may help."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    retryable: bool = False


class ItemResult(BaseModel, Generic[T]):
    """The result of one item: ``value`` on success, ``error`` on failure."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: T | None = None
    error: ItemError | None = None

    @property
    def ok(self) -> bool:
        """True when the item succeeded."""
        return self.error is None


class BulkResult(BaseModel, Generic[T]):
    """Per-item results in input order, with totals."""

    model_config = ConfigDict(frozen=True)

    items: list[ItemResult[T]]
    failed: int = 0
    #: The journal's id of the run (``mailadmin journal resume --run ID``), when journalled.
    run_id: str | None = None
    #: No new item started after the first failure (``stop_on_error``).
    stopped: bool = False
    #: Cancelled part-way (Ctrl-C): items never started are ``not_sent``, and the run
    #: stays unfinished for ``mailadmin journal resume --run ID``.
    interrupted: bool = False
    #: The store went out of reach part-way: no new item was sent, and the run stays
    #: unfinished for ``mailadmin journal resume --run ID`` once the store is back.
    store_unavailable: bool = False

    @property
    def succeeded(self) -> int:
        """How many items succeeded."""
        return sum(1 for item in self.items if item.ok)

    @property
    def ok(self) -> bool:
        """True when no item failed."""
        return self.failed == 0


class BulkError(errors.MailadminError):
    """Raised by ``on_error="raise"`` after all items ran; ``result`` holds every item."""

    code = "bulk_failed"

    def __init__(self, result: BulkResult[object]) -> None:
        super().__init__(f"{result.failed} of {len(result.items)} items failed")
        self.result = result


async def run_bulk(
    items: Iterable[tuple[str, Callable[[], Awaitable[T]]]],
    *,
    concurrency: int = 8,
    on_error: OnError = "collect",
    progress: Progress | None = None,
) -> BulkResult[T]:
    """Run ``(key, call)`` pairs with at most ``concurrency`` in flight."""
    if concurrency < 1:
        raise errors.ValidationError("Concurrency must be 1 or more")
    if on_error not in ("raise", "skip", "collect"):
        raise errors.ValidationError("on_error must be 'raise', 'skip' or 'collect'")
    work = list(items)
    results: list[ItemResult[T] | None] = [None] * len(work)
    done = 0

    async def one(key: str, call: Callable[[], Awaitable[T]]) -> ItemResult[T]:
        try:
            return ItemResult[T](key=key, value=await call())
        except errors.MailadminError as exc:
            return ItemResult[T](key=key, error=_describe(exc))
        except Exception as exc:
            from mailadmin.contract.provider import normalise

            return ItemResult[T](key=key, error=_describe(normalise(exc)))

    # A few workers pulling from one iterator, not a task (and a semaphore waiter) per
    # item up front: 10,000 items cost 10,000 live tasks before.
    source = iter(enumerate(work))

    async def worker() -> None:
        nonlocal done
        for index, (key, call) in source:
            results[index] = await one(key, call)
            done += 1
            if progress is not None:
                progress(done, len(work), key)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(work)))))
    finished = [r for r in results if r is not None]
    failed = sum(1 for r in finished if not r.ok)
    kept = [r for r in finished if r.ok] if on_error == "skip" else finished
    outcome = BulkResult[T](items=kept, failed=failed)
    if on_error == "raise" and failed:
        raise BulkError(outcome)  # type: ignore[arg-type]
    return outcome


def _describe(exc: errors.MailadminError) -> ItemError:
    retryable = bool(getattr(exc, "retryable", False))
    return ItemError(code=exc.code, message=exc.message, retryable=retryable)
