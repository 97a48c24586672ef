"""Orders: how plan, seat and licence changes are bought (seeds 001 and 002).

An order is ``pending`` until paid or confirmed (``paid``), then ``applied``; or
``cancelled``. A plan upgrade and a seat upgrade never share an order, and while the
invoice of one upgrade of a subject is unpaid (``pending``) the next waits: seed 001 lets
the second be ordered "only after the first upgrade invoice is paid". A seat upgrade
takes the number of accounts to add and states the resulting total, as a licence upgrade
does (10 + 5 = 15, seeds 001 and 002); a change between editions (Mobile to Pro, adding
Team Pro) is its own kind of order.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from mailadmin.contract import errors

if TYPE_CHECKING:
    from mailadmin.store.database import Database

__all__ = ["UPGRADES", "Order", "OrderKind", "OrderState", "Orders"]


class OrderKind(StrEnum):
    """What an order buys."""

    PLAN_UPGRADE = "plan_upgrade"
    PLAN_DOWNGRADE = "plan_downgrade"
    SEAT_UPGRADE = "seat_upgrade"
    LICENCE_UPGRADE = "licence_upgrade"
    LICENCE_RENEWAL = "licence_renewal"
    MAINTENANCE = "maintenance"
    EDITION_CHANGE = "edition_change"


class OrderState(StrEnum):
    """Where an order is: pending until paid or confirmed, then applied."""

    PENDING = "pending"
    PAID = "paid"
    APPLIED = "applied"
    CANCELLED = "cancelled"
    #: Seed 002's ``RENEWED``: an applied licence order a later renewal extended.
    RENEWED = "renewed"


#: Kinds of which only one may be open per subject at a time (seed 001).
UPGRADES = frozenset(
    {
        OrderKind.PLAN_UPGRADE,
        OrderKind.SEAT_UPGRADE,
        OrderKind.LICENCE_UPGRADE,
        OrderKind.EDITION_CHANGE,
    }
)
_OPEN = (OrderState.PENDING.value, OrderState.PAID.value)
#: Orders whose invoice is unpaid: the only ones that hold the next upgrade back.
_UNPAID = (OrderState.PENDING.value,)


class Order(BaseModel):
    """One order of a subject (a customer, or an instance for its licence)."""

    model_config = ConfigDict(frozen=True)

    id: int
    subject: str
    kind: OrderKind
    detail: dict[str, Any]
    state: OrderState
    note: str = ""

    @property
    def label(self) -> str:
        """``plan upgrade`` for people."""
        return self.kind.value.replace("_", " ")


class Orders:
    """Orders in the store."""

    def __init__(self, store: Database) -> None:
        self._store = store

    def place(
        self, subject: str, kind: OrderKind, detail: Mapping[str, Any], *, note: str = ""
    ) -> Order:
        """Open a ``pending`` order; refused while the invoice of another upgrade of the
        subject is unpaid (a paid one no longer holds the next back, seed 001)."""
        from mailadmin.store.schema import orders

        subject = subject.strip().lower()
        self.check(subject, kind)
        now = datetime.now(UTC)
        with self._store.begin() as db:
            inserted = db.execute(
                orders.insert().values(
                    subject=subject,
                    kind=kind.value,
                    detail=json.dumps(dict(detail), sort_keys=True),
                    state=OrderState.PENDING.value,
                    note=note,
                    created=now,
                    updated=now,
                )
            )
            key = inserted.inserted_primary_key
        assert key is not None
        return self.get(int(key[0]))

    def check(self, subject: str, kind: OrderKind) -> None:
        """Refuse an upgrade while the invoice of another upgrade of the subject is unpaid."""
        if kind not in UPGRADES:
            return
        subject = subject.strip().lower()
        for other in self.unpaid(subject):
            if other.kind in UPGRADES:
                raise errors.PolicyDenied(
                    f"Order #{other.id} ({other.label}) of {subject} must be paid "
                    f"before a {kind.value.replace('_', ' ')} can be ordered",
                    reason="order_open",
                )

    def check_move(self, order_id: int, target: OrderState) -> Order:
        """The order, if it may become ``target`` (``paid`` or ``cancelled``); a dry run
        checks this and changes nothing."""
        order = self.get(order_id)
        if target is OrderState.PAID and order.state is not OrderState.PENDING:
            raise errors.PolicyDenied(
                f"Order #{order_id} is {order.state.value}, not pending",
                reason="order_state",
            )
        if target is OrderState.CANCELLED and order.state.value not in _OPEN:
            raise errors.ValidationError(f"Order #{order_id} is {order.state.value}")
        return order

    def get(self, order_id: int) -> Order:
        """One order; an unknown id is a ``ValidationError``."""
        from mailadmin.store.schema import orders

        with self._store.connect() as db:
            row = db.execute(orders.select().where(orders.c.id == order_id)).mappings().first()
        if row is None:
            raise errors.ValidationError(f"There is no order #{order_id}")
        return _order(dict(row))

    def all(self, subject: str | None = None) -> list[Order]:
        """Every order, oldest first, or those of one subject."""
        from mailadmin.store.schema import orders

        query = orders.select().order_by(orders.c.id)
        if subject is not None:
            query = query.where(orders.c.subject == subject.strip().lower())
        with self._store.connect() as db:
            return [_order(dict(r)) for r in db.execute(query).mappings().all()]

    def open(self, subject: str) -> list[Order]:
        """The subject's orders that are pending or paid."""
        return [o for o in self.all(subject) if o.state.value in _OPEN]

    def unpaid(self, subject: str) -> list[Order]:
        """The subject's orders whose invoice is not paid yet (``pending``)."""
        return [o for o in self.all(subject) if o.state.value in _UNPAID]

    def confirm(self, order_id: int) -> Order:
        """Mark a pending order paid (or confirmed)."""
        return self._move(order_id, OrderState.PENDING, OrderState.PAID)

    def applied(self, order_id: int) -> Order:
        """Mark a paid order applied."""
        return self._move(order_id, OrderState.PAID, OrderState.APPLIED)

    def cancel(self, order_id: int) -> Order:
        """Cancel an order that is not applied yet."""
        order = self.get(order_id)
        if order.state.value not in _OPEN:
            raise errors.ValidationError(f"Order #{order_id} is {order.state.value}")
        return self._set(order_id, OrderState.CANCELLED)

    def renewed(self, subject: str, renewal: Order) -> list[Order]:
        """Mark the subject's applied licence orders before ``renewal`` renewed (seed 002:
        renewing extends the present plan's lifetime)."""
        done = []
        for order in self.all(subject):
            licence = order.kind in (OrderKind.LICENCE_UPGRADE, OrderKind.LICENCE_RENEWAL)
            if licence and order.id < renewal.id and order.state is OrderState.APPLIED:
                done.append(self._set(order.id, OrderState.RENEWED))
        return done

    def _move(self, order_id: int, source: OrderState, target: OrderState) -> Order:
        order = self.get(order_id)
        if order.state is not source:
            raise errors.PolicyDenied(
                f"Order #{order_id} is {order.state.value}, not {source.value}",
                reason="order_state",
            )
        return self._set(order_id, target)

    def _set(self, order_id: int, state: OrderState) -> Order:
        from mailadmin.store.schema import orders

        with self._store.begin() as db:
            db.execute(
                orders.update()
                .where(orders.c.id == order_id)
                .values(state=state.value, updated=datetime.now(UTC))
            )
        return self.get(order_id)


def _order(row: Mapping[str, Any]) -> Order:
    return Order(
        id=row["id"],
        subject=row["subject"],
        kind=OrderKind(row["kind"]),
        detail=json.loads(row["detail"] or "{}"),
        state=OrderState(row["state"]),
        note=row["note"] or "",
    )
