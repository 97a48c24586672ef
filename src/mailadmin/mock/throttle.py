"""A mock's throttling: a token bucket per tenant, per credential or for the whole
platform, answered as the platform answers when it throttles.

``server.throttle(Throttle(rate=200, burst=40, per="tenant"))`` (or ``PUT /_mock/throttle``
with the same fields as JSON) lets each key send ``rate`` requests a second, ``burst`` at
once; a request finding its bucket empty is answered with the platform's throttling
answer (Exchange: 429 with ``Retry-After``; see each plugin's ``fault_response``) and never
reaches the state. ``Retry-After`` is the whole seconds until the bucket holds a request
again (at least 1, as HTTP writes it). ``allowed`` and ``throttled`` count the answers.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

if TYPE_CHECKING:
    pass

__all__ = ["Throttle", "ThrottleKey"]

#: What one bucket is for: each tenant, each credential, or the platform as a whole.
ThrottleKey = Literal["tenant", "credential", "platform"]


class Throttle(BaseModel):
    """A token bucket per ``per`` key: ``rate`` requests a second, ``burst`` at once."""

    model_config = ConfigDict(extra="forbid")

    rate: float = Field(gt=0)
    burst: float = Field(default=1.0, ge=1)
    per: ThrottleKey = "tenant"
    allowed: int = 0
    throttled: int = 0
    _buckets: dict[str, tuple[float, float]] = PrivateAttr(default_factory=dict)

    def take(self, key: str, now: float) -> float | None:
        """Take one request from ``key``'s bucket at ``now`` (seconds): ``None`` when it
        may go, else the seconds until it could."""
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self.allowed += 1
            return None
        self._buckets[key] = (tokens, now)
        self.throttled += 1
        return (1.0 - tokens) / self.rate

    def to_dict(self) -> dict[str, object]:
        """The settings and counters, as ``GET /_mock/throttle`` answers."""
        return self.model_dump()


def retry_after(wait: float) -> str:
    """``Retry-After`` for a wait of ``wait`` seconds: whole seconds, at least 1."""
    return str(max(1, math.ceil(wait)))
