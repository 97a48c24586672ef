"""The versioned store: migrations on first use, in-place upgrade of an older journal."""

from __future__ import annotations

import sqlalchemy as sa

from mailadmin.store.database import VERSION_TABLE, Database


def test_first_use_creates_every_table_at_the_newest_version(store_url: str) -> None:
    store = Database(store_url)
    tables = set(sa.inspect(store.engine).get_table_names())
    assert {
        "mailadmin_journal",
        "mailadmin_allocations",
        "mailadmin_resellers",
        "mailadmin_customers",
        "mailadmin_addon_sales",
        "mailadmin_orders",
        VERSION_TABLE,
    } <= tables
    assert store.current() == Database.head()
    store.close()


def test_upgrading_twice_changes_nothing(store_url: str) -> None:
    store = Database(store_url)
    store.upgrade()
    store.upgrade()
    assert store.current() == Database.head()
    store.close()


def test_a_journal_from_before_migrations_is_adopted_with_its_rows(store_url: str) -> None:
    # What Journal created with create_all before the store was versioned.
    from mailadmin.store.journal import Journal

    old = Journal(store_url)
    with old.engine.begin() as db:
        db.execute(
            sa.text(
                "insert into mailadmin_journal (at, call_id, instance, operation, subject,"
                " arguments, dry_run, status) values (CURRENT_TIMESTAMP, 'c1', 'eu', 'set_plan',"
                " 'anna@example.com', '{}', false, 'done')"
            )
        )
    old.close()

    store = Database(store_url, upgrade=False)
    assert store.current() is None
    store.upgrade()
    assert store.current() == Database.head()
    with store.engine.connect() as db:
        rows = db.execute(sa.text("select call_id, subject from mailadmin_journal")).all()
        assert [tuple(r) for r in rows] == [("c1", "anna@example.com")]
        assert db.execute(sa.text("select count(*) from mailadmin_customers")).scalar() == 0
    store.close()

    # The journal keeps working on the upgraded database.
    again = Journal(store_url)
    assert [e.call_id for e in again.entries()] == ["c1"]
    again.close()


def test_revisions_are_listed_oldest_first() -> None:
    revisions = Database.revisions()
    assert [r for r, _ in revisions][:2] == ["0001", "0002"]
    assert revisions[-1][0] == Database.head()


def test_an_unreachable_database_is_a_safe_configuration_error(tmp_path) -> None:
    from mailadmin.contract import errors

    store = Database(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'x.sqlite'}")
    try:
        store.upgrade()
    except errors.ConfigurationError as exc:
        assert "could not be upgraded" in str(exc)
        assert "exception" in exc.debug
    else:  # pragma: no cover
        raise AssertionError("expected a ConfigurationError")
