"""The one database of mailadmin: journal, allocations, tenancy, orders and sales.

A SQLite file by default (nothing to install), any SQLAlchemy URL for larger installs
(``postgresql+psycopg://user@host/db``). The schema is versioned with Alembic: the
migrations run on first use (and by ``mailadmin store upgrade``), so an older database is
upgraded in place, never recreated. The journal table that older versions created without
migrations is adopted as it is.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mailadmin.contract import errors

if TYPE_CHECKING:
    import sqlalchemy as sa
    from alembic.config import Config as AlembicConfig

__all__ = ["VERSION_TABLE", "Database", "open_engine"]

#: Alembic's bookkeeping table, prefixed so it never meets another application's.
VERSION_TABLE = "mailadmin_alembic_version"
_MIGRATIONS = Path(__file__).with_name("migrations")
#: Alembic loads migration scripts through module-global state: one thread at a time.
_ALEMBIC = threading.Lock()
#: PostgreSQL advisory lock key held while migrating ("mailadmin" in ASCII, truncated).
_LOCK = 0x6D61696C61646D69


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) is the database being out of reach: a lost or
    refused connection, not a bad statement."""
    return errors.store_unreachable(exc)


def open_engine(url: str) -> sa.Engine:
    """An engine for ``url``, set up the way mailadmin needs it.

    An in-memory SQLite database keeps one shared connection (otherwise every thread, such
    as the blocking facade's loop, would see its own empty database); a SQLite file runs in
    WAL mode so readers never block the writer, with ``synchronous=NORMAL``: a commit is
    written to the WAL before it returns, so it survives a crash of the process (the
    journal's intent is on disk before the write is sent), but the WAL is synced to the
    disk only at checkpoints, so the last commits may be lost if the machine itself loses
    power. ``?synchronous=full`` on the URL syncs every commit (about 6 ms a commit on
    the build machine instead of 0.05 ms).
    """
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise errors.ConfigurationError(f"'{url}' is not a database URL") from None
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    synchronous = _synchronous(parsed.query.get("synchronous"), url)
    parsed = parsed.difference_update_query(["synchronous"])
    if parsed.database in (None, "", ":memory:"):
        return sa.create_engine(
            parsed, poolclass=sa.StaticPool, connect_args={"check_same_thread": False}
        )
    engine = sa.create_engine(parsed, connect_args={"check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _synchronous(given: object, url: str) -> str:
    """The SQLite ``synchronous`` level a URL asks for (``normal`` unless given)."""
    if given is None:
        return "NORMAL"
    if isinstance(given, str) and given.lower() in ("normal", "full", "extra"):
        return given.upper()
    raise errors.ConfigurationError(f"'{url}': synchronous must be 'normal', 'full' or 'extra'")


_REVISION = re.compile(r"""^(down_revision|revision)\b[^=]*=\s*(None|["']([^"']+)["'])""", re.M)


@cache
def _head_from_files() -> str | None:
    """The newest schema version, read from the migration scripts' ``revision`` and
    ``down_revision`` lines (no Alembic); ``None`` when they do not name one head."""
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        scripts = sorted((_MIGRATIONS / "versions").glob("v*.py"))
        for script in scripts:
            found: dict[str, str | None] = {
                m.group(1): m.group(3) for m in _REVISION.finditer(script.read_text())
            }
            revision, parent = found.get("revision"), found.get("down_revision")
            if revision is None:
                return None
            revisions.add(revision)
            if parent is not None:
                parents.add(parent)
    except OSError:
        return None
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


class Database:
    """The versioned store. ``Database("sqlite:///mailadmin.sqlite")`` or ``Database(engine)``.

    The schema is brought to the newest version on first use of :attr:`engine` (pass
    ``upgrade=False`` to only look, as ``mailadmin store status`` does).
    """

    def __init__(
        self,
        target: str | sa.Engine,
        *,
        upgrade: bool = True,
        lock: threading.Lock | None = None,
    ) -> None:
        #: Held around every statement: an in-memory SQLite database is one connection
        #: that the journal's worker threads share (pass the journal's lock then).
        self.lock = lock or threading.Lock()
        if isinstance(target, str):
            self._engine = open_engine(target)
            self._owned = True
        else:
            self._engine = target
            self._owned = False
        self._auto_upgrade = upgrade
        self._ready = False
        self._ready_lock = threading.Lock()
        self._found: tuple[str | None] | None = None

    @property
    def engine(self) -> sa.Engine:
        """The engine, with the schema at the newest version."""
        if self._auto_upgrade and not self._ready:
            with self._ready_lock:
                if not self._ready and not self._at_head():
                    self.upgrade()
        return self._engine

    def _at_head(self) -> bool:
        """True when the database already is at the newest version, read without Alembic:
        a CLI command that only reads paid about 70 modules of Alembic and Mako (a third of
        its start-up) for this one look-up. Anything unexpected goes the Alembic way."""
        head = _head_from_files()
        if head is None:
            return False
        import sqlalchemy as sa

        try:
            with self.lock, self._engine.connect() as connection:
                rows = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        except Exception:  # no table yet, or a database Alembic will report on
            return False
        if [tuple(row) for row in rows] != [(head,)]:
            return False
        if self._found is None:
            self._found = (head,)
        self._ready = True
        return True

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        """A connection in a transaction, committed on leaving, under :attr:`lock`."""
        engine = self.engine
        with self._serialised(engine), engine.begin() as connection:
            yield connection

    @contextmanager
    def transaction(self, connection: sa.Connection) -> Iterator[sa.Connection]:
        """A transaction on a connection the caller keeps open across transactions (the
        journal's writer: no pool check-out and return per batch), under :attr:`lock`."""
        with self._serialised(connection.engine), connection.begin():
            yield connection

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection for reading, under :attr:`lock`."""
        engine = self.engine
        with self._serialised(engine), engine.connect() as connection:
            yield connection

    def _serialised(self, engine: sa.Engine) -> AbstractContextManager[Any]:
        # SQLite needs the lock (an in-memory database is one shared connection; a file
        # has one writer). A server database gives each thread its own pooled connection:
        # holding the lock there would queue a worker's journal, rules and run writes
        # behind each other (distributed runs measured 4x slower with it).
        return self.lock if engine.dialect.name == "sqlite" else nullcontext()

    @property
    def url(self) -> str:
        """The database URL with any password hidden."""
        return self._engine.url.render_as_string(hide_password=True)

    def upgrade(self, revision: str = "head") -> None:
        """Run every migration up to ``revision`` (default: the newest)."""
        if self._found is None:
            # An unreachable database is reported, safely, by the upgrade below.
            with suppress(Exception):
                self._found = (self.current(),)
        attempts = 3
        for attempt in range(1, attempts + 1):
            try:
                self._upgrade_once(revision)
                break
            except errors.ConfigurationError:
                # Another process may have been migrating the same database at that moment
                # (SQLite has no lock to wait on before its first write): try again, and
                # give up only when the schema still is not current.
                if attempt == attempts:
                    raise
                time.sleep(0.2 * attempt)
        self._ready = True

    def _upgrade_once(self, revision: str) -> None:
        from alembic import command

        try:
            with _ALEMBIC, self.lock, self._engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    # Two processes starting at once must not both create the tables: the
                    # second waits here, then finds the schema current.
                    import sqlalchemy as sa

                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK}
                    )
                config = self._alembic(connection)
                command.upgrade(config, revision)
        except errors.MailadminError:
            raise
        except Exception as exc:
            # The driver's text can hold the URL; keep it for developers only.
            raise errors.ConfigurationError(
                f"The database at {self.url} could not be upgraded",
                debug={"exception": f"{type(exc).__name__}: {exc}"},
            ) from exc

    def found(self) -> str | None:
        """The schema version the database was at before this object first upgraded it
        (``None``: it was empty); :meth:`current` when it has not upgraded it."""
        return self._found[0] if self._found is not None else self.current()

    def current(self) -> str | None:
        """The schema version the database is at (``None``: never migrated)."""
        from alembic.runtime.migration import MigrationContext

        with self.lock, self._engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
            return context.get_current_revision()

    @staticmethod
    def head() -> str:
        """The newest schema version this mailadmin knows."""
        from alembic.script import ScriptDirectory

        with _ALEMBIC:
            head = ScriptDirectory.from_config(Database._alembic(None)).get_current_head()
        assert head is not None  # the package always ships migrations
        return head

    @staticmethod
    def revisions() -> list[tuple[str, str]]:
        """Every known schema version, oldest first, with its one-line description."""
        from alembic.script import ScriptDirectory

        with _ALEMBIC:
            scripts = ScriptDirectory.from_config(Database._alembic(None))
            found = [(s.revision, s.doc or "") for s in scripts.walk_revisions()]
        return list(reversed(found))

    def close(self) -> None:
        """Release the connections of an engine this store opened itself."""
        if self._owned:
            self._engine.dispose()

    @staticmethod
    def _alembic(connection: sa.Connection | None) -> AlembicConfig:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(_MIGRATIONS))
        config.attributes["connection"] = connection
        return config
