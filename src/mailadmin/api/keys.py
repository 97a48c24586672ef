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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from mailadmin.api.tables import API_KEYS
from mailadmin.contract import errors
from mailadmin.rules.identities import Identity, IdentityKind

if TYPE_CHECKING:
    from mailadmin.orchestration.orchestrator import Orchestrator
    from mailadmin.orchestration.storage import Database

__all__ = ["ApiKey", "ApiKeys", "NewKey"]

_PREFIX = "mak"


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

    def __init__(self, store: Database) -> None:
        self._store = store

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

    def touch(self, key_id: str) -> None:
        """Note the key was used (shown by ``mailadmin keys list``)."""
        with self._store.begin() as db:
            db.execute(
                API_KEYS.update().where(API_KEYS.c.id == key_id).values(last_used=datetime.now(UTC))
            )


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
