"""Wait for an operation the platform accepted (HTTP 202) to finish, within a time limit.

::

    final = await poll(
        lambda: transport.request("GET", status_url, write=False),
        done=lambda response: response.json()["status"] in ("succeeded", "failed"),
        max_duration=300,
    )

Between checks it waits what the platform asks in ``Retry-After``, else a growing
interval; it never sleeps past the deadline, checks once more there and then gives up with
:class:`PollTimeout`. ``sleep`` and ``clock`` are injectable, so tests take no time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from mailadmin import errors

__all__ = ["PollTimeout", "poll", "retry_after_of"]

T = TypeVar("T")


class PollTimeout(errors.Unavailable):
    """The operation did not finish within the maximum duration (it may still finish)."""

    code = "poll_timeout"


def retry_after_of(result: Any) -> float | None:
    """Seconds asked by a ``Retry-After`` header on ``result`` (an ``httpx.Response``)."""
    from mailadmin.wire.responses import parse_retry_after

    headers = getattr(result, "headers", None)
    if headers is None:
        return None
    value = headers.get("Retry-After")
    return parse_retry_after(value) if isinstance(value, str) else None


async def poll(
    check: Callable[[], Awaitable[T]],
    *,
    done: Callable[[T], bool],
    max_duration: float,
    interval: float = 1.0,
    max_interval: float = 30.0,
    backoff: float = 1.5,
    retry_after: Callable[[T], float | None] = retry_after_of,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    what: str = "The operation",
) -> T:
    """Call ``check()`` until ``done(result)``; return that result.

    ``max_duration``: seconds from the first check after which :class:`PollTimeout` is
    raised. ``interval``: the first wait, growing by ``backoff`` up to ``max_interval``
    when the platform gives no ``Retry-After`` (read by ``retry_after(result)``); an asked
    wait is honoured as it is, but cut at the deadline. ``what`` names the operation in
    the error message.
    """
    if max_duration < 0 or interval < 0 or max_interval < 0 or backoff < 1:
        raise errors.ValidationError(
            "poll needs a max_duration and intervals of 0 or more, and a backoff of 1 or more"
        )
    deadline = clock() + max_duration
    wait = interval
    checks = 0
    while True:
        result = await check()
        checks += 1
        if done(result):
            return result
        remaining = deadline - clock()
        if remaining <= 0:
            raise PollTimeout(
                f"{what} did not finish within {max_duration:g} seconds",
                debug={"checks": checks},
            )
        asked = retry_after(result)
        pause = asked if asked is not None else wait
        await sleep(min(max(pause, 0.0), remaining))
        if asked is None:
            wait = min(max_interval, wait * backoff)
