"""Pacing one platform instance's requests to the rate it accepts (AIMD).

A platform that throttles (Exchange Online's per-tenant budgets, an OX or Zimbra install
capping admin requests) answers 429 once its budget is spent. Until the first such answer
nothing is paced: requests go out as the caller sends them. At the first one the pacer
takes the rate of answers of the last second, less a cut, as its rate and from then on
spaces requests by it: every answer that is not throttled raises the rate a little
(additive increase, one per cent of the rate a second), a throttled one cuts it
(multiplicative decrease, at most once per ``cut_every`` seconds, so one burst of
throttled answers counts once). The throttled request itself waits the ``Retry-After`` it
was given before it is sent again (the transport's retries, the run service's item
retries); the others go on at the lowered rate, so the instance keeps sending just under
what the platform accepts instead of stalling.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

__all__ = ["Pacer"]


class Pacer:
    """AIMD pacing of one instance's requests: ``await pacer.wait()`` before each one,
    ``pacer.answered(throttled)`` after. ``rate`` is ``None`` until a request is throttled."""

    def __init__(
        self,
        *,
        cut: float = 0.9,
        climb: float = 0.01,
        cut_every: float = 0.5,
        least: float = 1.0,
    ) -> None:
        #: Requests a second (``None``: not paced, nothing throttled yet).
        self.rate: float | None = None
        #: Throttled answers seen, and rate cuts made.
        self.throttled = 0
        self.cuts = 0
        self._cut = cut
        self._climb = climb
        self._cut_every = cut_every
        self._least = least
        self._step = 0.0  # requests a second added a second, set at each cut
        self._next = 0.0  # when the next request may go (monotonic seconds)
        self._last_cut = -1e9
        self._answers: deque[float] = deque(maxlen=8192)

    async def wait(self) -> None:
        """Wait for this request's turn (at once while nothing was throttled)."""
        while self.rate is not None:
            now = time.monotonic()
            turn = self._next if self._next > now else now
            self._next = turn + 1.0 / self.rate
            if turn <= now:
                return
            cuts = self.cuts
            await asyncio.sleep(turn - now)
            if self.cuts == cuts:
                return
            # The rate was cut while this request waited: its turn was given at the old
            # rate, so it takes a new one at the new rate (or it would land throttled too).

    def answered(self, throttled: bool) -> None:
        """Learn from one answer: throttled (429) or not."""
        now = time.monotonic()
        if not throttled:
            if self.rate is None:
                self._answers.append(now)
            else:
                # Additive increase: ``_step`` requests a second more each second.
                self.rate += self._step / self.rate
            return
        self.throttled += 1
        if now - self._last_cut < self._cut_every:
            return
        self._last_cut = now
        self.cuts += 1
        if self.rate is None:
            recent = sum(1 for t in self._answers if t > now - 1.0)
            self._answers.clear()
            self.rate = max(self._least, recent * self._cut)
        else:
            self.rate = max(self._least, self.rate * self._cut)
        self._step = max(0.2, self.rate * self._climb)
        self._next = now + 1.0 / self.rate  # the waiting requests take new turns
