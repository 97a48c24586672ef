"""Events, webhook endpoints and deliveries in the store: the outbox.

An event is a row of ``mailadmin_events`` written by :func:`emit` on the connection of the
change that caused it, inside that change's transaction: a crash either keeps both or
neither, so no event is lost and none is invented. Delivering is apart
(:mod:`mailadmin.orchestration.events`): each registered endpoint keeps a cursor (the
newest event handed to it); :func:`fan_out` turns the events past it into delivery rows,
which :func:`claim_due` hands to one process at a time and :func:`settle` ends.

This module is plain storage: what is sent, how it is signed and when it is retried belong
to the deliverer.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors

if TYPE_CHECKING:
    import sqlalchemy as sa

    from mailadmin.store.database import Database

__all__ = [
    "KINDS",
    "Delivery",
    "Due",
    "Event",
    "Webhook",
    "add_webhook",
    "claim_due",
    "count_deliveries",
    "emit",
    "fan_out",
    "get_webhook",
    "list_deliveries",
    "list_events",
    "list_webhooks",
    "remove_webhook",
    "replay",
    "settle",
    "sweep_open_rows",
]

#: Every kind of event, as a webhook endpoint subscribes to them.
KINDS = (
    "run.finished",
    "run.item_failed",
    "usage.over_use",
    "licence.non_compliant",
    "licence.expiring",
    "tenant.suspended",
    "tenant.resumed",
    "journal.open_row",
)

#: Delivery states: ``pending`` (due at ``due``), ``delivered``, ``failed`` (gave up).
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"


@dataclass(frozen=True)
class Event:
    """One recorded event: ``uid`` is its public id (``evt_...``)."""

    id: int
    uid: str
    kind: str
    at: datetime
    data: dict[str, Any]

    def body(self) -> bytes:
        """The JSON document a webhook receives (the same bytes on every attempt)."""
        document: dict[str, Any] = {"id": self.uid, "type": self.kind}
        document |= {"created": self.at.isoformat(), "data": self.data}
        return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode()


@dataclass(frozen=True)
class Webhook:
    """A registered endpoint; ``kinds`` empty: every kind."""

    id: str
    url: str
    kinds: tuple[str, ...]
    label: str
    created: datetime
    removed: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint: its state, attempts and the last answer."""

    id: int
    webhook_id: str
    event: str
    kind: str
    state: str
    attempts: int
    due: datetime
    status: int | None
    error: str | None
    delivered: datetime | None


@dataclass(frozen=True)
class Due:
    """A delivery claimed for sending: where, with which secret, what."""

    id: int
    url: str
    secret: str
    attempts: int
    event: Event


def emit(db: sa.Connection, kind: str, data: dict[str, Any], *, once: str | None = None) -> bool:
    """Record an event on ``db``, in the caller's transaction. ``once``: a key naming the
    finding (an over-use of one tenant's resource at one count); an event of that key
    already recorded is not recorded again. Returns whether it was recorded."""
    from mailadmin.store.schema import events

    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    if once is not None:
        seen = db.execute(
            events.select().with_only_columns(events.c.id).where(events.c.once == once)
        )
        if seen.first() is not None:
            return False
    db.execute(
        events.insert().values(
            uid=f"evt_{uuid.uuid4().hex}",
            kind=kind,
            at=datetime.now(UTC),
            data=json.dumps(data, default=str, sort_keys=True),
            once=once,
        )
    )
    return True


def _event(row: Any) -> Event:
    return Event(
        id=int(row["id"]),
        uid=str(row["uid"]),
        kind=str(row["kind"]),
        at=_aware(row["at"]),
        data=json.loads(row["data"]),
    )


def list_events(database: Database, *, after: int = 0, limit: int = 100) -> list[Event]:
    """Recorded events past id ``after``, oldest first."""
    from mailadmin.store.schema import events

    query = events.select().where(events.c.id > after).order_by(events.c.id).limit(limit)
    with database.connect() as db:
        return [_event(row) for row in db.execute(query).mappings()]


# -- endpoints -----------------------------------------------------------------------------------


def _webhook(row: Any) -> Webhook:
    kinds = tuple(k for k in str(row["kinds"]).split(",") if k)
    removed = _aware(row["removed"]) if row["removed"] is not None else None
    return Webhook(
        id=str(row["id"]),
        url=str(row["url"]),
        kinds=kinds,
        label=str(row["label"]),
        created=_aware(row["created"]),
        removed=removed,
    )


def add_webhook(
    database: Database, url: str, kinds: tuple[str, ...] = (), label: str = ""
) -> tuple[Webhook, str]:
    """Register an endpoint for events recorded from now on; returns it and its signing
    secret (``whsec_...``, kept: each delivery is signed with it)."""
    import sqlalchemy as sa

    from mailadmin.store.schema import events, webhooks

    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise errors.ValidationError(
            f"Unknown event kind '{unknown[0]}'; the kinds are: {', '.join(KINDS)}"
        )
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    now = datetime.now(UTC)
    hook_id = uuid.uuid4().hex[:16]
    with database.begin() as db:
        newest = db.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0
        db.execute(
            webhooks.insert().values(
                id=hook_id,
                url=url,
                secret=secret,
                kinds=",".join(sorted(set(kinds))),
                label=label,
                created=now,
                cursor=int(newest),
            )
        )
    return Webhook(hook_id, url, tuple(sorted(set(kinds))), label, now), secret


