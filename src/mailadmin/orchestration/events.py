"""Webhooks: registering endpoints and delivering the store's events to them, signed.

Events are recorded by the store in the transaction of the change that caused them
(:mod:`mailadmin.store.events`). A :class:`Deliverer` (a background task of ``mailadmin
serve`` and of each worker) hands new events to every endpoint, sends each delivery with
an HMAC-SHA256 signature over ``"{timestamp}.{body}"``, and retries with exponential
backoff until the endpoint answers 2xx or the attempts run out. Two processes delivering
at once never both send one attempt: a delivery is claimed before it is sent.

Deliveries are at least once: a process killed after the endpoint answered 2xx but before
that was recorded sends the event again. ``Mailadmin-Event-Id`` is the same on every
attempt, so a receiver drops a repeat (docs/operations.md).
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from mailadmin.contract import errors
from mailadmin.store import events as store
from mailadmin.store.events import KINDS, Delivery, Due, Event, Webhook

if TYPE_CHECKING:
    import httpx

    from mailadmin.orchestration.config import EventsConfig
    from mailadmin.store.database import Database

__all__ = [
    "KINDS",
    "Deliverer",
    "Delivery",
    "Event",
    "Webhook",
    "Webhooks",
    "record_findings",
    "sign",
    "verify",
]

_log = logging.getLogger("mailadmin.events")

#: A delivery whose signature timestamp is further than this from now is refused by
#: :func:`verify` (a replayed old request).
TOLERANCE = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Mailadmin-Signature`` header value: ``v1=`` and the hex HMAC-SHA256 of
    ``"{timestamp}.{body}"`` with the endpoint's secret."""
    message = str(timestamp).encode() + b"." + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: float | None = None
) -> bool:
    """Whether a delivery is authentic: the signature matches and the timestamp is within
    :data:`TOLERANCE` seconds of ``now``. What a receiver in Python would run."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > TOLERANCE:
        return False
    expected = sign(secret, stamp, body)
    given = [part for part in signature.split(",") if part.startswith("v1=")]
    return any(hmac.compare_digest(expected, part.strip()) for part in given)


class Webhooks:
    """Endpoints and deliveries as the faces manage them (``/v1/webhooks``, ``mailadmin
    webhooks``)."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, url: str, kinds: tuple[str, ...] = (), label: str = "") -> tuple[Webhook, str]:
        """Register ``url`` for ``kinds`` (none: every kind); returns it and its secret."""
        self.check(url, kinds)
        return store.add_webhook(self._db, url.strip(), tuple(kinds), label.strip())

    @staticmethod
    def check(url: str, kinds: tuple[str, ...] = ()) -> None:
        """ValidationError unless ``url`` is an http(s) URL and every kind is known."""
        _check_url(url)
        unknown = sorted(set(kinds) - set(KINDS))
        if unknown:
            raise errors.ValidationError(
                f"Unknown event kind '{unknown[0]}'; the kinds are: {', '.join(KINDS)}"
            )

    def list(self, *, removed: bool = False) -> builtins.list[Webhook]:
        """The registered endpoints, oldest first."""
        return store.list_webhooks(self._db, removed=removed)

    def get(self, hook_id: str) -> Webhook:
        """One endpoint; NotFoundError when there is none."""
        return store.get_webhook(self._db, hook_id.strip())

    def remove(self, hook_id: str) -> Webhook:
        """Stop delivering to an endpoint (its pending deliveries end ``failed``)."""
        return store.remove_webhook(self._db, hook_id.strip())

    def deliveries(
        self, hook_id: str | None = None, *, state: str | None = None, limit: int = 1000
    ) -> builtins.list[Delivery]:
        """Deliveries (of one endpoint), oldest first."""
        if hook_id is not None:
            self.get(hook_id)
        if state is not None and state not in ("pending", "delivered", "failed"):
            raise errors.ValidationError("state must be 'pending', 'delivered' or 'failed'")
        return store.list_deliveries(self._db, hook_id=hook_id, state=state, limit=limit)

    def replay(self, delivery_id: int, hook_id: str | None = None) -> Delivery:
        """Send a delivery again (it is due at once, its attempts counted afresh)."""
        if hook_id is not None:
            found = self.deliveries(hook_id)
            if not any(d.id == delivery_id for d in found):
                raise errors.NotFoundError(f"Webhook '{hook_id}' has no delivery {delivery_id}")
        return store.replay(self._db, delivery_id)

    def events(self, *, after: int = 0, limit: int = 100) -> builtins.list[Event]:
        """Recorded events, oldest first."""
        return store.list_events(self._db, after=after, limit=limit)

    def counts(self) -> dict[str, int]:
        """How many deliveries there are in each state."""
        return store.count_deliveries(self._db)


