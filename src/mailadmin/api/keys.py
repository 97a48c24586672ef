"""API keys: each bound to one acting identity, stored hashed, shown once, revocable.

A key reads ``mak_<id>_<secret>``. The id is public (it names the key in lists and logs);
only a SHA-256 of the whole key is stored. A slow password hash (bcrypt, argon2) protects
guessable passwords; these keys carry 256 random bits, so a fast hash is as safe and keeps
each request cheap (the practice of GitHub's and Stripe's tokens).
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

from pydantic import BaseModel, ConfigDict

from mailadmin.api.tables import API_KEYS
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.storage import Database

__all__ = ["TOUCH_INTERVAL", "ApiKey", "ApiKeys", "NewKey"]

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

    def create(self, identity: Identity, label: str = "") -> NewKey:
        """Make a key for ``identity``; the returned ``key`` is the only copy of the secret."""
        key_id = secrets.token_hex(6)
        key = f"{_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
        now = datetime.now(UTC)
        with self._store.begin() as db:
            db.execute(
                API_KEYS.insert().values(
                    id=key_id, hash=_digest(key), identity=str(identity), label=label, created=now
                )
            )
        return NewKey(id=key_id, identity=str(identity), label=label, created=now, key=key)

    def list(self) -> list[ApiKey]:
        """Every key, revoked ones too, oldest first."""
        with self._store.connect() as db:
            rows = db.execute(API_KEYS.select().order_by(API_KEYS.c.created)).mappings().all()
        return [_key(row) for row in rows]

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
    )


def _utc(value: datetime | None) -> Any:
    # SQLite hands back naive datetimes for timezone-aware columns; they were UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