def list_webhooks(database: Database, *, removed: bool = False) -> list[Webhook]:
    """Registered endpoints, oldest first (``removed``: those removed too)."""
    from mailadmin.store.schema import webhooks

    query = webhooks.select().order_by(webhooks.c.created, webhooks.c.id)
    if not removed:
        query = query.where(webhooks.c.removed.is_(None))
    with database.connect() as db:
        return [_webhook(row) for row in db.execute(query).mappings()]


def get_webhook(database: Database, hook_id: str) -> Webhook:
    """One endpoint (removed ones too); NotFoundError when there is none."""
    from mailadmin.store.schema import webhooks

    with database.connect() as db:
        row = db.execute(webhooks.select().where(webhooks.c.id == hook_id)).mappings().first()
    if row is None:
        raise errors.NotFoundError(f"There is no webhook '{hook_id}'")
    return _webhook(row)


def remove_webhook(database: Database, hook_id: str) -> Webhook:
    """Stop delivering to an endpoint: its pending deliveries end ``failed`` (removed)."""
    from mailadmin.store.schema import deliveries, webhooks

    now = datetime.now(UTC)
    with database.begin() as db:
        done = db.execute(
            webhooks.update()
            .where(webhooks.c.id == hook_id, webhooks.c.removed.is_(None))
            .values(removed=now)
        )
        if done.rowcount:
            db.execute(
                deliveries.update()
                .where(deliveries.c.webhook_id == hook_id, deliveries.c.state == PENDING)
                .values(state=FAILED, error="the webhook was removed", updated=now)
            )
    # Removing a removed endpoint answers it as it is.
    return get_webhook(database, hook_id)


# -- delivering ----------------------------------------------------------------------------------


def fan_out(database: Database, *, batch: int = 500) -> int:
    """Turn the events recorded past each endpoint's cursor into its deliveries; returns
    how many were made. Two processes doing it at once make each delivery once: the
    cursor moves only from the value this one read."""
    from mailadmin.store.schema import deliveries, events, webhooks

    made = 0
    now = datetime.now(UTC)
    with database.connect() as db:
        hooks = db.execute(webhooks.select().where(webhooks.c.removed.is_(None))).mappings().all()
    for hook in hooks:
        cursor = int(hook["cursor"])
        kinds = {k for k in str(hook["kinds"]).split(",") if k}
        with database.begin() as db:
            found = db.execute(
                events.select()
                .with_only_columns(events.c.id, events.c.kind)
                .where(events.c.id > cursor)
                .order_by(events.c.id)
                .limit(batch)
            ).all()
            if not found:
                continue
            moved = db.execute(
                webhooks.update()
                .where(webhooks.c.id == hook["id"], webhooks.c.cursor == cursor)
                .values(cursor=int(found[-1].id))
            )
            if not moved.rowcount:
                continue  # another process fanned these out
            rows = [
                {
                    "webhook_id": hook["id"],
                    "event_id": int(event.id),
                    "state": PENDING,
                    "attempts": 0,
                    "due": now,
                    "updated": now,
                }
                for event in found
                if not kinds or event.kind in kinds
            ]
            if rows:
                db.execute(deliveries.insert(), rows)
            made += len(rows)
    return made


def claim_due(database: Database, *, limit: int, hold: float) -> list[Due]:
    """Claim up to ``limit`` deliveries that are due: each is held ``hold`` seconds for
    this process (should it die sending, another sends it once that has passed) and its
    attempt counted."""
    from mailadmin.store.schema import deliveries, events, webhooks

    now = datetime.now(UTC)
    query = (
        deliveries.select()
        .with_only_columns(
            deliveries.c.id,
            deliveries.c.due,
            deliveries.c.attempts,
            webhooks.c.url,
            webhooks.c.secret,
            *[c.label(f"event_{c.name}") for c in events.c],
        )
        .join_from(deliveries, webhooks, webhooks.c.id == deliveries.c.webhook_id)
        .join(events, events.c.id == deliveries.c.event_id)
        .where(deliveries.c.state == PENDING, deliveries.c.due <= now)
        .order_by(deliveries.c.due, deliveries.c.id)
        .limit(limit)
    )
    with database.connect() as db:
        found = db.execute(query).mappings().all()
    claimed: list[Due] = []
    for row in found:
        with database.begin() as db:
            taken = db.execute(
                deliveries.update()
                .where(
                    deliveries.c.id == row["id"],
                    deliveries.c.state == PENDING,
                    deliveries.c.attempts == row["attempts"],
                )
                .values(
                    due=now + timedelta(seconds=hold),
                    attempts=int(row["attempts"]) + 1,
                    updated=now,
                )
            )
        if taken.rowcount:
            event = _event({k.removeprefix("event_"): v for k, v in row.items()})
            claimed.append(
                Due(int(row["id"]), str(row["url"]), str(row["secret"]), row["attempts"] + 1, event)
            )
    return claimed


