"""The versioned store: migrations on first use, in-place upgrade of an older journal."""

from __future__ import annotations

import pytest
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
        "mailadmin_tenant_use",
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
    # What Journal created with create_all before the store was versioned (today's Journal
    # migrates, so the old table is made here as it was).
    from mailadmin.store.database import open_engine
    from mailadmin.store.journal import Journal

    old = open_engine(store_url)
    meta = sa.MetaData()
    sa.Table(
        "mailadmin_journal",
        meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("instance", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(512), nullable=False),
        sa.Column("arguments", sa.Text, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("before", sa.Text),
        sa.Column("after", sa.Text),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
    )
    meta.create_all(old)
    with old.begin() as db:
        db.execute(
            sa.text(
                "insert into mailadmin_journal (at, call_id, instance, operation, subject,"
                " arguments, dry_run, status) values (CURRENT_TIMESTAMP, 'c1', 'eu', 'set_plan',"
                " 'anna@example.com', '{}', false, 'done')"
            )
        )
    old.dispose()

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


def test_a_0005_store_is_upgraded_in_place_with_the_tenant_use_table(store_url: str) -> None:
    # A database at 0005 (before the kept use) with records in it, upgraded to the newest.
    store = Database(store_url, upgrade=False)
    store.upgrade("0005")
    assert store.current() == "0005"
    assert "mailadmin_tenant_use" not in sa.inspect(store.engine).get_table_names()
    with store.engine.begin() as db:
        db.execute(
            sa.text(
                "insert into mailadmin_customers (name, reseller, package, created, updated)"
                " values ('a.test', null, '{\"user_mailboxes\": 3}', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
    store.upgrade()
    assert store.current() == Database.head()
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("mailadmin_tenant_use")}
    assert columns == {"instance", "tenant", "resource", "used", "counted", "updated"}
    with store.engine.connect() as db:
        assert db.execute(sa.text("select name, package from mailadmin_customers")).all() == [
            ("a.test", '{"user_mailboxes": 3}')
        ]
        assert db.execute(sa.text("select count(*) from mailadmin_tenant_use")).scalar() == 0
    # The kept use works on the upgraded database: set, moved, never below zero.
    from mailadmin.store.use import UseTable

    use = UseTable(store)
    assert use.get("eu", "a.test") is None
    assert use.add("eu", "a.test", "user_mailboxes", 1) is False  # never counted: nothing
    use.set("eu", "A.test", {"user_mailboxes": 2, "shared_mailboxes": 0})
    assert use.add("eu", "a.test", "user_mailboxes", 1) is True
    use.add("eu", "a.test", "shared_mailboxes", -1)
    assert use.get("eu", "a.test") == {"user_mailboxes": 3, "shared_mailboxes": 0}
    use.forget("eu", "a.test")
    assert use.get("eu", "a.test") is None
    store.close()


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


async def test_the_business_rules_work_on_every_store(store_url: str) -> None:
    # The same flow on SQLite and on PostgreSQL: records, sales, oversells, orders.
    from mailadmin import Orchestrator
    from mailadmin.contract import errors
    from mailadmin.rules.tenancy import CustomerSpec, ResellerSpec, Resource

    config = {
        "instances": {"eu": {"provider": "memory", "endpoint": "http://memory.test"}},
        "tenants": {"a.test": {"instance": "eu"}, "b.test": {"instance": "eu"}},
        "journal": {"url": store_url},
    }
    orch = Orchestrator.from_dict(config)
    rules = orch.rules
    rules.tenancy.add_reseller(
        "acme", ResellerSpec(prepaid=True, may_oversell=True, package={Resource.USER_MAILBOXES: 5})
    )
    rules.tenancy.add_customer(
        "a.test", CustomerSpec(reseller="acme", package={Resource.USER_MAILBOXES: 4})
    )
    oversold = rules.tenancy.sell("customer", "a.test", "mailboxes", 3)
    assert oversold[0].children_allocation == 7
    assert rules.tenancy.allocation("customer", "a.test") == {Resource.USER_MAILBOXES: 7}
    order = rules.place_order("a.test", "plan_upgrade", {})
    with pytest.raises(errors.PolicyDenied) as caught:
        rules.place_order("a.test", "seat_upgrade", {"add": 1})
    assert caught.value.reason == "order_open"
    assert rules.orders.confirm(order.id).state.value == "paid"
    rules.tenancy.set_allow_upgrade("anna@a.test", True)
    assert rules.tenancy.allow_upgrade("anna@a.test") is True
    await orch.aclose()


def test_processes_upgrading_at_once_all_succeed(store_url: str) -> None:
    # Three processes open a new database at the same moment (three workers starting).
    import subprocess
    import sys

    code = (
        "import sys; from mailadmin.store.database import Database; Database(sys.argv[1]).upgrade()"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code, store_url], stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    store = Database(store_url, upgrade=False)
    assert store.current() == Database.head()
    store.close()


def test_a_0011_store_keeps_its_keys_and_they_may_act_after_0012(store_url: str) -> None:
    # Keys made before read-only keys existed: kept, and they may still act.
    from mailadmin.api.keys import ApiKeys

    store = Database(store_url, upgrade=False)
    store.upgrade("0011")
    columns = {c["name"] for c in sa.inspect(store.engine).get_columns("mailadmin_api_keys")}
    assert "read_only" not in columns
    with store.engine.begin() as db:
        db.execute(
            sa.text(
                "insert into mailadmin_api_keys (id, hash, identity, label, created)"
                " values ('k1', 'h', 'reseller:acme', 'old', CURRENT_TIMESTAMP)"
            )
        )
    store.upgrade()
    assert store.current() == Database.head()
    keys = ApiKeys(store)
    assert [(k.id, k.identity, k.read_only) for k in keys.list()] == [
        ("k1", "reseller:acme", False)
    ]
    from mailadmin.rules.identities import Identity

    made = keys.create(Identity.parse("reseller:acme"), "new", read_only=True)
    assert keys.get(made.id) is not None and keys.get(made.id).read_only is True  # type: ignore[union-attr]
    assert keys.authenticate(made.key) is not None
    assert keys.authenticate(made.key).read_only is True  # type: ignore[union-attr]
    store.close()
