"""API keys: each bound to one acting identity, stored hashed, shown once, revocable.

A key reads ``mak_<id>_<secret>``. The id is public (it names the key in lists and logs);
only a SHA-256 of the whole key is stored. A slow password hash (bcrypt, argon2) protects
guessable passwords; these keys carry 256 random bits, so a fast hash is as safe and keeps
each request cheap (the practice of GitHub's and Stripe's tokens).

A key may be read-only: it may call ``GET`` and ``HEAD`` only (the admission layer,
:mod:`mailadmin.api.admission`, refuses anything else before a route runs).

Who manages which keys (:func:`reaches`): the site admin every key; a reseller the keys
acting as itself, its customers and their mailboxes; a customer admin the keys of its own
tenant and its mailboxes; a mailbox user none.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from mailadmin.api.tables import API_KEYS
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.storage import Database

__all__ = [
    "TOUCH_INTERVAL",
    "ApiKey",
    "ApiKeys",
    "NewKey",
    "check_identity",
    "check_manager",
    "out_of_reach",
    "reaches",
]

_PREFIX = "mak"
#: Seconds between two writes of a key's ``last_used``: a key in steady use is noted at
#: most this often (``last_used`` is at most this old), not committed on every request.
TOUCH_INTERVAL = 60.0


class ApiKey(BaseModel):
    """A stored key, without its secret."""

    model_config = ConfigDict(frozen=True)

    id: str
    identity: str
    label: str
    created: datetime
    last_used: datetime | None = None
    revoked: datetime | None = None
    read_only: bool = Field(
        default=False, description="The key may call GET and HEAD only (any other method is 403)"
    )

    @property
    def active(self) -> bool:
        """True until revoked."""
        return self.revoked is None


class NewKey(ApiKey):
    """A key just created: ``key`` is the secret, shown this once and never stored."""

    key: str


class ApiKeys:
    """The ``mailadmin_api_keys`` table."""

    def __init__(
        self,
        store: Database,
        *,
        touch_interval: float = TOUCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._touch_interval = touch_interval
        self._clock = clock
        #: When this process last wrote each key's ``last_used`` (by ``clock``).
        self._touched: dict[str, float] = {}
        self._touched_lock = threading.Lock()

    def create(self, identity: Identity, label: str = "", *, read_only: bool = False) -> NewKey:
        """Make a key for ``identity`` (``read_only``: it may only read); the returned
        ``key`` is the only copy of the secret."""
        key_id = secrets.token_hex(6)
        key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        with self._store.begin() as db:
            db.execute(
                API_KEYS.insert().values(
                    id=key_id,
                    hash=_digest(key),
                    identity=str(identity),
                    label=label,
                    created=now,
                    read_only=read_only,
                )
            )
        return NewKey(
            id=key_id,
            identity=str(identity),
            label=label,
            created=now,
            read_only=read_only,
            key=key,
        )

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._store.connect() as db:
            rows = db.execute(API_KEYS.select().order_by(API_KEYS.c.created)).mappings().all()
        return [_key(row) for row in rows]

    def get(self, key_id: str) -> ApiKey | None:
        """The key with this id (revoked or not), or None."""
        with self._store.connect() as db:
            row = db.execute(API_KEYS.select().where(API_KEYS.c.id == key_id)).mappings().first()
        return _key(row) if row is not None else None

    def revoke(self, key_id: str) -> ApiKey:
        """Refuse the key from now on (kept in the list, for the record)."""
        with self._store.begin() as db:
            done = db.execute(
                API_KEYS.update()
                .where(API_KEYS.c.id == key_id, API_KEYS.c.revoked.is_(None))
                .values(revoked=datetime.now(UTC))
            )
            row = db.execute(API_KEYS.select().where(API_KEYS.c.id == key_id)).mappings().first()
        if row is None:
            raise errors.NotFoundError(f"No API key '{key_id}'")
        if done.rowcount == 0 and row["revoked"] is None:  # pragma: no cover - raced
            raise errors.ConflictError(f"API key '{key_id}' could not be revoked")
        return _key(row)

    def authenticate(self, presented: str) -> ApiKey | None:
        """The active key ``presented`` is, else None (unknown, malformed or revoked)."""
        parts = presented.strip().split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX or not parts[1]:
            return None
        with self._store.connect() as db:
            row = db.execute(API_KEYS.select().where(API_KEYS.c.id == parts[1])).mappings().first()
        # Compare in constant time: the id is public, the hash must not leak by timing.
        if row is None or not hmac.compare_digest(row["hash"], _digest(presented.strip())):
            return None
        if row["revoked"] is not None:
            return None
        return _key(row)

    def touch_due(self, key_id: str) -> bool:
        """True when :meth:`touch` would write now: the key was not noted by this process
        within the touch interval. Cheap (no database), so callers skip the thread hop."""
        last = self._touched.get(key_id)
        return last is None or self._clock() - last >= self._touch_interval

    def touch(self, key_id: str) -> None:
        """Note the key was used (shown by ``mailadmin keys list``), at most once per key
        per touch interval: a request within it writes nothing."""
        with self._touched_lock:
            if not self.touch_due(key_id):
                return
            self._touched[key_id] = self._clock()
        try:
            with self._store.begin() as db:
                db.execute(
                    API_KEYS.update()
                    .where(API_KEYS.c.id == key_id)
                    .values(last_used=datetime.now(UTC))
                )
        except BaseException:
            with self._touched_lock:  # not written: the next request tries again
                self._touched.pop(key_id, None)
            raise


def check_identity(orch: Orchestrator, identity: Identity) -> None:
    """Refuse a key for an identity that names nothing known (a typo would lock out)."""
    name = identity.name or ""
    if identity.kind is IdentityKind.RESELLER:
        if orch.rules.tenancy.reseller(name) is None:
            raise errors.ValidationError(f"No reseller '{name}'; add it first")
    elif identity.kind is IdentityKind.CUSTOMER_ADMIN:
        orch.config.tenant_ref(name)
    elif identity.kind is IdentityKind.MAILBOX_USER:
        orch.config.tenant_of_address(name)


def check_manager(caller: Identity, what: str) -> None:
    """Refuse a mailbox user any key management (it administers no one)."""
    if caller.kind is IdentityKind.MAILBOX_USER:
        raise errors.PolicyDenied(f"{caller} may not {what}", reason="not_permitted")


def reaches(orch: Orchestrator, caller: Identity, identity: Identity) -> bool:
    """Whether ``caller`` may manage the keys acting as ``identity`` (the module docs).
    An identity that names nothing known is reached by the site admin only."""
    if caller.kind is IdentityKind.SITE_ADMIN:
        return True
    if caller.kind is IdentityKind.MAILBOX_USER or identity.kind is IdentityKind.SITE_ADMIN:
        return False
    if identity.kind is IdentityKind.RESELLER:
        return caller.kind is IdentityKind.RESELLER and identity.name == caller.name
    tenant = _tenant_of(orch, identity)
    if tenant is None:
        return False
    if caller.kind is IdentityKind.RESELLER:
        return orch.rules.tenancy.owner_of(tenant) == caller.name
    return tenant == _tenant_of(orch, caller)


def out_of_reach(caller: Identity, what: str) -> errors.PolicyDenied:
    """The refusal of a key ``caller`` does not reach, worded the same whether the key (or
    its identity) exists or not, so the answer never tells which do."""
    return errors.PolicyDenied(f"{caller} may not {what}", reason="cross_boundary")


def _tenant_of(orch: Orchestrator, identity: Identity) -> str | None:
    """The configured tenant a customer or mailbox identity belongs to (None: unknown)."""
    name = identity.name or ""
    try:
        if identity.kind is IdentityKind.CUSTOMER_ADMIN:
            return orch.config.tenant_ref(name).name.lower()
        if identity.kind is IdentityKind.MAILBOX_USER:
            return orch.config.tenant_of_address(name).name.lower()
    except errors.MailadminError:
        return None
    return None


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        identity=row["identity"],
        label=row["label"],
        created=_utc(row["created"]),
        last_used=_utc(row["last_used"]),
        revoked=_utc(row["revoked"]),
        read_only=bool(row["read_only"]),
    )


def _utc(value: datetime | None) -> Any:
    # SQLite hands back naive datetimes for timezone-aware columns; they were UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