def settle(
    database: Database,
    delivery_id: int,
    *,
    status: int | None,
    error: str | None,
    retry_in: float | None,
) -> str:
    """Record an attempt's end: delivered (``error`` None), due again in ``retry_in``
    seconds, or failed for good (``retry_in`` None). Returns the new state."""
    from mailadmin.store.schema import deliveries

    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "error": error, "updated": now}
    if error is None:
        values |= {"state": DELIVERED, "delivered": now}
    elif retry_in is not None:
        values |= {"state": PENDING, "due": now + timedelta(seconds=retry_in)}
    else:
        values["state"] = FAILED
    with database.begin() as db:
        db.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id, deliveries.c.state == PENDING)
            .values(**values)
        )
    return str(values["state"])


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row["id"]),
        webhook_id=str(row["webhook_id"]),
        event=str(row["uid"]),
        kind=str(row["kind"]),
        state=str(row["state"]),
        attempts=int(row["attempts"]),
        due=_aware(row["due"]),
        status=row["status"],
        error=row["error"],
        delivered=_aware(row["delivered"]) if row["delivered"] is not None else None,
    )


def _deliveries_query(hook_id: str | None, state: str | None) -> Any:
    from mailadmin.store.schema import deliveries, events

    query = deliveries.select().add_columns(events.c.uid, events.c.kind)
    query = query.join_from(deliveries, events, events.c.id == deliveries.c.event_id)
    if hook_id is not None:
        query = query.where(deliveries.c.webhook_id == hook_id)
    if state is not None:
        query = query.where(deliveries.c.state == state)
    return query


def list_deliveries(
    database: Database,
    *,
    hook_id: str | None = None,
    state: str | None = None,
    limit: int = 100,
    after: int = 0,
) -> list[Delivery]:
    """Deliveries in the order they were made, past id ``after``."""
    from mailadmin.store.schema import deliveries

    query = _deliveries_query(hook_id, state).where(deliveries.c.id > after)
    query = query.order_by(deliveries.c.id).limit(limit)
    with database.connect() as db:
        return [_delivery(row) for row in db.execute(query).mappings()]


def count_deliveries(database: Database) -> dict[str, int]:
    """How many deliveries there are in each state."""
    import sqlalchemy as sa

    from mailadmin.store.schema import deliveries

    query = sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
    with database.connect() as db:
        return {str(state): int(n) for state, n in db.execute(query)}


def replay(database: Database, delivery_id: int) -> Delivery:
    """Send a delivery again, whatever its state: due now, its attempts counted afresh."""
    from mailadmin.store.schema import deliveries, webhooks

    now = datetime.now(UTC)
    with database.begin() as db:
        live = (
            webhooks.select()
            .with_only_columns(webhooks.c.id)
            .where(webhooks.c.id == deliveries.c.webhook_id, webhooks.c.removed.is_(None))
            .exists()
        )
        done = db.execute(
            deliveries.update()
            .where(deliveries.c.id == delivery_id, live)
            .values(state=PENDING, attempts=0, due=now, updated=now, delivered=None)
        )
        if not done.rowcount:
            raise errors.NotFoundError(
                f"There is no delivery {delivery_id} of a webhook still registered"
            )
        row = db.execute(_deliveries_query(None, None).where(deliveries.c.id == delivery_id))
        return _delivery(row.mappings().one())


def sweep_open_rows(database: Database, older_than: timedelta, *, limit: int = 200) -> int:
    """Record a ``journal.open_row`` event for each journal row open (started, or ended
    unknown or partial) for longer than ``older_than``: once per row."""
    import sqlalchemy as sa

    from mailadmin.store.journal import OPEN_OUTCOMES
    from mailadmin.store.schema import events, journal

    cutoff = datetime.now(UTC) - older_than
    query = (
        journal.select()
        .where(
            journal.c.dry_run == sa.false(),
            sa.or_(journal.c.status == "started", journal.c.outcome.in_(OPEN_OUTCOMES)),
            journal.c.at < cutoff,
        )
        .order_by(journal.c.id)
        .limit(limit)
    )
    made = 0
    with database.begin() as db:
        rows = db.execute(query).mappings().all()
        keys = [f"journal.open:{row['id']}" for row in rows]
        seen = set(db.execute(sa.select(events.c.once).where(events.c.once.in_(keys))).scalars())
        for key, row in zip(keys, rows, strict=True):
            if key in seen:
                continue
            data = {
                "journal_id": row["id"],
                "call_id": row["call_id"],
                "instance": row["instance"],
                "operation": row["operation"],
                "subject": row["subject"],
                "status": row["status"],
                "outcome": row["outcome"],
                "at": _aware(row["at"]).isoformat(),
                "run_id": row["run_id"],
            }
            emit(db, "journal.open_row", data, once=key)
            made += 1
    return made


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
