"""The orchestrator over the reference provider and its mock: routing, bulk, dry run, journal."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mailadmin import Orchestrator
from mailadmin.contract import errors
from mailadmin.contract.hookspecs import hookimpl
from mailadmin.contract.models import MailboxKind, NewMailbox, Outcome
from mailadmin.mock import MockServer
from mailadmin.orchestration.registry import Registry
from mailadmin.orchestration.sync import SyncOrchestrator
from mailadmin.reference.mock import MemoryMock

BASE = "http://memory.test"
PLANS = {
    "mail": {"native": "basic", "quota_mb": 2048},
    "sync": {"native": "standard", "quota_mb": 5120},
    "collaborate": {"native": "premium", "quota_mb": 10240},
}


def config(**extra: Any) -> dict[str, Any]:
    return {
        "plans": {"mail": {"rank": 1}, "sync": {"rank": 2}, "collaborate": {"rank": 3}},
        "addons": {"shared_mailbox": {}, "mailboxes": {}},
        "instances": {
            "eu": {
                "provider": "memory",
                "endpoint": BASE,
                "credentials": {"username": "admin", "secret": "secret"},
                "plans": PLANS,
                "retries": 0,
            }
        },
        "tenants": {"example.com": {"instance": "eu", "domains": ["example.com", "example.org"]}},
        "journal": {"url": "sqlite://"},
        **extra,
    }


@pytest.fixture
def server() -> MockServer:
    return MockServer(MemoryMock)


@pytest.fixture
def registry() -> Registry:
    return Registry(load=["reference"], disable=[])


@pytest.fixture
async def orch(server: MockServer, registry: Registry):
    router = server.router(BASE)
    async with Orchestrator.from_dict(
        config(), registry=registry, http={"eu": router}
    ) as orchestrator:
        orchestrator.router = router  # type: ignore[attr-defined]
        yield orchestrator


async def test_calls_are_routed_to_the_instance_that_owns_the_tenant(orch: Orchestrator) -> None:
    result = await orch.set_plan("Anna@Example.com", "sync")
    assert (result.outcome, result.before, result.after) == (Outcome.CHANGED, "mail", "sync")
    counts = await orch.count_mailboxes("example.org")  # found through the tenant's domains
    assert counts.tenant == "example.com"
    assert counts.by_plan["sync"] == 2 and counts.of(MailboxKind.SHARED) == 1


async def test_dry_run_sends_no_write(orch: Orchestrator, server: MockServer) -> None:
    router = orch.router  # type: ignore[attr-defined]
    preview = await orch.set_plan("anna@example.com", "collaborate", dry_run=True)
    addon = await orch.apply_addon("example.com", "shared_mailbox", 7, dry_run=True)
    created = await orch.create_mailbox(
        "example.com", NewMailbox(address="new@example.com", kind=MailboxKind.SHARED), dry_run=True
    )
    assert preview.dry_run and preview.outcome is Outcome.CHANGED and preview.after == "collaborate"
    assert addon.dry_run and addon.after == 7
    assert created.dry_run
    for write in ("change_plan", "set_allocation", "create_mailbox", "delete_mailbox"):
        assert router[write].call_count == 0, write
    assert router["get_mailbox"].call_count >= 1  # it did read
    assert server.writes() == []
    assert (await orch.count_mailboxes("example.com")).by_plan["mail"] == 1


async def test_a_bulk_call_with_one_failing_item_reports_it_and_does_the_rest(
    orch: Orchestrator,
) -> None:
    changes = [
        ("anna@example.com", "sync"),
        ("ghost@example.com", "sync"),
        ("carla@example.com", "mail"),
    ]
    progress: list[str] = []
    result = await orch.set_plans(changes, progress=lambda done, total, key: progress.append(key))
    assert result.failed == 1 and result.succeeded == 2
    ghost = result.items[1]
    assert ghost.key == "ghost@example.com" and ghost.error is not None
    assert ghost.error.code == "not_found"
    assert result.items[2].value is not None and result.items[2].value.after == "mail"
    assert sorted(progress) == sorted(a for a, _ in changes)
    counts = await orch.count_mailboxes("example.com")
    assert counts.by_plan == {"sync": 2, "mail": 1}


async def test_every_write_is_journalled_with_its_outcome(orch: Orchestrator) -> None:
    await orch.set_plan("anna@example.com", "sync", dry_run=True)
    await orch.set_plan("anna@example.com", "sync")
    with pytest.raises(errors.NotFoundError):
        await orch.set_plan("ghost@example.com", "sync")
    await orch.count_mailboxes("example.com")  # reads are not journalled
    assert orch.journal is not None
    entries = orch.journal.entries()
    assert [(e.subject, e.dry_run, e.status, e.outcome, e.error_code) for e in entries] == [
        ("ghost@example.com", False, "failed", "failed", "not_found"),
        ("anna@example.com", False, "done", "changed", None),
        ("anna@example.com", True, "done", "changed", None),
    ]


async def test_input_outside_the_catalogue_is_refused_before_any_call(
    orch: Orchestrator, server: MockServer
) -> None:
    with pytest.raises(errors.ValidationError, match="Unknown plan 'platinum'"):
        await orch.set_plan("anna@example.com", "platinum")
    with pytest.raises(errors.ValidationError, match="Unknown add-on 'fax'"):
        await orch.apply_addon("example.com", "fax", 1)
    with pytest.raises(errors.ValidationError, match="Unknown tenant 'elsewhere.net'"):
        await orch.set_plan("x@elsewhere.net", "mail")
    with pytest.raises(errors.ValidationError, match="not a mail address"):
        await orch.set_plan("no-at-sign", "mail")
    assert server.requests == []


def test_the_blocking_facade_serves_non_async_callers(
    server: MockServer, registry: Registry
) -> None:
    with SyncOrchestrator.from_dict(
        config(), registry=registry, http={"eu": server.transport()}
    ) as mail:
        assert mail.set_plan("ben@example.com", "collaborate").after == "collaborate"
        assert mail.count_mailboxes("example.com").by_plan["collaborate"] == 2
        bulk = mail.set_plans([("ben@example.com", "mail"), ("nobody@example.com", "mail")])
        assert [i.ok for i in bulk.items] == [True, False]
        [status] = mail.check().items
        assert status.value is not None and status.value.ok
        [licence] = mail.licences().items
        assert licence.value is not None and licence.value.seats_used == 3
        addons = mail.apply_addons([("example.com", "shared_mailbox", 3)])
        assert addons.ok and addons.items[0].value is not None and addons.items[0].value.after == 3


class _NoDowngrades:
    @hookimpl
    def mailadmin_before_call(self, call: Any, provider: Any) -> str | None:
        if call.operation == "set_plan" and call.arguments["plan"] == "mail":
            return "downgrades wait for the renewal date"
        return None


async def test_a_write_refused_by_a_policy_is_journalled_and_not_sent(
    orch: Orchestrator, server: MockServer, registry: Registry
) -> None:
    registry.register_plugin(_NoDowngrades(), "no-downgrades")
    with pytest.raises(errors.PolicyDenied, match="renewal date"):
        await orch.set_plan("ben@example.com", "mail")
    assert not server.writes()
    assert orch.journal is not None
    [entry] = orch.journal.entries()
    assert (entry.operation, entry.subject, entry.status) == (
        "set_plan",
        "ben@example.com",
        "refused",
    )
    assert entry.error_code == "policy_denied"


async def test_journal_writes_run_off_the_event_loop(
    orch: Orchestrator, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert orch.journal is not None
    loop_thread = threading.get_ident()
    threads: list[int] = []
    for name in ("intent", "sending", "success"):
        original = getattr(orch.journal, name)

        def record(*args: Any, _original: Any = original, **kwargs: Any) -> Any:
            op = _original(*args, **kwargs)

            def run(db: Any) -> None:  # the statement runs in the journal's writer thread
                threads.append(threading.get_ident())
                op(db)

            return run

        monkeypatch.setattr(orch.journal, name, record)
    await orch.set_plan("anna@example.com", "sync")
    assert len(threads) == 3 and loop_thread not in threads
    assert orch.journal.entries()[0].status == "done"