#: A finding of a report: its event kind, the key that makes it one event, its data.
Finding = tuple[str, str, dict[str, object]]


def record_findings(database: Database, findings: list[Finding]) -> int:
    """Record what a report found (an over-use, a licence not compliant or expiring) as
    events, each once for as long as it stays the same; returns how many were new."""
    if not findings:
        return 0
    made = 0
    with database.begin() as db:
        for kind, once, data in findings:
            made += store.emit(db, kind, dict(data), once=once)
    return made


def _check_url(url: str) -> None:
    import httpx

    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError):
        parsed = None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.host:
        raise errors.ValidationError(f"'{url}' is not an http:// or https:// URL")


#: Called with ``delivered``, ``retrying`` or ``failed`` after each attempt.
Observer = Callable[[str], None]


class Deliverer:
    """Delivers due events; :meth:`run` loops until cancelled, :meth:`step` does one round."""

    def __init__(
        self,
        database: Database,
        settings: EventsConfig,
        *,
        observe: Observer | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self._db = database
        self._settings = settings
        self._observe = observe
        self._client = client
        self._swept = 0.0

    async def run(self) -> None:
        """Deliver until cancelled; a store fault is logged and tried again next round."""
        import httpx

        own = self._client is None
        if own:
            self._client = httpx.AsyncClient(timeout=self._settings.timeout_seconds)
        try:
            while True:
                try:
                    sent = await self.step()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    _log.warning("delivering events failed (%s); trying again", type(exc).__name__)
                    sent = 0
                if not sent:
                    await asyncio.sleep(self._settings.poll_seconds)
        finally:
            if own and self._client is not None:
                await self._client.aclose()
                self._client = None

    async def step(self) -> int:
        """One round: hand out new events, note old open journal rows, send what is due.
        Returns how many attempts were made."""
        settings = self._settings
        now = time.monotonic()
        if now - self._swept >= settings.poll_seconds * 10 or not self._swept:
            self._swept = now
            minutes = settings.open_row_minutes
            await asyncio.to_thread(store.sweep_open_rows, self._db, timedelta(minutes=minutes))
        await asyncio.to_thread(store.fan_out, self._db)
        due = await asyncio.to_thread(
            store.claim_due, self._db, limit=settings.batch, hold=settings.hold_seconds
        )
        if due:
            await asyncio.gather(*(self._send(one) for one in due))
        return len(due)

    async def _send(self, due: Due) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._settings.timeout_seconds)
        body = due.event.body()
        stamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "mailadmin-webhooks",
            "Mailadmin-Event-Id": due.event.uid,
            "Mailadmin-Event-Type": due.event.kind,
            "Mailadmin-Delivery": str(due.id),
            "Mailadmin-Attempt": str(due.attempts),
            "Mailadmin-Timestamp": str(stamp),
            "Mailadmin-Signature": sign(due.secret, stamp, body),
        }
        status: int | None = None
        error: str | None = None
        try:
            answer = await self._client.post(due.url, content=body, headers=headers)
            status = answer.status_code
            if not 200 <= status < 300:
                error = f"answered HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"not reached ({type(exc).__name__})"
        retry_in: float | None = None
        if error is not None and due.attempts < self._settings.max_attempts:
            base = self._settings.backoff_seconds
            retry_in = min(self._settings.max_backoff_seconds, base * 2 ** (due.attempts - 1))
        state = await asyncio.to_thread(
            store.settle, self._db, due.id, status=status, error=error, retry_in=retry_in
        )
        if error is not None:
            _log.info("delivery %d of %s: %s (%s)", due.id, due.event.uid, error, state)
        if self._observe is not None:
            self._observe("delivered" if error is None else state_word(state))


def state_word(state: str) -> str:
    """The outcome of an attempt that did not deliver: ``retrying`` or ``failed``."""
    return "retrying" if state == "pending" else "failed"
