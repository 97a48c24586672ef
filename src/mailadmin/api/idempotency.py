"""``Idempotency-Key`` on writes: a repeat gets the first answer, a changed body a 409.

Keys are scoped to the API key that sent them (two panels may pick the same key). The
first request claims the key (``pending``) before any work, so a repeat arriving while
the first still runs is refused instead of sending the write twice. Answers are kept for
a configurable time, then pruned.

A claim names the process that holds it (its ``holder``). A process killed mid-request
leaves its claim pending; the next start-up settles it: the claim of a request that had
started a run gets the run's answer (:meth:`IdempotencyStore.settle_runs`); any other
claim of a process that no longer exists is released (:meth:`IdempotencyStore.release_orphans`),
so a repeat goes ahead, meets the journal's write fence (which settles the write the dead
request sent) and is answered with what the platform now holds, never sent twice. A claim
of a process on another machine is taken over only once it is stale.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from mailadmin.api.tables import IDEMPOTENCY

if TYPE_CHECKING:
    from mailadmin.orchestration.storage import Database

__all__ = ["Claim", "IdempotencyStore", "Stored", "fingerprint"]

#: A claim still pending after this long belongs to a request whose service died; the
#: next request with the key takes it over instead of being told to wait for ever.
STALE_CLAIM = timedelta(minutes=5)


@dataclass(frozen=True)
class Stored:
    """A kept answer."""

    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True)
class Claim:
    """What claiming a key found: ``new`` (go ahead), ``stored`` (replay it),
    ``mismatch`` (another body) or ``running`` (the first is still at work)."""

    state: str
    stored: Stored | None = None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same": method, path, query and the JSON body's value."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", errors="replace")
    parts = "\n".join((method.upper(), path, "&".join(sorted(query.split("&"))), canonical))
    return hashlib.sha256(parts.encode("utf-8")).hexdigest()


class IdempotencyStore:
    """The ``mailadmin_api_idempotency`` table; ``retention``: how long answers are kept;
    ``holder``: this process's name on the claims it makes (see the module docs)."""

    def __init__(self, store: Database, retention: timedelta, holder: str | None = None) -> None:
        self._store = store
        self.retention = retention
        self.holder = holder

    def claim(self, key_id: str, key: str, print_: str) -> Claim:
        """Claim ``key`` for this request, or say why not."""
        now = datetime.now(UTC)
        t = IDEMPOTENCY
        with self._store.begin() as db:
            db.execute(t.delete().where(t.c.created < now - self.retention))
            row = (
                db.execute(t.select().where(t.c.key_id == key_id, t.c.idempotency_key == key))
                .mappings()
                .first()
            )
            if row is None:
                db.execute(
                    t.insert().values(
                        key_id=key_id,
                        idempotency_key=key,
                        fingerprint=print_,
                        state="pending",
                        created=now,
                        headers=_pending_headers(self.holder),
                    )
                )
                return Claim("new")
        if row["fingerprint"] != print_:
            return Claim("mismatch")
        if row["state"] != "done":
            if _aware(row["created"]) < now - STALE_CLAIM and self._take_over(key_id, key, now):
                return Claim("new")
            return Claim("running")
        stored = Stored(
            status=int(row["status"]),
            body=str(row["body"]).encode("utf-8"),
            headers=json.loads(row["headers"] or "{}"),
        )
        return Claim("stored", stored)

    def _take_over(self, key_id: str, key: str, now: datetime) -> bool:
        t = IDEMPOTENCY
        with self._store.begin() as db:
            done = db.execute(
                t.update()
                .where(
                    t.c.key_id == key_id,
                    t.c.idempotency_key == key,
                    t.c.state == "pending",
                    t.c.created < now - STALE_CLAIM,
                )
                .values(created=now, headers=_pending_headers(self.holder))
            )
        # Two requests racing for one stale claim: only the one that moved it goes on.
        return bool(done.rowcount)

    def complete(self, key_id: str, key: str, answer: Stored) -> None:
        """Keep the answer of a claimed key."""
        t = IDEMPOTENCY
        with self._store.begin() as db:
            db.execute(
                t.update()
                .where(t.c.key_id == key_id, t.c.idempotency_key == key)
                .values(
                    state="done",
                    status=answer.status,
                    body=answer.body.decode("utf-8"),
                    headers=json.dumps(answer.headers),
                )
            )

    def attach_run(self, key_id: str, key: str, run_id: str) -> None:
        """Note on a pending claim the run its request started: the answer's ``Location``,
        known before the answer is kept, so a start-up that settles the run can keep the
        answer too (:meth:`settle_runs`)."""
        t = IDEMPOTENCY
        where = (t.c.key_id == key_id, t.c.idempotency_key == key, t.c.state == "pending")
        with self._store.begin() as db:
            found = db.execute(sa.select(t.c.headers).where(*where)).scalar()
            noted = json.loads(found or "{}")
            noted["location"] = _run_location(run_id)
            db.execute(t.update().where(*where).values(headers=json.dumps(noted)))

    def settle_runs(self, answers: Mapping[str, Stored]) -> int:
        """Keep ``answers[run_id]`` for every pending claim whose request started that
        run: the claims of requests whose service died after starting a run that this
        start-up has taken up. Returns how many were settled."""
        t = IDEMPOTENCY
        by_location = {_run_location(run_id): answer for run_id, answer in answers.items()}
        settled = 0
        with self._store.begin() as db:
            rows = db.execute(
                t.select().where(t.c.state == "pending", t.c.headers.is_not(None))
            ).mappings()
            for row in rows.all():
                location = json.loads(row["headers"] or "{}").get("location")
                answer = by_location.get(location)
                if answer is None:
                    continue
                db.execute(
                    t.update()
                    .where(
                        t.c.key_id == row["key_id"],
                        t.c.idempotency_key == row["idempotency_key"],
                        t.c.state == "pending",
                    )
                    .values(
                        state="done",
                        status=answer.status,
                        body=answer.body.decode("utf-8"),
                        headers=json.dumps(answer.headers),
                    )
                )
                settled += 1
        return settled

    def release_orphans(self, gone: Callable[[str], bool]) -> int:
        """Release every pending claim, of a request that started no run, whose holder
        ``gone(holder)`` says no longer exists (a service killed mid-write): a repeat then
        goes ahead instead of waiting for the claim to turn stale. Returns how many."""
        t = IDEMPOTENCY
        released = 0
        with self._store.begin() as db:
            rows = db.execute(
                t.select().where(t.c.state == "pending", t.c.headers.is_not(None))
            ).mappings()
            for row in rows.all():
                noted = json.loads(row["headers"] or "{}")
                holder = noted.get("holder")
                if "location" in noted or not isinstance(holder, str) or not gone(holder):
                    continue
                done = db.execute(
                    t.delete().where(
                        t.c.key_id == row["key_id"],
                        t.c.idempotency_key == row["idempotency_key"],
                        t.c.state == "pending",
                        t.c.headers == row["headers"],
                    )
                )
                released += done.rowcount
        return released

    def release(self, key_id: str, key: str) -> None:
        """Forget a claim whose request ended without an answer worth repeating (a 5xx)."""
        t = IDEMPOTENCY
        with self._store.begin() as db:
            db.execute(t.delete().where(t.c.key_id == key_id, t.c.idempotency_key == key))

    def count(self) -> int:
        """How many answers are kept (for tests and health)."""
        with self._store.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(IDEMPOTENCY)).scalar_one())


def _pending_headers(holder: str | None) -> str | None:
    # A pending claim's headers name its holder; the answer's replace them once kept.
    return json.dumps({"holder": holder}) if holder is not None else None


def _run_location(run_id: str) -> str:
    return f"/v1/runs/{run_id}"


def _aware(value: datetime) -> datetime:
    # SQLite returns the stored UTC time without its zone.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
