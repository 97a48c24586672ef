"""Time as a mock server sees it: the real clock, or a manual one tests move by hand.

Latency faults sleep on the server's clock and timed asynchronous operations finish by it,
so a test with a :class:`ManualClock` exercises both without waiting.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """What a mock server needs of time: ``now()`` in seconds and an async ``sleep``."""

    def now(self) -> float:
        """Seconds on a monotonic scale."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class SystemClock:
    """The real monotonic clock; ``sleep`` really waits."""

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)``."""
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that moves only when told: ``advance(5)``; ``sleep(5)`` advances at once.

    Example::

        clock = ManualClock()
        server = MockServer(MemoryMock, clock=clock)
        server.inject(Fault(kind="latency", delay=30))   # returns at once, clock +30 s
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        #: Every sleep requested, in order (latency faults show up here).
        self.sleeps: list[float] = []

    def now(self) -> float:
        """The current manual time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        """Record the sleep and advance the clock without waiting."""
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        await asyncio.sleep(0)
